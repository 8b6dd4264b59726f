package text

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestVisible(t *testing.T) {
	for _, c := range []struct {
		name, s     string
		want, lines string // Visible's, VisibleLines'
	}{
		{"empty", "", "", ""},
		{"printable", "/usr/bin/tool --flag=1 ~!@#$%^&*()", "/usr/bin/tool --flag=1 ~!@#$%^&*()", ""},
		{"unicode", "héllo 世界 €", "héllo 世界 €", ""},
		{"replacement-character", "a\uFFFDb", "a\uFFFDb", ""}, // valid UTF-8: stays
		{"backslash-stays", `C:\x1b\n`, `C:\x1b\n`, ""},
		{"title-sequence", "a\x1b]0;pwned\x07b", `a\x1b]0;pwned\x07b`, ""},
		{"clear-screen", "\x1b[2J\x1b[H", `\x1b[2J\x1b[H`, ""},
		{"newline", "a\nb", `a\nb`, "a\nb"},
		{"tab", "a\tb", `a\tb`, "a\tb"},
		{"carriage-return", "ok\rno", `ok\rno`, `ok\rno`},
		{"crlf", "line\r\n", `line\r\n`, "line\\r\n"},
		{"nul", "a\x00b", `a\x00b`, ""},
		{"other-c0", "\x01\x08\x0b\x0c\x1f", `\x01\x08\x0b\x0c\x1f`, ""},
		{"del", "a\x7fb", `a\x7fb`, ""},
		{"c1-csi", "a\u009b2Jb", `a\u009b2Jb`, ""},
		{"c1-range", "\u0080\u0085\u009f", `\u0080\u0085\u009f`, ""},
		{"after-c1", "\u00a0\u00ff", "\u00a0\u00ff", ""}, // NBSP and ÿ are printable
		{"bidi-override", "if a\u202e } \u2066{b", `if a\u202e } \u2066{b`, ""},
		{"bidi-all", "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", `\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069`, ""},
		{"bidi-neighbours", "\u2029\u202f\u2065\u206a", "\u2029\u202f\u2065\u206a", ""},
		{"invalid-byte", "a\xffb", `a\xffb`, ""},
		{"raw-c1-byte", "a\x9bb", `a\x9bb`, ""}, // CSI for an 8-bit terminal
		{"cut-sequence", "a\xe2\x80", `a\xe2\x80`, ""},
		{"overlong", "\xc0\x80", `\xc0\x80`, ""},
		{"surrogate", "\xed\xa0\x80", `\xed\xa0\x80`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Visible(c.s); got != c.want {
				t.Errorf("Visible(%q) = %q, want %q", c.s, got, c.want)
			}
			lines := c.lines
			if lines == "" {
				lines = c.want
			}
			if got := VisibleLines(c.s); got != lines {
				t.Errorf("VisibleLines(%q) = %q, want %q", c.s, got, lines)
			}
		})
	}
}

// TestVisibleAllocs: the common case, nothing to escape, costs no copy.
func TestVisibleAllocs(t *testing.T) {
	for _, s := range []string{"/usr/lib/x86_64-linux-gnu/libc.so.6", "héllo 世界", "--- a\n+++ b\n@@ -1 +1 @@\n-\tx\n+\ty\n"} {
		f := Visible
		if strings.Contains(s, "\n") {
			f = VisibleLines
		}
		if n := testing.AllocsPerRun(100, func() { _ = f(s) }); n != 0 {
			t.Errorf("%q: %v allocations, want 0", s, n)
		}
	}
}

// FuzzVisible: whatever the input, the output holds no control character
// (but newlines and tabs for VisibleLines), no C1 control, no bidi
// control, no invalid UTF-8; it is unchanged by a second pass; VisibleLines
// keeps the lines; and a string with nothing to escape comes back as it is.
func FuzzVisible(f *testing.F) {
	for _, s := range []string{"", "plain", "a\x1b]0;pwned\x07b", "\x1b[2J", "x\ny\tz\r", "\u009b\u202e\u2066",
		"\xff\xfe", "\xe2\x80", `\x1b`, "é€\U0001F600", "\x7f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, lines := range []bool{false, true} {
			out := visible(s, lines)
			if !clean(out, lines) {
				t.Fatalf("visible(%q, %v) = %q: not all visible", s, lines, out)
			}
			if again := visible(out, lines); again != out {
				t.Fatalf("visible(%q, %v) = %q, and again %q", s, lines, out, again)
			}
			if lines && strings.Count(out, "\n") != strings.Count(s, "\n") {
				t.Fatalf("VisibleLines(%q) = %q: not the same lines", s, out)
			}
			if !lines && strings.Contains(out, "\n") {
				t.Fatalf("Visible(%q) = %q: more than one line", s, out)
			}
			if clean(s, lines) && out != s {
				t.Fatalf("visible(%q, %v) = %q, want it unchanged", s, lines, out)
			}
		}
	})
}

func ExampleVisible() {
	name := "/app/a\x1b]0;pwned\x07b"
	fmt.Println(Visible(name))
	fmt.Println(Visible("evil\u202e.txt\nsecond line"))
	// Output:
	// /app/a\x1b]0;pwned\x07b
	// evil\u202e.txt\nsecond line
}

func BenchmarkVisible(b *testing.B) {
	s := strings.Repeat("/usr/share/doc/libc6/changelog.Debian.gz ", 4)
	for b.Loop() {
		_ = Visible(s)
	}
}

// clean says whether s is valid UTF-8 without a control character (but
// newlines and tabs when lines), a C1 control or a bidi control.
func clean(s string, lines bool) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < ' ' && !(lines && (r == '\n' || r == '\t')) || r == 0x7f || 0x80 <= r && r <= 0x9f ||
			0x202a <= r && r <= 0x202e || 0x2066 <= r && r <= 0x2069 {
			return false
		}
	}
	return true
}

func TestTemplateFuncs(t *testing.T) {
	type verdict string
	visible := TemplateFuncs()["visible"].(func(any) string)
	lines := TemplateFuncs()["visibleLines"].(func(any) string)
	for _, c := range []struct {
		v           any
		want, lines string
	}{
		{"a\x1b\nb", `a\x1b\nb`, "a\\x1b\nb"},
		{verdict("ok\u202e"), `ok\u202e`, `ok\u202e`},
		{fmt.Errorf("e\a"), `e\x07`, `e\x07`},
		{42, "42", "42"},
	} {
		if got := visible(c.v); got != c.want {
			t.Errorf("visible(%#v) = %q, want %q", c.v, got, c.want)
		}
		if got := lines(c.v); got != c.lines {
			t.Errorf("visibleLines(%#v) = %q, want %q", c.v, got, c.lines)
		}
	}
}
