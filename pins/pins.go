// Package pins holds the downloads a rebuild may make and checks the ones
// it made. A pin is a URL and the sha256 of what it served the release; pins
// come from a lock file (reprover.lock.json, written by reprover lock) or
// from the published image's own provenance. With BuildKit's proxy network
// every download a RUN makes is captured with its digest; Check says which
// captures no pin covers, and which got other bytes than the release did.
package pins

import (
	"errors"
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
	// FromNone: the release recorded no pins, and the verification was
	// asked to go on (verify's AllowUnpinnedDownloads): every download is
	// new, and the verdict says only what the comparison found.
	FromNone = "none"
)

// Pin is one download the release made: its URL and the sha256 (hex) of
// the bytes it served.
type Pin struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size,omitempty"`
	// Redirect is the URL this one redirected to when a kit fetched it (a
	// kit's pins only: a lock file and a provenance record none). BuildKit
	// pins a redirect's source with the digest of where it led, and the
	// target under its own URL; a replay answers the source with a
	// redirect to the target when the kit holds it with the same sha256,
	// so that the captures come out as the release's did.
	Redirect string `json:"redirect,omitempty"`
}

// Capture is one request a RUN made through the proxy. The builder makes
// them from BuildKit's own record of the build (its provenance): a whole
// GET with the sha256 of its body, or a request with the reason the proxy
// has no digest of it (Incomplete); Status comes from the step's log when
// it lists the request, 0 when it does not.
type Capture struct {
	Method string `json:"method"`
	URL    string `json:"url"`
	Status int    `json:"status"`
	SHA256 string `json:"sha256,omitempty"`
	Size   int64  `json:"size,omitempty"`
	// Incomplete is why the proxy has no digest of the body, as BuildKit
	// names it (the Reason* constants); "" when it captured it whole, or
	// when the request is one BuildKit records nothing for (a redirect).
	Incomplete string `json:"incomplete,omitempty"`
	// FromKit: a replayed rebuild got these bytes from the kit, not from
	// the URL's server. In a replay no server is asked: a request the kit
	// holds no download for is answered 404 by reprover (Incomplete
	// ReasonFailed, FromKit false), and names the URL the kit lacks.
	FromKit bool `json:"fromKit,omitempty"`
}

// Why BuildKit's proxy keeps no digest of a request, as its provenance
// says (runDetails.metadata.buildkit_metadata.network.proxy.incomplete[]
// .reason). From BuildKit v0.34.2 util/network/proxyprovider/
// provider_linux.go: proxyIncompleteReason, and ServeHTTP/handleConnect
// for upstream_error.
const (
	ReasonNotGET      = "method_not_materializable" // any method but GET, whatever it answered
	ReasonPartial     = "partial_response"          // a GET with a Range header, or answered 206
	ReasonTransformed = "response_transformed"      // the body was decompressed on its way
	ReasonBodyFailed  = "body_read_failed"          // the body was cut short, or the step stopped reading
	ReasonFailed      = "unsuccessful_response"     // a GET answered 400 or more
	ReasonUpstream    = "upstream_error"            // the server was not reached: the proxy answered 502 itself
	// ReasonNoDigest is reprover's: the provenance lists the URL as a
	// material without a sha256.
	ReasonNoDigest = "no_sha256_in_provenance"
)

// reasonText says each reason in words, for errors.
var reasonText = map[string]string{
	ReasonNotGET:      "only a GET's body is captured",
	ReasonPartial:     "a range request, or a partial answer",
	ReasonTransformed: "the body was decompressed on its way",
	ReasonBodyFailed:  "the body was cut short",
	ReasonFailed:      "a failed request",
	ReasonUpstream:    "the proxy could not reach the server",
	ReasonNoDigest:    "the provenance lists it without a sha256",
}

// noContent says why a capture brought the step no content to pin ("" when
// it may have). Failed requests are the 404s package managers get when they
// probe; every other reason, and any reason a later BuildKit adds, is a
// body reprover cannot check, so it never passes.
func (c Capture) noContent() string {
	switch {
	case c.Incomplete == ReasonFailed:
		return "the server answered 400 or more"
	case c.Incomplete == ReasonUpstream:
		return "the server was not reached"
	case c.Incomplete == ReasonNotGET && c.Method == "HEAD":
		return "a HEAD has no body"
	case c.Incomplete == "" && c.SHA256 == "" && !c.answered():
		return "no body to pin (a redirect, a failed request or a HEAD)"
	}
	return ""
}

// answered: the step's log says the server sent content the step may have used.
func (c Capture) answered() bool { return c.Status >= 200 && c.Status < 300 && c.Method != "HEAD" }

// judge is the problem a capture is whatever the pins say ("" none), and
// whether its digest must match a pin.
func (c Capture) judge() (problem string, needsPin bool) {
	switch {
	case c.noContent() != "":
		return "", false
	case c.Method != "GET":
		return NotGET, false
	case c.Incomplete != "" || c.SHA256 == "":
		return Incomplete, false
	}
	return "", true
}

// Set is the pins a verification checks against, and where they came from.
type Set struct {
	Origin string // FromLock or FromProvenance
	Source string // the lock file, or the provenance's URI
	byURL  map[string]Pin
}

// NewSet indexes pins by URL. A URL pinned twice to different digests is
// an error: the release cannot have got both. So is a URL not spelled as
// BuildKit's proxy records it (a *NotCanonicalError): no capture names it.
func NewSet(origin, source string, ps []Pin) (*Set, error) {
	s := &Set{Origin: origin, Source: source, byURL: make(map[string]Pin, len(ps))}
	for _, p := range ps {
		if err := CheckCanonical(p.URL); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		if prev, ok := s.byURL[p.URL]; ok && prev.SHA256 != p.SHA256 {
			return nil, fmt.Errorf("%s: %s is pinned twice, to sha256:%s and sha256:%s", source, text.Truncate(p.URL, 256), prev.SHA256, p.SHA256)
		}
		s.byURL[p.URL] = p
	}
	return s, nil
}

// Len is the number of URLs pinned.
func (s *Set) Len() int { return len(s.byURL) }

// Pins are the set's pins, sorted by URL.
func (s *Set) Pins() []Pin {
	out := make([]Pin, 0, len(s.byURL))
	for _, p := range s.byURL {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b Pin) int { return strings.Compare(a.URL, b.URL) })
	return out
}

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
	c := p.Capture
	u := text.Truncate(c.URL, 512)
	switch p.Kind {
	case Changed:
		return fmt.Sprintf("%s %s served sha256:%s, the release got sha256:%s", c.Method, u, c.SHA256, p.Pinned)
	case Unpinned:
		return fmt.Sprintf("%s %s%s with sha256:%s, and no pin names it", c.Method, u, answer(c), c.SHA256)
	case Incomplete:
		return fmt.Sprintf("%s %s%s, but the proxy did not capture the whole body (%s), so its digest is unknown", c.Method, u, answer(c), reason(c))
	default:
		return fmt.Sprintf("%s %s%s (%s): only GETs can be pinned", c.Method, u, answer(c), reason(c))
	}
}

// answer says the status a capture got, or that the log did not say it.
func answer(c Capture) string {
	if c.Status == 0 {
		return " (status not in the step's log)"
	}
	return fmt.Sprintf(" answered %d", c.Status)
}

// reason names why a capture has no digest, in BuildKit's word and ours.
func reason(c Capture) string {
	switch {
	case c.Incomplete == "" && c.Method != "GET":
		return "it answered with content"
	case c.Incomplete == "":
		return "no digest recorded"
	case reasonText[c.Incomplete] != "":
		return c.Incomplete + ": " + reasonText[c.Incomplete]
	}
	return text.Truncate(c.Incomplete, 80) + ": a reason this reprover does not know"
}

// Checked is a capture and the pin that covers it ("" when none needs
// to: a HEAD, or a failed request such as the 404s package managers get
// when they probe).
type Checked struct {
	Capture
	PinnedBy string `json:"pinnedBy,omitempty"`
	// State is how it stands against the pins (StatePinned, StateChanged,
	// StateNew; "" for a request that needs no pin); Pinned the sha256
	// the release got, when StateChanged.
	State  State  `json:"state,omitempty"`
	Pinned string `json:"pinned,omitempty"`
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

// Check is Compare, and every download that is not as pinned (changed,
// or named by no pin) a problem too: a rebuild that must get exactly the
// release's inputs (a lock file's pins for reprover lock and twice).
func (s *Set) Check(captures []Capture) ([]Checked, error) {
	out, err := s.Compare(captures)
	var problems []Problem
	var pe *Error
	if errors.As(err, &pe) {
		problems = pe.Problems
	} else if err != nil {
		return out, err
	}
	for _, c := range out {
		switch c.State {
		case StateChanged:
			problems = append(problems, Problem{Kind: Changed, Capture: c.Capture, Pinned: c.Pinned})
		case StateNew:
			problems = append(problems, Problem{Kind: Unpinned, Capture: c.Capture})
		}
	}
	if len(problems) > 0 {
		return out, &Error{Source: s.Source, Problems: problems}
	}
	return out, nil
}

// Compare says how every capture stands against the pins (its State).
// Requests that brought no content (a 404 a package manager expects, a
// HEAD, a redirect) need no pin; one whose body the proxy did not capture
// whole, or another method than GET that may have brought content, is a
// problem whatever the pins: its bytes are unknown, so nothing compared
// after it could be trusted. It returns each capture with its state, and
// an *Error listing those problems. A changed or new download is not a
// problem here: the rebuild is still compared (docs/network.md).
func (s *Set) Compare(captures []Capture) ([]Checked, error) {
	out := make([]Checked, 0, len(captures))
	var problems []Problem
	for _, c := range captures {
		ch := Checked{Capture: c}
		switch kind, needsPin := c.judge(); {
		case kind != "":
			problems = append(problems, Problem{Kind: kind, Capture: c})
		case needsPin:
			p, ok := s.byURL[c.URL]
			switch {
			case !ok:
				ch.State = StateNew
			case p.SHA256 != c.SHA256:
				ch.State, ch.Pinned = StateChanged, p.SHA256
			default:
				ch.State, ch.PinnedBy = StatePinned, s.Origin
			}
		}
		out = append(out, ch)
	}
	if len(problems) > 0 {
		return out, &Error{Source: s.Source, Problems: problems}
	}
	return out, nil
}
