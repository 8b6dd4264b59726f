package causes

import (
	"context"
	"errors"
	"regexp"
	"strings"
)

// The regular expressions of the text check run over a text cut into
// pieces: at characters that no match can hold, and that are not word
// characters (so that \b reads the same at a cut), each piece is matched
// as it is in the whole text. Pieces of about pieceMin bytes are small
// enough for regexp's backtracker, faster than its NFA on long texts, and
// the context is checked between them. A run without such a character
// longer than maxPiece is not searched (errLongRun): regexp would take
// seconds on it, and could not be stopped.
const (
	pieceMin = 2 << 10
	maxPiece = 1 << 20
)

var errLongRun = errors.New("a run of text too long to search")

// isCut tells whether c is a character no match of timeForms, lsTime or
// uuidRe holds: not a letter, digit, '_' (a word character), nor one of
// " :-+.,"; every byte of a UTF-8 sequence is kept with its neighbours.
func isCut(c byte) bool {
	switch {
	case c >= 0x80, 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return false
	}
	return !strings.ContainsRune("_ :-+.,", rune(c))
}

// searcher runs regular expressions over pieces of texts; err is the
// first error met (ctx's, or errLongRun), after which it does nothing.
type searcher struct {
	ctx context.Context
	err error
}

// pieces calls f with each piece of s, in order.
func (s *searcher) pieces(t string, f func(string)) {
	for len(t) > 0 && s.err == nil {
		if s.err = s.ctx.Err(); s.err != nil {
			return
		}
		end := min(pieceMin, len(t))
		for end < len(t) && !isCut(t[end]) {
			if end++; end > maxPiece {
				s.err = errLongRun
				return
			}
		}
		f(t[:end])
		t = t[end:]
	}
}

// findAll is re.FindAllString(t, -1).
func (s *searcher) findAll(re *regexp.Regexp, t string) []string {
	var out []string
	s.pieces(t, func(p string) { out = append(out, re.FindAllString(p, -1)...) })
	return out
}

// replaceAll is re.ReplaceAllString(t, repl) (repl has no $).
func (s *searcher) replaceAll(re *regexp.Regexp, t, repl string) string {
	var b strings.Builder
	b.Grow(len(t))
	s.pieces(t, func(p string) { b.WriteString(re.ReplaceAllString(p, repl)) })
	return b.String()
}

// isHexID is `(?i)^[0-9a-f]{16,}$`, without a regular expression over
// what may be megabytes.
func isHexID(t string) bool {
	if len(t) < 16 {
		return false
	}
	for i := range len(t) {
		switch c := t[i]; {
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F':
		default:
			return false
		}
	}
	return true
}
