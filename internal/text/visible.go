package text

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Visible returns s as it may be printed on a terminal or a page: a string
// from an image, a provenance or a repository (a file name, a link target,
// a history entry) can hold escape sequences that clear the screen or set
// the window's title, or bidi controls that show a line in another order
// than it reads ("Trojan Source", CVE-2021-42574). Each such character is
// written as an escape instead, and s stays on one line:
//
//   - C0 controls and DEL: \n, \t, \r, else \xNN (ESC is \x1b, BEL \x07);
//   - C1 controls (U+0080–U+009F) and the bidi embeddings, overrides and
//     isolates (U+202A–U+202E, U+2066–U+2069): \uNNNN;
//   - a byte that is not part of valid UTF-8: \xNN.
//
// Backslashes are left as they are, so Visible(Visible(s)) == Visible(s),
// and a name that holds the four characters `\x1b` reads like one that
// holds ESC: the JSON report is the exact record. A string with nothing to
// escape is returned as it is, without allocating.
func Visible(s string) string { return visible(s, false) }

// VisibleLines is Visible for text of several lines, a diff: newlines
// and tabs stay as they are.
func VisibleLines(s string) string { return visible(s, true) }

// TemplateFuncs are Visible and VisibleLines for a page's templates, as
// "visible" and "visibleLines" (a template.FuncMap). They take any value
// and show it as fmt.Sprint does (a named string type, a Stringer).
func TemplateFuncs() map[string]any {
	return map[string]any{
		"visible":      func(v any) string { return Visible(sprint(v)) },
		"visibleLines": func(v any) string { return VisibleLines(sprint(v)) },
	}
}

func sprint(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

func visible(s string, lines bool) string {
	i := firstHidden(s, lines)
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	b.WriteString(s[:i])
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case shown(c, lines):
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\t':
				b.WriteString(`\t`)
			case c == '\r':
				b.WriteString(`\r`)
			default:
				writeHex(&b, `\x`, uint32(c), 2)
			}
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			writeHex(&b, `\x`, uint32(c), 2)
		case hidden(r):
			writeHex(&b, `\u`, uint32(r), 4)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// firstHidden is the index of the first byte of s that visible escapes,
// or len(s).
func firstHidden(s string, lines bool) int {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if !shown(c, lines) {
				return i
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 || hidden(r) {
			return i
		}
		i += n
	}
	return len(s)
}

// shown says whether the ASCII byte c is written as it is.
func shown(c byte, lines bool) bool {
	return ' ' <= c && c < 0x7f || lines && (c == '\n' || c == '\t')
}

// hidden says whether a rune beyond ASCII is written as an escape.
func hidden(r rune) bool {
	return 0x80 <= r && r <= 0x9f || 0x202a <= r && r <= 0x202e || 0x2066 <= r && r <= 0x2069
}

func writeHex(b *strings.Builder, prefix string, v uint32, digits int) {
	const hex = "0123456789abcdef"
	b.WriteString(prefix)
	for shift := 4 * (digits - 1); shift >= 0; shift -= 4 {
		b.WriteByte(hex[v>>uint(shift)&0xf])
	}
}
