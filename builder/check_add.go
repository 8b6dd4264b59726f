package builder

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"net/url"
	"slices"

	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/limits"
)

// checkAdd judges each ADD source.
func (c *checker) checkAdd(cmd *instructions.AddCommand, s stage, line int) error {
	checksum, err := s.args.eval(cmd.Checksum)
	if err != nil {
		return err
	}
	if len(checksum.unknown) > 0 {
		c.report(RuleAddUnresolved.Rule, line, RuleAddUnresolved.Format("--checksum="+cmd.Checksum, checksum.unknown))
		return nil
	}
	for _, src := range cmd.SourcePaths {
		v, err := s.args.eval(src)
		if err != nil {
			return err
		}
		if len(v.unknown) > 0 {
			c.report(RuleAddUnresolved.Rule, line, RuleAddUnresolved.Format(src, v.unknown))
			continue
		}
		if err := c.checkAddSource(v.v, checksum.v, line); err != nil {
			return err
		}
	}
	return nil
}

// checkAddSource judges one expanded ADD source: a git repository, a URL, or
// a path in the context.
func (c *checker) checkAddSource(src, checksum string, line int) error {
	if ref, isGit, err := dfgitutil.ParseGitRef(src); err == nil && isGit {
		if err := c.checkAddHost(src, ref.Remote, line); err != nil {
			return err
		}
		commit := ref.Ref
		if checksum != "" {
			commit = checksum
		}
		if !gitid.Valid(commit) && !gitid.Valid(ref.Checksum) {
			c.report(RuleAddGitUnpinned.Rule, line, RuleAddGitUnpinned.Format(src))
			return nil
		}
		if !gitid.Valid(commit) {
			commit = ref.Checksum
		}
		c.addDownload(Download{URL: ref.Remote, Checksum: commit})
		return nil
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return nil // a path in the context
	}
	if err := c.checkAddHost(src, src, line); err != nil {
		return err
	}
	if checksum == "" {
		c.report(RuleAddURLChecksum.Rule, line, RuleAddURLChecksum.Format(src))
		return nil
	}
	c.addDownload(Download{URL: src, Checksum: checksum})
	return nil
}

func (c *checker) addDownload(d Download) {
	if c.first("download", d.URL+"\x00"+d.Checksum) {
		c.in.Downloads = append(c.in.Downloads, d)
	}
}

// checkAddHost judges the host ADD fetches src from (remote: the URL or git
// remote in src) as a git source's is judged (hosts.JudgeSource): as
// written and by every address it resolves to, refused if local unless
// allowed by name (as written, or with its port). A name that does not
// resolve here passes: BuildKit's daemon may resolve it otherwise, and
// what it fetches is then held to the pin.
func (c *checker) checkAddHost(src, remote string, line int) error {
	hostPort := ""
	if u, err := url.Parse(remote); err == nil {
		hostPort = u.Host
	}
	_, err := hosts.JudgeSource(c.ctx, remote, hosts.SourcePolicy{Resolver: c.resolver, AllowHost: func(h string) bool {
		return slices.Contains(c.allowHosts, h) || (hostPort != "" && slices.Contains(c.allowHosts, hostPort))
	}})
	if ctxErr := c.ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if c.resolver.over > 0 {
		return &limits.Error{What: "the hosts ADD fetches from", Limit: "MaxAddHosts", Max: int64(c.resolver.lim.MaxAddHosts), Got: int64(c.resolver.over)}
	}
	if err != nil && !errors.Is(err, hosts.ErrUnresolved) {
		c.report(RuleAddPrivateHost.Rule, line, RuleAddPrivateHost.Format(src, err))
	}
	return nil
}

// addResolver looks up each host ADD names once, for every platform
// checked: a hostile Dockerfile could name thousands of hosts for Check
// to look up, each a wait on DNS, so the distinct hosts looked up are
// bounded (MaxAddHosts) and each lookup is bounded in time
// (AddLookupDeadline).
type addResolver struct {
	r       hosts.Resolver
	lim     CheckLimits
	answers map[string]lookup
	// over is the number of distinct hosts asked for, once past MaxAddHosts.
	over int
}

type lookup struct {
	addrs []netip.Addr
	err   error
}

func newAddResolver(r hosts.Resolver, lim CheckLimits) *addResolver {
	if r == nil {
		r = net.DefaultResolver
	}
	return &addResolver{r: r, lim: lim, answers: map[string]lookup{}}
}

func (a *addResolver) LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error) {
	key := network + " " + host
	if l, ok := a.answers[key]; ok {
		return l.addrs, l.err
	}
	if len(a.answers) >= a.lim.MaxAddHosts {
		a.over = len(a.answers) + 1
		return nil, errors.New("not looked up: too many hosts")
	}
	ctx, cancel := context.WithTimeout(ctx, a.lim.AddLookupDeadline)
	defer cancel()
	addrs, err := a.r.LookupNetIP(ctx, network, host)
	a.answers[key] = lookup{addrs, err}
	return addrs, err
}
