// Package gitid tells whether a string is a full git commit id, as the
// builder's pinning rules, the pipeline and the service all require.
package gitid

// Valid reports whether s is a full commit id in lower-case hex: 40
// characters (SHA-1 repositories) or 64 (SHA-256 repositories). A short or
// upper-case id, a branch or a tag is not.
func Valid(s string) bool {
	if len(s) != 40 && len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
