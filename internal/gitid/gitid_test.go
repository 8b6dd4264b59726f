package gitid

import (
	"strings"
	"testing"
)

func TestValid(t *testing.T) {
	sha1 := "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		s    string
		want bool
	}{
		{sha1, true},
		{strings.Repeat("ab", 32), true}, // SHA-256
		{"", false},
		{sha1[:12], false},
		{sha1[:39], false},
		{sha1 + "8", false},
		{strings.Repeat("a", 63), false},
		{strings.Repeat("a", 65), false},
		{strings.ToUpper(sha1), false},
		{strings.Repeat("g", 40), false},
		{"v1.2.3", false},
		{sha1[:39] + "\n", false},
		{"refs/heads/" + sha1[:29], false},
	} {
		if got := Valid(c.s); got != c.want {
			t.Errorf("Valid(%q) = %v, want %v", c.s, got, c.want)
		}
	}
}
