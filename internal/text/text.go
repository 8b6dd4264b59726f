// Package text shows untrusted strings: shortened in messages, and with the
// characters that act on a terminal or reorder a line made visible.
package text

import "unicode/utf8"

// Truncate returns s cut to at most n bytes followed by "…", or s itself
// when it fits. The cut backs off to a rune boundary so as not to split a
// UTF-8 sequence (which %q would show as \x escapes).
func Truncate(s string, n int) string {
	n = max(n, 0)
	if len(s) <= n {
		return s
	}
	cut := n
	for i := n; i > 0 && i > n-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			cut = i
			break
		}
	}
	return s[:cut] + "…"
}
