package builder

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/content/proxy"
	controlapi "github.com/moby/buildkit/api/services/control"
	"github.com/moby/buildkit/client"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprover/reprover/pins"
)

// Network modes of a rebuild's RUN steps.
const (
	NetworkNone  = "none"  // no network at all
	NetworkProxy = "proxy" // only BuildKit's capturing proxy
)

// ErrCannotProxy is returned (wrapped, naming the daemon) when a rebuild
// asks for the proxy network of a daemon that cannot give it safely.
var ErrCannotProxy = errors.New("buildkitd cannot run the proxy network")

// maxCaptures bounds the requests read from a build's logs.
const maxCaptures = 100_000

// checkCanProxy refuses a daemon whose workers use the host network: its
// proxy would reach the network from the daemon's own namespace (the
// host's loopback and internal services included).
func (c *Client) checkCanProxy(ctx context.Context) error {
	ws, err := c.c.ListWorkers(ctx)
	if err != nil {
		return fmt.Errorf("buildkit at %s: %w", c.addr, err)
	}
	for _, w := range ws {
		if mode := w.Labels["org.mobyproject.buildkit.worker.network"]; mode != "cni" {
			return fmt.Errorf("%w: buildkit at %s: worker %s has network %q, the proxy needs a bridge (CNI) network: start buildkitd with [worker.oci] networkMode = \"bridge\" and the CNI plugins (Debian: containernetworking-plugins), or let reprover start its own", ErrCannotProxy, c.addr, w.ID, mode)
		}
	}
	return nil
}

// proxyPolicy lets RUN steps (and ADD) reach only the given hosts over
// HTTP(S); any other http(s) request gets a 403 from the proxy. Other
// sources (images, the context) are not touched. The last matching rule
// wins (BuildKit's sourcepolicy engine).
func proxyPolicy(hosts []string) *spb.Policy {
	p := &spb.Policy{Version: 1, Rules: []*spb.Rule{{
		Action:   spb.PolicyAction_DENY,
		Selector: &spb.Selector{Identifier: `^https?://`, MatchType: spb.MatchType_REGEX},
	}}}
	for _, h := range hosts {
		p.Rules = append(p.Rules, &spb.Rule{
			Action:   spb.PolicyAction_ALLOW,
			Selector: &spb.Selector{Identifier: hostPattern(h), MatchType: spb.MatchType_REGEX},
		})
	}
	return p
}

// lockPolicy lets RUN steps reach any host but the loopback, private and
// link-local addresses written as literals (and numeric forms of them),
// except the hosts allowed by name: for reprover lock, the maintainer's
// own build, whose downloads become the pins. A name that resolves inside
// is not caught here; the proxy reaches out from the daemon's bridge
// namespace, never from the host's loopback.
func lockPolicy(allow []string) *spb.Policy {
	p := &spb.Policy{Version: 1, Rules: []*spb.Rule{{
		Action: spb.PolicyAction_DENY,
		Selector: &spb.Selector{MatchType: spb.MatchType_REGEX,
			Identifier: `^https?://(\[|localhost[.:/]|localhost$|127\.|10\.|192\.168\.|169\.254\.|172\.(1[6-9]|2[0-9]|3[01])\.|0\.|0x|[0-9]+([:/]|$)|[0-9]+\.[0-9]+([:/]|$)|[0-9]+\.[0-9]+\.[0-9]+([:/]|$))`},
	}}}
	for _, h := range allow {
		pat := hostPattern(h)
		if _, _, err := net.SplitHostPort(h); err != nil {
			pat = `^https?://` + quoteHost(h) + `(:[0-9]+)?([/?#]|$)` // a host named alone: any port
		}
		p.Rules = append(p.Rules, &spb.Rule{
			Action:   spb.PolicyAction_ALLOW,
			Selector: &spb.Selector{Identifier: pat, MatchType: spb.MatchType_REGEX},
		})
	}
	return p
}

// quoteHost is a host as a regexp, brackets around an IPv6 literal.
func quoteHost(host string) string {
	q := regexp.QuoteMeta(strings.Trim(host, "[]"))
	if strings.Contains(host, ":") {
		q = `\[` + q + `\]`
	}
	return q
}

// hostPattern matches the URLs of one host[:port]: the proxy names HTTPS
// requests with their port (https://host:443/…), plain HTTP without one.
func hostPattern(h string) string {
	host, port, err := net.SplitHostPort(h)
	if err != nil {
		host, port = h, ""
	}
	q := quoteHost(host)
	switch port {
	case "":
		return `^(http://` + q + `(:80)?|https://` + q + `(:443)?)([/?#]|$)`
	default:
		return `^https?://` + q + `:` + regexp.QuoteMeta(port) + `([/?#]|$)`
	}
}

// newRef is a build's history reference.
func newRef() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "reprover-" + hex.EncodeToString(b)
}

// proxyLog reads the request lists BuildKit prints at the end of each
// proxied step's stderr ("proxy network requests:" then "- GET URL -> 200").
// The step can print such lines itself, so only the last list of each step
// counts; a forged one can add requests, never hide those the proxy saw,
// which are also in the provenance.
type proxyLog struct {
	mu      sync.Mutex
	partial map[digest.Digest][]byte // a line not yet ended, per step
	lists   map[digest.Digest][]pins.Capture
	inList  map[digest.Digest]bool
	n       int
}

func newProxyLog() *proxyLog {
	return &proxyLog{partial: map[digest.Digest][]byte{}, lists: map[digest.Digest][]pins.Capture{}, inList: map[digest.Digest]bool{}}
}

var requestLine = regexp.MustCompile(`^- ([A-Z]+) (\S+)(?: -> (\d{3}))?$`)

func (l *proxyLog) add(st *client.SolveStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lg := range st.Logs {
		if lg.Stream != 2 {
			continue
		}
		buf := append(l.partial[lg.Vertex], lg.Data...)
		for {
			i := bytes.IndexByte(buf, '\n')
			if i < 0 {
				break
			}
			l.line(lg.Vertex, string(buf[:i]))
			buf = buf[i+1:]
		}
		if len(buf) > 64<<10 { // no request line is that long
			buf = nil
		}
		l.partial[lg.Vertex] = buf
	}
}

func (l *proxyLog) line(v digest.Digest, s string) {
	if s == "proxy network requests:" {
		l.n -= len(l.lists[v])
		l.lists[v], l.inList[v] = nil, true
		return
	}
	if !l.inList[v] {
		return
	}
	m := requestLine.FindStringSubmatch(s)
	if m == nil || l.n >= maxCaptures {
		l.inList[v] = false
		return
	}
	status, _ := strconv.Atoi(m[3])
	l.lists[v] = append(l.lists[v], pins.Capture{Method: m[1], URL: m[2], Status: status})
	l.n++
}

func (l *proxyLog) captures() []pins.Capture {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []pins.Capture
	for _, c := range l.lists {
		out = append(out, c...)
	}
	return out
}

// provenanceCaptures is what the build's own provenance says the proxy
// captured: the digest of every GET it relayed whole, and why others were
// not captured.
type provenanceCaptures struct {
	mode       string
	materials  map[string]string // URL → sha256 hex
	incomplete []incomplete
}

type incomplete struct{ Method, URI, Reason string }

// historyProvenance reads the SLSA v1 provenance BuildKit records in its
// build history for the solve named ref (made whatever the export).
func (c *Client) historyProvenance(ctx context.Context, ref string) (*provenanceCaptures, error) {
	cl, err := c.c.ControlClient().ListenBuildHistory(ctx, &controlapi.BuildHistoryRequest{Ref: ref, EarlyExit: true})
	if err != nil {
		return nil, err
	}
	var descs []*controlapi.Descriptor
	for {
		ev, err := cl.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if ev.Record == nil {
			continue
		}
		if r := ev.Record.Result; r != nil {
			descs = append(descs, r.Attestations...)
		}
		for _, r := range ev.Record.Results {
			descs = append(descs, r.Attestations...)
		}
	}
	out := &provenanceCaptures{materials: map[string]string{}}
	store := proxy.NewContentStore(c.c.ContentClient())
	found := false
	for _, d := range descs {
		if !strings.HasPrefix(d.Annotations["in-toto.io/predicate-type"], "https://slsa.dev/provenance/") {
			continue
		}
		if d.Size > 64<<20 {
			return nil, fmt.Errorf("build provenance of %d bytes", d.Size)
		}
		b, err := content.ReadBlob(ctx, store, ocispecs.Descriptor{Digest: digest.Digest(d.Digest), Size: d.Size, MediaType: d.MediaType})
		if err != nil {
			return nil, fmt.Errorf("reading the build's provenance: %w", err)
		}
		if err := out.read(b); err != nil {
			return nil, err
		}
		found = true
	}
	if !found {
		return nil, fmt.Errorf("buildkit at %s recorded no provenance for build %s", c.addr, ref)
	}
	return out, nil
}

func (p *provenanceCaptures) read(b []byte) error {
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
		return fmt.Errorf("the build's provenance: %w", err)
	}
	for _, d := range pred.BuildDefinition.ResolvedDependencies {
		if u, err := url.Parse(d.URI); err == nil && (u.Scheme == "http" || u.Scheme == "https") && d.Digest["sha256"] != "" {
			p.materials[d.URI] = d.Digest["sha256"]
		}
	}
	if n := pred.RunDetails.Metadata.BuildKit.Network; n != nil {
		if n.Mode != "" {
			p.mode = n.Mode
		}
		if n.Proxy != nil {
			p.incomplete = append(p.incomplete, n.Proxy.Incomplete...)
		}
	}
	return nil
}

// mergeCaptures joins the logged requests (method, URL, status) with the
// provenance (digests, and what could not be captured). A material the log
// did not list is still a download; a successful GET with no material was
// not captured whole.
func mergeCaptures(logged []pins.Capture, p *provenanceCaptures) []pins.Capture {
	seen := map[string]bool{}
	out := make([]pins.Capture, 0, len(logged))
	for _, c := range logged {
		if c.Method == "GET" && c.Status >= 200 && c.Status < 300 {
			c.SHA256 = p.materials[c.URL]
			seen[c.URL] = true
		}
		out = append(out, c)
	}
	for u, sum := range p.materials {
		if !seen[u] {
			out = append(out, pins.Capture{Method: "GET", URL: u, Status: 200, SHA256: sum})
		}
	}
	return out
}
