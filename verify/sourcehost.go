package verify

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"

	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/param"
)

// isURL: s is written as a git URL or user@host:path rather than a local
// directory (what it is allowed to be is hosts.ParseSource's to say).
func isURL(s string) bool {
	return strings.Contains(s, "://") || (strings.Contains(s, "@") && strings.Contains(s, ":") && !strings.HasPrefix(s, "/"))
}

// gitSource is a provenance configSource URI as a git URL, without the
// ref BuildKit appends (#v1.2.0); "" when it is not a git source.
func gitSource(uri string) string {
	u, _, _ := strings.Cut(uri, "#")
	if u == "" || !isURL(u) {
		return ""
	}
	return u
}

// sourceAllowed refuses a source on this machine or its networks (a local
// path, a file:// URL, a host that is or resolves to a loopback, private,
// link-local or other special address), one that does not parse, and one
// over another git transport, unless its host, or the path's directory, is
// allowed by name. A name that does not resolve here passes: the clone
// judges the source again (clonePolicy), and is pinned to what it judged.
func sourceAllowed(ctx context.Context, src string, allow []string) error {
	return judgeAhead(ctx, src, allowedByName(allow, nil))
}

// judgeAhead is sourceAllowed with the policy given; its error names the
// parameters that would allow the source.
func judgeAhead(ctx context.Context, src string, p hosts.SourcePolicy) error {
	t, err := hosts.JudgeSource(ctx, src, p)
	var local *hosts.LocalError
	switch {
	case err == nil, errors.Is(err, hosts.ErrUnresolved):
		return nil
	case t.Local() && t.Path != "":
		return param.Errorf("AllowSourceHosts", "%w: give {Source}, or {AllowSourceHosts} with its directory", err)
	case errors.As(err, &local):
		return param.Errorf("AllowSourceHosts", "%w: cloned only with {AllowSourceHosts} %s", err, local.Host)
	}
	return err
}

// allowedByName is --allow-source-host: hosts as written in the source,
// and directories a local source may be in (cleaned: ".." cannot climb
// out).
func allowedByName(allow []string, r hosts.Resolver) hosts.SourcePolicy {
	return hosts.SourcePolicy{Resolver: r,
		AllowHost: func(h string) bool { return slices.Contains(allow, h) },
		AllowPath: func(p string) bool {
			for _, a := range allow {
				if !strings.HasPrefix(a, "/") {
					continue
				}
				a = filepath.Clean(a)
				if p == a || a == "/" || strings.HasPrefix(p, a+"/") {
					return true
				}
			}
			return false
		}}
}

// anywhere is the policy for a source the caller named itself (the CLI's
// --source, Twice): every host and path, still parsed, and pinned unless
// its name does not resolve here (an ssh config alias; a name only an
// HTTP proxy resolves).
var anywhere = hosts.SourcePolicy{AllowHost: func(string) bool { return true }, AllowPath: func(string) bool { return true }, Unpinned: true}

// clonePolicy is how the clone judges its source, at the moment it clones
// (a name may resolve elsewhere than when the parameters were read): the
// service's sources.allow for every source (Options.AllowSourceHost), else
// --allow-source-host for a source only the published image names, else
// anywhere.
func clonePolicy(p *params, o Options) hosts.SourcePolicy {
	switch {
	case o.AllowSourceHost != nil:
		src := p.req.Source
		// Paths were judged by the request's checks and SourcePolicy; a
		// path does not move between then and now.
		return hosts.SourcePolicy{AllowHost: func(h string) bool { return o.AllowSourceHost(src, h) }, AllowPath: func(string) bool { return true }}
	case p.of["source"].From == FromFlag:
		return anywhere
	}
	return allowedByName(p.req.AllowSourceHosts, nil)
}

// exportSource exports the request's commit from its source, judged and
// pinned by clonePolicy.
func exportSource(ctx context.Context, p *params, o Options, dir string) (*Checkout, error) {
	return exportCommit(ctx, p.req.Source, p.req.Commit, dir, clonePolicy(p, o))
}
