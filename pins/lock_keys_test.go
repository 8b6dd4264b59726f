package pins

import (
	"strings"
	"testing"
)

// TestParseLockKeysSpelledExactly: a key Go's decoder would match to a
// field only by folding its case is refused, naming it and where it is.
func TestParseLockKeysSpelledExactly(t *testing.T) {
	sum := strings.Repeat("a", 64)
	for _, c := range []struct{ name, doc, want string }{
		{"Downloads", `{"lockVersion":1,"Downloads":[{"url":"https://a.example/x","sha256":"` + sum + `"}]}`,
			`$: key "Downloads" matches field "downloads" only in case`},
		{"LockVersion", `{"LockVersion":1,"downloads":[]}`, `$: key "LockVersion"`},
		{"SHA256 in a download", `{"lockVersion":1,"downloads":[{"url":"https://a.example/x","SHA256":"` + sum + `"}]}`,
			`$.downloads[0]: key "SHA256" matches field "sha256"`},
		{"long s", `{"lockVersion":1,"downloads":[{"url":"https://a.example/x","ſha256":"` + sum + `"}]}`, `key "ſha256"`},
		{"unknown key", `{"lockVersion":1,"downloads":[],"mirror":"x"}`, `$: unknown field "mirror"`},
	} {
		_, err := ParseLock([]byte(c.doc), "reprover.lock.json", Limits{})
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "reprover.lock.json: ") {
			t.Errorf("%s: err %v, want one naming the file and saying %q", c.name, err, c.want)
		}
	}
}
