package pins

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// TestStates: how each download of a rebuild stands against the release's
// pins, the pins no download fetched, and the one line that says it.
// Compare refuses only what has unknown bytes; Check, every difference.
func TestStates(t *testing.T) {
	sum := func(c byte) string { return strings.Repeat(string(c), 64) }
	const (
		index  = "http://deb.example/debian/dists/bookworm/main/binary-amd64/Packages.gz"
		deb    = "http://deb.example/debian/pool/main/j/jq/jq_1.6-2.1+deb12u3_amd64.deb"
		newDeb = "http://deb.example/debian/pool/main/j/jq/jq_1.6-2.1+deb12u4_amd64.deb"
		gone   = "http://deb.example/debian/pool/main/o/old/old_1_amd64.deb"
	)
	set, err := NewSet(FromProvenance, "the provenance", []Pin{{URL: index, SHA256: sum('a')}, {URL: deb, SHA256: sum('b')}, {URL: gone, SHA256: sum('c')}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		captures []Capture
		states   []State
		missing  []string
		line     string
		problems []string // Compare's
	}{
		{name: "as released", captures: []Capture{{Method: "GET", URL: index, Status: 200, SHA256: sum('a')}, {Method: "GET", URL: deb, Status: 200, SHA256: sum('b')}, {Method: "GET", URL: gone, Status: 200, SHA256: sum('c')}},
			states: []State{StatePinned, StatePinned, StatePinned}, line: "3 of 3 downloads as released"},
		{name: "the index moved", captures: []Capture{{Method: "GET", URL: index, Status: 200, SHA256: sum('x')}, {Method: "GET", URL: deb, Status: 200, SHA256: sum('b')}, {Method: "GET", URL: gone, Status: 200, SHA256: sum('c')}},
			states: []State{StateChanged, StatePinned, StatePinned}, line: "2 of 3 downloads as released; Packages.gz changed"},
		{name: "a new version", captures: []Capture{{Method: "GET", URL: index, Status: 200, SHA256: sum('x')}, {Method: "GET", URL: newDeb, Status: 200, SHA256: sum('y')}, {Method: "HEAD", URL: index, Status: 200}, {Method: "GET", URL: gone + ".sig", Status: 404, Incomplete: ReasonFailed}},
			states: []State{StateChanged, StateNew, "", ""}, missing: []string{deb, gone},
			line: "0 of 3 downloads as released; Packages.gz changed; jq_1.6-2.1+deb12u4_amd64.deb new; jq_1.6-2.1+deb12u3_amd64.deb, old_1_amd64.deb missing"},
		{name: "unknown bytes are a problem whatever the pins", captures: []Capture{{Method: "GET", URL: deb, Status: 206, Incomplete: ReasonPartial}, {Method: "POST", URL: index, Status: 200, Incomplete: ReasonNotGET}},
			states: []State{"", ""}, missing: []string{index, deb, gone}, line: "0 of 3 downloads as released; Packages.gz, jq_1.6-2.1+deb12u3_amd64.deb, old_1_amd64.deb missing",
			problems: []string{Incomplete, NotGET}},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := set.Compare(c.captures)
			var got []State
			for _, o := range out {
				got = append(got, o.State)
			}
			if !slices.Equal(got, c.states) {
				t.Errorf("states %q, want %q", got, c.states)
			}
			var pe *Error
			var kinds []string
			if errors.As(err, &pe) {
				for _, p := range pe.Problems {
					kinds = append(kinds, p.Kind)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(kinds, c.problems) {
				t.Errorf("Compare's problems %q, want %q", kinds, c.problems)
			}
			var missing []string
			for _, p := range set.Missing(out) {
				missing = append(missing, p.URL)
			}
			if !slices.Equal(missing, c.missing) {
				t.Errorf("missing %q, want %q", missing, c.missing)
			}
			s := Summarize(out, set.Missing(out))
			if s.String() != c.line {
				t.Errorf("summary %q, want %q", s.String(), c.line)
			}
			if s.AsReleased() != (c.line == "3 of 3 downloads as released") {
				t.Errorf("AsReleased %v", s.AsReleased())
			}
			// Check refuses every difference Compare lets through.
			if _, err := set.Check(c.captures); (err == nil) != (c.line == "3 of 3 downloads as released") {
				t.Errorf("Check: %v", err)
			}
		})
	}
}
