package builder

import (
	"path"
	"regexp"
	"slices"
	"strings"

	spb "github.com/moby/buildkit/sourcepolicy/pb"
	"github.com/moby/buildkit/util/gitutil"
)

// Allowed is what a rebuild may fetch: the inputs Check found pinned
// (AllowedOf). Build turns it into a BuildKit source policy, so that a
// source Check did not see — a FROM it read otherwise than BuildKit does,
// an ONBUILD trigger of a base image, an image a frontend pulls — fails
// the build, naming the source, instead of entering the rebuild unpinned.
type Allowed struct {
	// Images are the digests (sha256:…) an image source may name: the
	// bases and the pinned frontend.
	Images []string
	// Git are the git remotes ADD may clone, as BuildKit names them
	// (host/path): Check has judged each one pinned to a commit.
	Git []string
	// URLs are the http(s) URLs ADD may fetch (each with its checksum).
	// With the proxy network the policy's hosts for the proxy also apply.
	URLs []string
}

// AllowedOf is what the inputs Check found allow a rebuild to fetch.
func AllowedOf(in *Inputs) *Allowed {
	a := &Allowed{}
	for _, b := range in.Bases {
		a.Images = appendNew(a.Images, b.Digest)
	}
	if i := strings.LastIndex(in.Frontend, "@"); i >= 0 && digestRe.MatchString(in.Frontend) {
		a.Images = appendNew(a.Images, in.Frontend[i+1:])
	}
	for _, d := range in.Downloads {
		if strings.HasPrefix(d.URL, "http://") || strings.HasPrefix(d.URL, "https://") {
			if id, ok := gitID(d.URL); ok && !strings.HasPrefix(d.Checksum, "sha256:") {
				a.Git = appendNew(a.Git, id)
				continue
			}
			a.URLs = appendNew(a.URLs, d.URL)
			continue
		}
		if id, ok := gitID(d.URL); ok {
			a.Git = appendNew(a.Git, id)
		}
	}
	return a
}

func appendNew(ss []string, s string) []string {
	if s == "" || slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// gitID is a git remote as BuildKit's llb.Git names its source
// ("git://" + host + path), without the fragment.
func gitID(remote string) (string, bool) {
	u, err := gitutil.ParseURL(remote)
	if err != nil {
		return "", false
	}
	return u.Host + path.Join("/", u.Path), true
}

// rules are the policy's rules, in BuildKit's order (the last rule that
// matches a source decides): every image, git and http(s) source denied,
// then each allowed one allowed. network's rules (the proxy's hosts) come
// after and replace the http(s) ones when the proxy is on.
func (a *Allowed) rules(proxied bool) []*spb.Rule {
	deny := func(re string) *spb.Rule {
		return &spb.Rule{Action: spb.PolicyAction_DENY, Selector: &spb.Selector{Identifier: re, MatchType: spb.MatchType_REGEX}}
	}
	allow := func(re string) *spb.Rule {
		return &spb.Rule{Action: spb.PolicyAction_ALLOW, Selector: &spb.Selector{Identifier: re, MatchType: spb.MatchType_REGEX}}
	}
	rs := []*spb.Rule{deny(`^docker-image://`), deny(`^oci-layout://`), deny(`^git://`)}
	for _, d := range a.Images {
		rs = append(rs, allow(`^docker-image://[^@]+@`+regexp.QuoteMeta(d)+`$`))
	}
	for _, g := range a.Git {
		rs = append(rs, allow(`^git://`+regexp.QuoteMeta(g)+`(#.*)?$`))
	}
	if !proxied {
		rs = append(rs, deny(`^https?://`))
		for _, u := range a.URLs {
			rs = append(rs, allow(`^`+regexp.QuoteMeta(u)+`$`))
		}
	}
	return rs
}

// policy is the source policy of a rebuild: what a allows, then net's
// rules (the proxy's), nil when neither says anything.
func policy(a *Allowed, net *spb.Policy) *spb.Policy {
	if a == nil {
		return net
	}
	p := &spb.Policy{Version: 1, Rules: a.rules(net != nil)}
	if net != nil {
		p.Rules = append(p.Rules, net.Rules...)
	}
	return p
}
