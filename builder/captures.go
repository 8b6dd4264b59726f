package builder

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/pins"
)

// ErrUnrecorded is returned (wrapped, naming the request) when the step
// log lists a proxied request that the build's provenance does not record.
var ErrUnrecorded = errors.New("a proxied request is missing from the build's provenance")

// maxCaptures bounds the requests read from a build's provenance and from
// its step logs.
const maxCaptures = 100_000

// What BuildKit v0.34.2 records of a proxied request, read in its source:
//
//   - util/network/proxyprovider/provider_linux.go (proxyHandler): every
//     request the policy lets through is recorded with its method, URL and
//     status (recordRequest). When the response has been relayed,
//     recordResponse keeps the sha256 of the body as a material if the
//     request is a GET answered 2xx with no Range header, no 206, no
//     decompression and no read or write error; otherwise, for any status
//     but a GET's 1xx and 3xx, it keeps an incomplete marker (method, URL,
//     reason: proxyIncompleteReason). A request the server could not be
//     asked is marked upstream_error (the proxy answers 502 itself). A
//     request the policy denies is recorded nowhere (it never left).
//   - util/network/proxy.go (ProxyCapture.Materials): a redirect's source
//     URL becomes a material too, with the digest of where it led.
//   - solver/llbsolver/provenance.go and provenance/predicate.go: materials
//     become SLSA v1 buildDefinition.resolvedDependencies {uri, digest:
//     {sha256}} (deduplicated by URL: the first digest wins), markers
//     runDetails.metadata.buildkit_metadata.network.proxy.incomplete[]
//     {op, name, method, uri, reason}, and network.mode is "proxy".
//   - solver/llbsolver/ops/exec.go (logProxyRequests): the same requests,
//     with their statuses, are printed at the end of the step's stderr:
//     free text, read only as a cross-check (see proxyLog).
//
// So the provenance, which the step cannot write, is where captures come
// from; the log adds statuses and the redirects BuildKit keeps nowhere
// else, and a request it lists that the provenance lacks is an error.

// provenanceCaptures is what the build's own provenance says the proxy
// captured: the digest of every GET it relayed whole, and why others were
// not captured.
type provenanceCaptures struct {
	mode       string
	materials  map[string][]string // URL → each sha256 hex it is listed with; "" when none
	incomplete []incomplete
	n          int // materials and markers read, over every document
}

// incomplete is one marker of network.proxy.incomplete.
type incomplete struct {
	Op     string `json:"op"`
	Name   string `json:"name"` // the step's command
	Method string `json:"method"`
	URI    string `json:"uri"`
	Reason string `json:"reason"`
}

func newProvenanceCaptures() *provenanceCaptures {
	return &provenanceCaptures{materials: map[string][]string{}}
}

// read adds one SLSA v1 provenance predicate (BuildKit's, from the build
// history; name says which in errors). Markers missing a method or URL are
// an error, never skipped.
func (p *provenanceCaptures) read(b []byte, name string) error {
	var pred struct {
		BuildDefinition struct {
			ResolvedDependencies []struct {
				URI    string            `json:"uri"`
				Digest map[string]string `json:"digest"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Metadata struct {
				BuildKit struct {
					Network *struct {
						Mode  string `json:"mode"`
						Proxy *struct {
							Incomplete []incomplete `json:"incomplete"`
						} `json:"proxy"`
					} `json:"network"`
				} `json:"buildkit_metadata"`
			} `json:"metadata"`
		} `json:"runDetails"`
	}
	if err := json.Unmarshal(b, &pred); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	deps := pred.BuildDefinition.ResolvedDependencies
	for i, d := range deps {
		u, err := url.Parse(d.URI)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue // an image (pkg:docker/…), the context
		}
		sum, ok := d.Digest["sha256"]
		switch {
		case !ok && d.Digest["sha1"] != "":
			continue // a git source (https://….git#ref), not a download
		case ok && !isHex64(sum):
			return fmt.Errorf("%s: resolvedDependencies[%d] %s: sha256 %q is not 64 lower-case hex digits", name, i, text.Truncate(d.URI, 256), text.Truncate(sum, 80))
		}
		// One document lists a URL once (the first digest BuildKit saw,
		// provenance.Capture.AddHTTP); the documents of several platforms
		// may each list it with another.
		if !slices.Contains(p.materials[d.URI], sum) {
			p.materials[d.URI] = append(p.materials[d.URI], sum)
		}
	}
	var marks []incomplete
	if n := pred.RunDetails.Metadata.BuildKit.Network; n != nil {
		if n.Mode != "" {
			p.mode = n.Mode
		}
		if n.Proxy != nil {
			marks = n.Proxy.Incomplete
		}
	}
	for i, in := range marks {
		if in.Method == "" || in.URI == "" {
			return fmt.Errorf("%s: network.proxy.incomplete[%d] (%s %s) lacks its method or URL", name, i, text.Truncate(in.Method, 32), text.Truncate(in.URI, 256))
		}
		if in.Reason == "" {
			in.Reason = "unspecified"
		}
		p.incomplete = append(p.incomplete, in)
	}
	p.n += len(deps) + len(marks)
	if p.n > maxCaptures {
		return fmt.Errorf("%s: %w", name, &limits.Error{What: "materials and incomplete markers", Limit: "maxCaptures", Max: maxCaptures, Got: int64(p.n)})
	}
	return nil
}

func isHex64(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// request is one line of a step's "proxy network requests:" list.
type request struct {
	Method, URL string
	Status      int // 0 when BuildKit printed none
}

// mergeCaptures makes the captures of a build: one per material of its
// provenance (with its digest) and per incomplete marker (with its reason),
// each with the status the step log gives it. A logged request the
// provenance lacks is an error, but for a GET answered 3xx (a redirect,
// a 304), of which BuildKit keeps no record but the log. A GET answered
// 1xx is also kept nowhere else, and a 101 relays whatever the server
// sends: an error.
func mergeCaptures(logged []request, p *provenanceCaptures) ([]pins.Capture, error) {
	var out []pins.Capture
	urls := make([]string, 0, len(p.materials))
	for u := range p.materials {
		urls = append(urls, u)
	}
	slices.Sort(urls)
	for _, u := range urls {
		for _, sum := range p.materials[u] {
			c := pins.Capture{Method: "GET", URL: u, SHA256: sum}
			if sum == "" {
				c.Incomplete = pins.ReasonNoDigest
			}
			out = append(out, c)
		}
	}
	seen := map[incomplete]bool{}
	for _, in := range p.incomplete {
		k := incomplete{Method: in.Method, URI: in.URI, Reason: in.Reason}
		if seen[k] {
			continue
		}
		seen[k] = true
		c := pins.Capture{Method: in.Method, URL: in.URI, Incomplete: in.Reason}
		if in.Reason == pins.ReasonUpstream {
			c.Status = 502 // the proxy's own answer (proxyHandler.ServeHTTP)
		}
		out = append(out, c)
	}
	byRequest := map[[2]string][]int{} // method and URL → indexes in out
	for i, c := range out {
		k := [2]string{c.Method, c.URL}
		byRequest[k] = append(byRequest[k], i)
	}
	for _, l := range logged {
		// The same URL can be a material and a marker (fetched whole, then
		// by a range): a status goes to a capture that has none yet.
		found := -1
		for _, i := range byRequest[[2]string{l.Method, l.URL}] {
			if statusFits(out[i], l.Status) && (found < 0 || out[found].Status != 0 && out[i].Status == 0) {
				found = i
			}
		}
		switch {
		case found >= 0:
			if out[found].Status == 0 {
				out[found].Status = l.Status
			}
		case l.Method == "GET" && l.Status >= 300 && l.Status < 400:
			out = append(out, pins.Capture{Method: l.Method, URL: l.URL, Status: l.Status})
			byRequest[[2]string{l.Method, l.URL}] = append(byRequest[[2]string{l.Method, l.URL}], len(out)-1)
		default:
			return nil, fmt.Errorf("%w: the step log lists %s %s -> %d, and the provenance records neither its digest nor why it has none", ErrUnrecorded, text.Truncate(l.Method, 32), text.Truncate(l.URL, 512), l.Status)
		}
	}
	for i := range out {
		if out[i].Status == 0 && out[i].SHA256 != "" {
			out[i].Status = 200 // a material is a 2xx (recordResponse); the log lost it
		}
	}
	slices.SortStableFunc(out, func(a, b pins.Capture) int {
		return cmp.Or(strings.Compare(a.URL, b.URL), strings.Compare(a.Method, b.Method))
	})
	return out, nil
}

// statusFits: a logged status can be the one of a capture. A material is
// a 2xx but 206, or a 3xx for a redirect's source; a failed GET is 400 or more;
// the proxy answers 502 when it cannot reach the server; other reasons
// (a Range header, a body cut short, another method) go with any status.
func statusFits(c pins.Capture, status int) bool {
	switch {
	case c.SHA256 != "":
		return status >= 200 && status < 400 && status != 206
	case c.Incomplete == pins.ReasonFailed:
		return status >= 400
	case c.Incomplete == pins.ReasonUpstream:
		return status == 502
	}
	return true
}
