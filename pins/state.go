package pins

import (
	"cmp"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/reprover/reprover/internal/text"
)

// State is how a download of a rebuild stands against the release's pins:
// the one model of a download's state that verify, twice and the report
// share (and, later, a kit that serves the release's bytes).
type State string

// The states.
const (
	StatePinned  State = "pinned"  // a pin names its URL, and it served the pinned bytes
	StateChanged State = "changed" // a pin names its URL, and it served other bytes
	StateNew     State = "new"     // no pin names its URL
	StateMissing State = "missing" // a pin names it, and the rebuild did not fetch it
)

// Missing are the pins no capture fetched whole: inputs of the release the
// rebuild did not ask for (a package no longer needed, an index now at
// another URL).
func (s *Set) Missing(checked []Checked) []Pin {
	fetched := map[string]bool{}
	for _, c := range checked {
		if c.State != "" {
			fetched[c.URL] = true
		}
	}
	var out []Pin
	for u, p := range s.byURL {
		if !fetched[u] {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Pin) int { return cmp.Compare(a.URL, b.URL) })
	return out
}

// Summary counts a rebuild's downloads by state, and says in one line how
// its inputs stand ("11 of 12 downloads as released; Packages.gz changed").
type Summary struct {
	Pinned  int      `json:"pinned"`
	Changed []string `json:"changed,omitempty"` // URLs
	New     []string `json:"new,omitempty"`
	Missing []string `json:"missing,omitempty"`
}

// Summarize counts checked downloads and missing pins.
func Summarize(checked []Checked, missing []Pin) Summary {
	var s Summary
	for _, c := range checked {
		switch c.State {
		case StatePinned:
			s.Pinned++
		case StateChanged:
			s.Changed = append(s.Changed, c.URL)
		case StateNew:
			s.New = append(s.New, c.URL)
		}
	}
	for _, p := range missing {
		s.Missing = append(s.Missing, p.URL)
	}
	return s
}

// AsReleased says whether every download was pinned and every pin fetched.
func (s Summary) AsReleased() bool {
	return len(s.Changed) == 0 && len(s.New) == 0 && len(s.Missing) == 0
}

// String is the summary in one line, naming at most three files of each
// kind by the last element of their URL.
func (s Summary) String() string {
	total := s.Pinned + len(s.Changed) + len(s.Missing)
	line := fmt.Sprintf("%d of %d downloads as released", s.Pinned, total)
	for _, k := range []struct {
		what string
		urls []string
	}{{"changed", s.Changed}, {"new", s.New}, {"missing", s.Missing}} {
		if len(k.urls) == 0 {
			continue
		}
		var names []string
		for i, u := range k.urls {
			if i == 3 {
				names = append(names, fmt.Sprintf("and %d more", len(k.urls)-i))
				break
			}
			names = append(names, text.Truncate(baseOf(u), 80))
		}
		line += "; " + strings.Join(names, ", ") + " " + k.what
	}
	return line
}

// baseOf is the last element of a URL's path ("Packages.gz"), or the URL.
func baseOf(u string) string {
	u, _, _ = strings.Cut(u, "?")
	if b := path.Base(u); b != "" && b != "/" && b != "." {
		return b
	}
	return u
}
