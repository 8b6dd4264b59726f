package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/kit"
)

// SourceKit is the Request.Source that takes the commit's tree from the
// release's kit (Request.Kit), whatever the published image names: a
// directory named kit is ./kit.
const SourceKit = "kit"

// refusedSource is a source only the published image names that the
// source policy refuses (params.checkSource): the kit's source may stand
// in for it.
type refusedSource struct{ err error }

func (e *refusedSource) Error() string { return e.err.Error() }
func (e *refusedSource) Unwrap() error { return e.err }

// exportOrKit exports the commit's tree, from the source or from the
// release's kit, and opens the kit once for the source and the downloads
// (plan.kit: planBuild takes it). resolved is resolveParams' error.
//
// The kit's source is used when the request asks for it ({Source} kit),
// and when the source is only the published image's and it is refused or
// cannot be cloned: a host gone, or out of reach of an air-gapped
// verifier. The kit holds the commit's git objects; git computes their ids
// in a new repository (kit.Kit.ImportSource), so the tree exported is the
// commit's whoever made the kit, and the commit must be the one the
// provenance or {Commit} names: a kit cannot choose the source.
func exportOrKit(ctx context.Context, p *params, resolved error, o Options, pub *image.Resolved, scratch string) (*Checkout, *kit.Kit, error) {
	var refused *refusedSource
	if resolved != nil && !errors.As(resolved, &refused) {
		return nil, nil, resolved
	}
	k, err := openKit(ctx, p.req, o, pub)
	if err != nil && cmp.Or(p.req.Kit, kit.Auto) == kit.Auto && ctx.Err() == nil {
		// A kit nobody named that cannot be read is no kit: the
		// verification goes on as without one, and says why.
		p.hints = append(p.hints, "The image's kit was not used: "+text.Truncate(err.Error(), 512))
		k, err = nil, nil
	}
	if err != nil {
		if resolved != nil {
			return nil, nil, resolved
		}
		return nil, nil, err
	}
	explicit := p.req.Source == SourceKit && p.of["source"].From == FromFlag
	cause := resolved
	if !explicit && cause == nil {
		co, err := exportSource(ctx, p, o, scratch)
		if err == nil {
			return co, k, nil
		}
		cause = err
		if ctx.Err() != nil || p.of["source"].From == FromFlag {
			closeKit(k)
			return nil, nil, err
		}
	}
	if k == nil || k.Config.Source == nil {
		closeKit(k)
		switch {
		case explicit && k == nil:
			return nil, nil, param.Errorf("Source", "{Source} %s: no kit: the image has none where {Kit} looked (%s); name one with {Kit}", SourceKit, cmp.Or(p.req.Kit, kit.Auto))
		case explicit:
			return nil, nil, param.Errorf("Source", "{Source} %s: the kit %s holds no source", SourceKit, k.Digest())
		}
		return nil, nil, cause
	}
	co, err := fromKit(ctx, k, p.req.Commit, o, scratch)
	if err != nil {
		closeKit(k)
		if cause != nil {
			return nil, nil, fmt.Errorf("%w; and the kit cannot stand in for it: %w", cause, err)
		}
		return nil, nil, err
	}
	if explicit {
		p.hints = dropHint(p.hints, "The source given ("+SourceKit+")")
		p.hints = append(p.hints, fmt.Sprintf("The commit's tree came from the kit %s: git computed its objects' ids, and they are commit %s.", k.Digest(), co.Commit))
	} else {
		p.hints = append(p.hints, fmt.Sprintf("The source %s could not be used (%s): the commit's tree came from the kit %s instead; git computed its objects' ids, and they are commit %s.",
			p.req.Source, text.Truncate(param.Say(cause, o.Words), 512), k.Digest(), co.Commit))
	}
	return co, k, nil
}

// fromKit exports commit from the kit's git objects: imported into a new
// bare repository in scratch, then exported as any source is (its parents
// are not there; nothing reads them).
func fromKit(ctx context.Context, k *kit.Kit, commit string, o Options, scratch string) (*Checkout, error) {
	if got := k.Config.Source.Commit; got != commit {
		return nil, fmt.Errorf("%w: kit %s holds the source at commit %s, and the release's is %s", ErrKit, k.Digest(), got, commit)
	}
	repo := filepath.Join(scratch, ".kit-source")
	defer os.RemoveAll(repo)
	if _, err := k.ImportSource(ctx, repo, o.Inputs.Kit); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKit, err)
	}
	co, err := exportCommit(ctx, repo, commit, scratch, anywhere)
	if err != nil {
		return nil, fmt.Errorf("kit %s: %w", k.Digest(), err)
	}
	co.Kit = k.Digest().String()
	return co, nil
}

// sourceFromKit says in the kit's use that it gave the source too.
func (p *plan) sourceFromKit(co *Checkout) {
	if co.Kit != "" && p.build.Kit != nil {
		p.build.Kit.Source = true
	}
}

func closeKit(k *kit.Kit) {
	if k != nil {
		k.Close()
	}
}

func dropHint(hints []string, prefix string) []string {
	out := hints[:0]
	for _, h := range hints {
		if !strings.HasPrefix(h, prefix) {
			out = append(out, h)
		}
	}
	return out
}
