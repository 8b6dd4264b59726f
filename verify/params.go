package verify

import (
	"context"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/provenance"
)

// Where a parameter of the rebuild came from.
const (
	FromFlag       = "flag"       // the request (a flag, or the service's request)
	FromProvenance = "provenance" // the published image's provenance
	FromLabel      = "label"      // the published config's OCI labels
	FromDefault    = "default"
)

// Parameter is one parameter of the rebuild and where it came from.
type Parameter struct {
	Value string `json:"value"`
	From  string `json:"from"`
}

// Labels the published config may name its source with.
const (
	labelSource   = "org.opencontainers.image.source"
	labelRevision = "org.opencontainers.image.revision"
)

// params is the request completed from the published image.
type params struct {
	req  Request
	of   map[string]Parameter
	prov *provenance.Build // nil: the image has none
	// argsUnknown: the provenance (mode=min) does not record build args
	// and the request gave none.
	argsUnknown bool
	// attrs are the provenance's other frontend attributes a rebuild
	// passes (builder.Params); ignored the keys it does without.
	attrs            map[string]string
	ignored, notable []string // notable: not builder.Param.Routine
	// frontend is the frontend image that built the release, by its
	// provenance ("" when BuildKit's built-in one, or unknown).
	frontend string
	hints    []string
	words    func(string) string // Options.Words
}

// judgeProvenance sorts the provenance's request by builder.Params: what
// the rebuild passes, what it ignores, and an error for what it refuses.
// The publisher wrote it: it may narrow the rebuild, never widen it.
func judgeProvenance(b *provenance.Build) (*builder.Judged, error) {
	if b == nil {
		return &builder.Judged{}, nil
	}
	j, err := builder.JudgeAttrs(b.Args, FromProvenance)
	if err != nil {
		return nil, err
	}
	if len(b.Inputs) > 0 {
		p := builder.Lookup("input:" + b.Inputs[0])
		return nil, &builder.ParamError{Key: "input:" + b.Inputs[0], From: FromProvenance, Reason: p.Why}
	}
	// The rebuild mounts no secret and forwards no SSH agent: a step
	// that requires one fails, naming its line.
	for _, id := range b.Secrets {
		j.Ignored, j.Notable = append(j.Ignored, "secret:"+id), append(j.Notable, "secret:"+id)
	}
	for _, id := range b.SSH {
		j.Ignored, j.Notable = append(j.Ignored, "ssh:"+id), append(j.Notable, "ssh:"+id)
	}
	return j, nil
}

// releaseFrontend is the frontend image the release's request was
// forwarded to ("" for BuildKit's built-in Dockerfile frontend): BuildKit
// records a request forwarded by # syntax= or BUILDKIT_SYNTAX as one to
// gateway.v0 with that image as its source.
func releaseFrontend(b *provenance.Build) string {
	if b == nil || b.Frontend != "gateway.v0" {
		return ""
	}
	return builder.SyntaxImage(b.Args["source"])
}

// sameFrontend: two names of a frontend image are the same image (equal,
// or pinned to the same digest).
func sameFrontend(a, b string) bool {
	if a == b {
		return true
	}
	_, da, okA := strings.Cut(a, "@")
	_, db, okB := strings.Cut(b, "@")
	return okA && okB && da == db
}

// resolveParams completes the request from the published image: flags
// first, then its provenance (BuildKit SLSA v1 or v0.2, min or max), then
// its OCI labels. A flag that contradicts the provenance is a hint. A
// source that only the image names, on a loopback, private or link-local
// host or a local path, is refused unless allowed by name: otherwise an
// image could make the verifier clone an internal repository and publish
// its files' diffs in a report. With no published image (pub nil: Twice),
// the parameters are the flags' and the defaults.
func resolveParams(ctx context.Context, req Request, pub *image.Resolved, o Options) (*params, error) {
	p := &params{req: req, of: map[string]Parameter{}, words: o.Words}
	labels := p.readPublished(ctx, pub, o.Image.Limits)
	p.pickLocation(labels)
	judged, err := judgeProvenance(p.prov)
	if err != nil {
		return p, err
	}
	if err := p.pickBuild(judged); err != nil {
		return p, err
	}
	if p.req.Source == "" {
		return p, param.Errorf("Source", "%w: the source: the published image's provenance and labels do not name it; give {Source}", ErrMissingParameter)
	}
	if p.req.Commit == "" {
		return p, param.Errorf("Commit", "%w: the commit: the published image's provenance and labels do not name it; give {Commit}", ErrMissingParameter)
	}
	return p, p.checkSource(ctx, o)
}

// readPublished reads the published image's provenance (the first
// statement about an image being verified) and returns its labels.
func (p *params) readPublished(ctx context.Context, pub *image.Resolved, lim image.Limits) map[string]string {
	if pub == nil {
		return nil
	}
	builds, unread, err := releaseProvenance(ctx, pub, lim)
	if err != nil {
		p.hints = append(p.hints, "The published image's provenance could not be read: "+err.Error())
	}
	for _, e := range unread {
		p.hints = append(p.hints, "Provenance "+e.Error())
	}
	if len(builds) > 0 {
		p.prov = builds[0]
	}
	if len(pub.Images) > 0 && pub.Images[0].Config != nil {
		return pub.Images[0].Config.Config.Labels
	}
	return nil
}

// candidate is a value for a parameter and where it came from.
type candidate struct{ value, from string }

// pick sets a parameter: the request's value (a provenance candidate that
// differs is a hint), else the first candidate that has one.
func (p *params) pick(name, flag string, cands ...candidate) string {
	if flag != "" {
		p.of[name] = Parameter{flag, FromFlag}
		for _, c := range cands {
			if c.from == FromProvenance && c.value != "" && c.value != flag {
				p.hints = append(p.hints, fmt.Sprintf("The %s given (%s) is not the one the published provenance records (%s).", name, flag, c.value))
			}
		}
		return flag
	}
	for _, c := range cands {
		if c.value != "" {
			p.of[name] = Parameter{c.value, c.from}
			return c.value
		}
	}
	return ""
}

// fromProv is a candidate read from the provenance, if there is one.
func (p *params) fromProv(f func(*provenance.Build) string) candidate {
	if p.prov == nil {
		return candidate{"", FromProvenance}
	}
	return candidate{f(p.prov), FromProvenance}
}

// pickLocation settles where the build is: source, commit, context and
// Dockerfile.
func (p *params) pickLocation(labels map[string]string) {
	r, req := &p.req, p.req
	r.Source = p.pick("source", req.Source,
		p.fromProv(func(b *provenance.Build) string { return gitSource(b.ConfigSourceURI) }),
		p.fromProv(func(b *provenance.Build) string { return b.VCS["source"] }),
		candidate{labels[labelSource], FromLabel})
	r.Commit = p.pick("commit", req.Commit,
		p.fromProv(func(b *provenance.Build) string { return b.Commit }),
		p.fromProv(func(b *provenance.Build) string { return b.VCS["revision"] }),
		candidate{labels[labelRevision], FromLabel})
	r.Context = p.pick("context", req.Context,
		p.fromProv(func(b *provenance.Build) string { return b.VCS["localdir:context"] }),
		candidate{".", FromDefault})
	r.Dockerfile = p.pick("dockerfile", req.Dockerfile,
		p.fromProv(dockerfileOf),
		candidate{path.Join(r.Context, "Dockerfile"), FromDefault})
}

// pickBuild settles what is built: target, SOURCE_DATE_EPOCH, build args
// and the other frontend attributes, from the request, else the judged
// provenance. A provenance's BUILDKIT_SYNTAX is refused where its build
// args would be used (no build args given, no bake file to give them).
func (p *params) pickBuild(judged *builder.Judged) error {
	r, req := &p.req, p.req
	r.Target = p.pick("target", req.Target, candidate{judged.Target, FromProvenance})
	sde := req.SourceDateEpoch
	if sde == "auto" {
		sde = ""
	}
	r.SourceDateEpoch = p.pick("sourceDateEpoch", sde,
		p.fromProv(func(b *provenance.Build) string { return b.BuildArgs()["SOURCE_DATE_EPOCH"] }),
		candidate{"auto", FromDefault})
	if len(req.BuildArgs) == 0 && p.prov != nil {
		args := judged.BuildArgs
		delete(args, "SOURCE_DATE_EPOCH") // a rebuild sets it itself
		if v, ok := args[builder.ArgSyntax]; ok && req.Bake == "" {
			return &builder.ParamError{Key: "build-arg:" + builder.ArgSyntax, Value: v, From: FromProvenance,
				Reason: "the release was built by this frontend, which the commit does not name; the rebuild uses it only when it is given as a build argument (pinned by digest)"}
		}
		if len(args) > 0 {
			r.BuildArgs = args
		}
		p.argsUnknown = !p.prov.Max
	}
	p.attrs, p.ignored, p.notable, p.frontend = judged.Attrs, judged.Ignored, judged.Notable, releaseFrontend(p.prov)
	from := FromProvenance
	if len(req.BuildArgs) > 0 {
		from = FromFlag
	}
	for _, k := range slices.Sorted(maps.Keys(r.BuildArgs)) {
		p.of["buildArgs."+k] = Parameter{r.BuildArgs[k], from}
	}
	return nil
}

// checkSource judges a source that only the published image names
// (Options.SourcePolicy, else sourceAllowed).
func (p *params) checkSource(ctx context.Context, o Options) error {
	from := p.of["source"].From
	if from == FromFlag {
		return nil
	}
	check := func(src string) error { return sourceAllowed(ctx, src, p.req.AllowSourceHosts) }
	if o.SourcePolicy != nil {
		check = o.SourcePolicy
	}
	if err := check(p.req.Source); err != nil {
		return &refusedSource{fmt.Errorf("the source %s, named by the published image's %s: %w", p.req.Source, from, err)}
	}
	return nil
}

// releaseProvenance reads the published image's provenance statements
// about the images being verified: a statement counts only when its own
// subjects name one of them (the index's annotation is not proof, and a
// statement copied from another image names that image). One the index
// says is about a platform left out is skipped; one that cannot be read,
// or is about another image, is in unread, naming its digest.
func releaseProvenance(ctx context.Context, pub *image.Resolved, lim image.Limits) (builds []*provenance.Build, unread []error, err error) {
	stmts, err := pub.Statements(ctx, lim, provenance.SLSAv1, provenance.SLSAv02)
	var about []string
	for _, img := range pub.Images {
		about = append(about, img.Descriptor.Digest.String())
	}
	for _, st := range stmts {
		if st.For.Hex != "" && !slices.Contains(about, st.For.String()) {
			continue
		}
		b, rerr := provenance.ReadFor(st.Raw, about...)
		if rerr != nil {
			unread = append(unread, fmt.Errorf("%s@%s is unreadable: %w", pub.Ref.Name, st.Manifest, rerr))
			continue
		}
		builds = append(builds, b)
	}
	return builds, unread, err
}

// dockerfileOf is the Dockerfile's path in the source: the dockerfile
// local directory buildx records, joined with the configSource path.
func dockerfileOf(b *provenance.Build) string {
	if b.DockerfilePath == "" {
		return ""
	}
	return path.Join(b.VCS["localdir:dockerfile"], b.DockerfilePath)
}
