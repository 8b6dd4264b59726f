package text

import "testing"

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"abcd", 0, "…"},
		{"abcd", -1, "…"},
		{"héllo", 2, "h…"},  // é is 2 bytes: not split
		{"héllo", 3, "hé…"}, // cut just after é
		{"a€b", 2, "a…"},    // € is 3 bytes
		{"a€b", 3, "a…"},
		{"a€b", 4, "a€…"},
		{"€€", 3, "€…"},
		{"a\xff\xffb", 2, "a\xff…"}, // invalid bytes are cut as bytes
		{"\x80\x80\x80\x80\x80\x80", 5, "\x80\x80\x80\x80\x80…"},
	} {
		if got := Truncate(c.s, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
