// Package pins holds the downloads a rebuild may make and checks the ones
// it made. A pin is a URL and the sha256 of what it served the release; pins
// come from a lock file (reprover.lock.json, written by reprover lock) or
// from the published image's own provenance. With BuildKit's proxy network
// every download a RUN makes is captured with its digest; Check says which
// captures no pin covers, and which got other bytes than the release did.
package pins

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/reprover/reprover/internal/text"
)

// Where pins come from.
const (
	FromLock       = "lock"       // a lock file
	FromProvenance = "provenance" // the published image's provenance materials
	FromChecksum   = "checksum"   // an ADD --checksum of the Dockerfile
)

// Pin is one download the release made: its URL and the sha256 (hex) of
// the bytes it served.
type Pin struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size,omitempty"`
}

// Capture is one request a RUN made through the proxy, as BuildKit logged
// it. SHA256 is empty when the body was not captured whole.
type Capture struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Status int    `json:"status"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// answered: the server sent content the step may have used.
func (c Capture) answered() bool { return c.Status >= 200 && c.Status < 300 && c.Method != "HEAD" }

// Set is the pins a verification checks against, and where they came from.
type Set struct {
	Origin string // FromLock or FromProvenance
	Source string // the lock file, or the provenance's URI
	byURL  map[string]Pin
}

// NewSet indexes pins by URL. A URL pinned twice to different digests is
// an error: the release cannot have got both.
func NewSet(origin, source string, ps []Pin) (*Set, error) {
	s := &Set{Origin: origin, Source: source, byURL: make(map[string]Pin, len(ps))}
	for _, p := range ps {
		if prev, ok := s.byURL[p.URL]; ok && prev.SHA256 != p.SHA256 {
			return nil, fmt.Errorf("%s: %s is pinned twice, to sha256:%s and sha256:%s", source, text.Truncate(p.URL, 256), prev.SHA256, p.SHA256)
		}
		s.byURL[p.URL] = p
	}
	return s, nil
}

// Len is the number of URLs pinned.
func (s *Set) Len() int { return len(s.byURL) }

// Hosts lists the hosts the pins name (host[:port] as in the URLs), sorted:
// the only hosts the proxy lets a RUN reach.
func (s *Set) Hosts() []string {
	var out []string
	for u := range s.byURL {
		if pu, err := url.Parse(u); err == nil && pu.Host != "" && !slices.Contains(out, pu.Host) {
			out = append(out, pu.Host)
		}
	}
	slices.Sort(out)
	return out
}

// Problem kinds.
const (
	Unpinned   = "unpinned"   // a URL no pin names answered with content
	Changed    = "changed"    // the content's digest is not the pinned one
	Incomplete = "incomplete" // a download the proxy could not capture whole
	NotGET     = "not-get"    // a request other than GET answered with content
)

// Problem is one capture that breaks the pins.
type Problem struct {
	Kind    string  `json:"kind"`
	Capture Capture `json:"capture"`
	Pinned  string  `json:"pinned,omitempty"` // the pinned sha256, for Changed
}

func (p Problem) String() string {
	u := text.Truncate(p.Capture.URL, 512)
	switch p.Kind {
	case Changed:
		return fmt.Sprintf("%s %s served sha256:%s, the release got sha256:%s", p.Capture.Method, u, p.Capture.SHA256, p.Pinned)
	case Unpinned:
		return fmt.Sprintf("%s %s answered %d with sha256:%s, and no pin names it", p.Capture.Method, u, p.Capture.Status, p.Capture.SHA256)
	case Incomplete:
		return fmt.Sprintf("%s %s answered %d, but the proxy did not capture the whole body, so its digest is unknown", p.Capture.Method, u, p.Capture.Status)
	default:
		return fmt.Sprintf("%s %s answered %d with content: only GETs can be pinned", p.Capture.Method, u, p.Capture.Status)
	}
}

// Checked is a capture and the pin that covers it ("" when none needs
// to: a HEAD, or a failed request such as the 404s package managers get
// when they probe).
type Checked struct {
	Capture
	PinnedBy string `json:"pinnedBy,omitempty"`
}

// Error is a rebuild whose downloads broke the pins: it did not get the
// release's inputs.
type Error struct {
	Source   string // where the pins came from
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d download(s) of the rebuild do not match the pins of %s: ", len(e.Problems), e.Source)
	for i, p := range e.Problems {
		if i == 10 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Check compares every capture with the pins. Requests that failed (a 404
// a package manager expects) and HEADs need no pin. It returns each
// capture with what pinned it, and an *Error listing every problem.
func (s *Set) Check(captures []Capture) ([]Checked, error) {
	out := make([]Checked, 0, len(captures))
	var problems []Problem
	for _, c := range captures {
		ch := Checked{Capture: c}
		switch {
		case !c.answered():
		case c.Method != "GET":
			problems = append(problems, Problem{Kind: NotGET, Capture: c})
		case c.SHA256 == "":
			problems = append(problems, Problem{Kind: Incomplete, Capture: c})
		default:
			p, ok := s.byURL[c.URL]
			switch {
			case !ok:
				problems = append(problems, Problem{Kind: Unpinned, Capture: c})
			case p.SHA256 != c.SHA256:
				problems = append(problems, Problem{Kind: Changed, Capture: c, Pinned: p.SHA256})
			default:
				ch.PinnedBy = s.Origin
			}
		}
		out = append(out, ch)
	}
	if len(problems) > 0 {
		return out, &Error{Source: s.Source, Problems: problems}
	}
	return out, nil
}
