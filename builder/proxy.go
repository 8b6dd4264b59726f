package builder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/content/proxy"
	controlapi "github.com/moby/buildkit/api/services/control"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	digest "github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprover/reprover/internal/limits"
)

// Network modes of a rebuild's RUN steps.
const (
	NetworkNone  = "none"  // no network at all
	NetworkProxy = "proxy" // only BuildKit's capturing proxy
)

// ErrCannotProxy is returned (wrapped, naming the daemon) when a rebuild
// asks for the proxy network of a daemon that cannot give it safely.
var ErrCannotProxy = errors.New("buildkitd cannot run the proxy network")

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

// maxProvenanceBytes bounds one provenance document read from the daemon.
const maxProvenanceBytes = 64 << 20

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
	out := newProvenanceCaptures()
	store := proxy.NewContentStore(c.c.ContentClient())
	found := false
	for _, d := range descs {
		// The history's own provenance is SLSA v1, mode=max, a bare
		// predicate (solver/llbsolver/history.go, makeProvenance).
		if d.Annotations["in-toto.io/predicate-type"] != "https://slsa.dev/provenance/v1" {
			continue
		}
		if d.Size > maxProvenanceBytes {
			return nil, &limits.Error{What: "provenance " + d.Digest + " of build " + ref, Limit: "maxProvenanceBytes", Max: maxProvenanceBytes, Got: d.Size}
		}
		b, err := content.ReadBlob(ctx, store, ocispecs.Descriptor{Digest: digest.Digest(d.Digest), Size: d.Size, MediaType: d.MediaType})
		if err != nil {
			return nil, fmt.Errorf("reading the build's provenance: %w", err)
		}
		if err := out.read(b, "provenance "+d.Digest+" of build "+ref); err != nil {
			return nil, err
		}
		found = true
	}
	if !found {
		return nil, fmt.Errorf("buildkit at %s recorded no provenance for build %s", c.addr, ref)
	}
	return out, nil
}
