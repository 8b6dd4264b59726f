package verify

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/bake"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
)

// Request is what to verify: a source at a commit against a published image.
type Request struct {
	Source     string            `json:"source"` // a local directory or a git URL
	Commit     string            `json:"commit"`
	Image      string            `json:"image"`
	Dockerfile string            `json:"dockerfile,omitempty"` // relative to the source root; default CONTEXT/Dockerfile
	Context    string            `json:"context,omitempty"`    // relative to the source root; default "."
	Target     string            `json:"target,omitempty"`
	BuildArgs  map[string]string `json:"buildArgs,omitempty"`
	Platforms  []string          `json:"platforms,omitempty"` // default: the published image's
	// SourceDateEpoch is "auto" (the published config's created time, else
	// the commit time) or seconds.
	SourceDateEpoch string `json:"sourceDateEpoch,omitempty"`
	// Network is the rebuild's network: "none" (the default: RUN has no
	// network) or "proxy" (RUN reaches the pinned hosts only, through
	// BuildKit's capturing proxy, and every download must equal a pin).
	Network string `json:"network,omitempty"`
	// Lock is the lock file, relative to the source root; default
	// reprover.lock.json when the commit has it, else the pins of the
	// published image's provenance.
	Lock string `json:"lock,omitempty"`
	// AllowDownloadHosts are hosts on loopback, private or link-local
	// addresses that downloads may come from (an internal mirror).
	AllowDownloadHosts []string `json:"allowDownloadHosts,omitempty"`
	// AllowUnpinnedDownloads lets a proxied rebuild go on when nothing
	// pins its downloads (no lock file, no provenance materials): every
	// download is then new, and the verified levels say the inputs were
	// unpinned.
	AllowUnpinnedDownloads bool `json:"allowUnpinnedDownloads,omitempty"`
	// Kit is where the release's kit is (docs/kit.md): "" or kit.Auto (the
	// published image's referrer, when it has one), kit.None, or a
	// reference to the kit (HOST/REPO…, oci:DIR, oci-archive:FILE). With a
	// kit, every download of a proxied rebuild is served from it, checked
	// against the release's pins, and no request reaches an upstream.
	Kit string `json:"kit,omitempty"`
	// AllowSourceHosts are loopback, private or link-local hosts (or local
	// directories) that a source named only by the published image may be
	// cloned from.
	AllowSourceHosts []string `json:"allowSourceHosts,omitempty"`
	// Bake is the project's bake file, relative to the source root, read
	// from the commit; BakeTarget its target (default "default"). Its
	// context, Dockerfile, target and build args count as flags.
	Bake       string `json:"bake,omitempty"`
	BakeTarget string `json:"bakeTarget,omitempty"`
}

// The rebuild's network modes (Request.Network), as builder names them,
// for callers that do not import builder (the service).
const (
	NetworkNone  = builder.NetworkNone
	NetworkProxy = builder.NetworkProxy
)

// network is the request's network mode, "none" by default.
func (r Request) network() string {
	if r.Network == "" {
		return builder.NetworkNone
	}
	return r.Network
}

// Builder is what verify needs of BuildKit.
type Builder interface {
	Build(ctx context.Context, s builder.Spec, progress io.Writer, mode string) (*builder.Result, error)
	Version(ctx context.Context) (string, error)
}

// Options configure Run.
type Options struct {
	Image        image.Options
	Compare      compare.Options
	Progress     io.Writer // BuildKit's display; nil: none
	ProgressMode string    // plain, tty, auto, quiet
	// ScratchDir holds the checkout and the rebuilt image; empty: a new
	// temporary directory, removed at the end.
	ScratchDir string
	Logger     *slog.Logger
	// BakeEnv overrides the bake file's variables, as the environment does
	// for buildx (the CLI passes its environment; the report names each
	// one used).
	BakeEnv map[string]string
	// SourcePolicy, when set, judges a source that only the published
	// image names (its provenance or labels) instead of the default rule
	// (no local path, no loopback, private or link-local host unless in
	// Request.AllowSourceHosts): the service applies its sources.allow.
	SourcePolicy func(source string) error
	// AllowSourceHost, when set, is asked when the source is cloned, for
	// every source (the request's too), whether it may be on host (as
	// written in it) though host is, or now resolves to, a loopback,
	// private, link-local or special address; the clone is pinned to the
	// address judged. The service applies its sources.allow. Unset:
	// Request.AllowSourceHosts for a source only the image names, any
	// host for one the request names.
	AllowSourceHost func(source, host string) bool
	// Words names a parameter (a Request field, as a *param.Error names
	// it) in the caller's words in the report's hints: the CLI's flag, the
	// service's JSON field. Nil: the library's names.
	Words func(param string) string
	// Inputs bound the reading of the release's inputs: the commit's bake
	// file, Dockerfile and lock file, and the kit (zero fields: each
	// package's defaults).
	Inputs InputLimits
	// ReplayAddr is host:port where the BuildKit daemon's proxy reaches
	// this process, to serve a kit's blobs (builder.Spec.ReplayAddr): for
	// a daemon reprover did not start. "": the managed daemon's bridge.
	ReplayAddr string
	// KitDir holds kits kept by earlier verifications (the service's
	// store: DIGEST-HEX.tar, oci-archive); with Request.Kit auto, the
	// image's kit there is replayed before a referrer is looked for.
	KitDir string
}

// InputLimits bound what verify reads from the source: the publisher
// controls all of it.
type InputLimits struct {
	Bake  bake.Limits
	Check builder.CheckLimits
	Lock  pins.Limits
	Kit   kit.Limits
}

// provenanceTypes are the predicate types read as provenance.
var provenanceTypes = []string{"https://slsa.dev/provenance/v0.2", "https://slsa.dev/provenance/v1"}

// Run resolves, rebuilds and compares. It always returns a report; the
// error is non-nil exactly when the verdict is "error" (could not verify),
// and the report then holds what was resolved before the failure.
func Run(ctx context.Context, req Request, b Builder, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	var st stages
	err := st.run(ctx, req, b, o)
	return st.report(req, err), err
}

// stages holds what each stage of a verification returned, for the
// report; a stage that was not reached leaves its value nil.
type stages struct {
	published  *image.Resolved
	params     *params // the request completed from the published image
	source     *source
	plan       *plan
	rebuilt    *builder.Result
	downloads  []Download // what the rebuild fetched, checked against the pins
	comparison *compare.Report
	// buildTime and compareTime are how long the rebuild and the
	// comparison took.
	buildTime, compareTime time.Duration
}

// run is the pipeline: resolve the published image and the source, check
// the rules, plan and run the build, compare.
func (st *stages) run(ctx context.Context, req Request, b Builder, o Options) error {
	if err := req.Check(); err != nil {
		return err
	}
	scratch, cleanup, err := scratchDir(o, "reprover-verify-")
	if err != nil {
		return err
	}
	defer cleanup()
	// The published image first: it is cheap, and it says the platforms,
	// the encoding and the SOURCE_DATE_EPOCH.
	pub, err := openPublished(ctx, req, o.Image)
	if err != nil {
		return err
	}
	defer pub.Close()
	st.published = pub
	inputs, err := st.prepare(ctx, req, b, o, pub, scratch)
	if err != nil {
		return err
	}
	req = st.params.req
	st.plan.spec.OutputDir = filepath.Join(scratch, "rebuilt")
	started := time.Now()
	if st.plan.kit != nil {
		defer st.plan.kit.Close()
	}
	st.rebuilt, err = b.Build(ctx, st.plan.spec, progressOr(o.Progress), o.ProgressMode)
	st.buildTime = time.Since(started)
	if err != nil {
		return kitError(offlineHint(err, req.network()))
	}
	if st.plan.pins != nil {
		// Inputs that moved since the release do not stop it: the rebuild
		// is compared, and the report says which moved. Unknown bytes do.
		var sum pins.Summary
		if st.downloads, sum, err = compareDownloads(st.rebuilt.Captures, st.plan.pins, inputs.Downloads); err != nil {
			return err
		}
		st.plan.notInRelease(st.downloads, &sum)
		st.plan.build.Inputs = &sum
		st.plan.build.Kit.count(st.downloads)
		if !sum.AsReleased() {
			st.plan.hints = append(st.plan.hints, "Inputs: "+sum.String()+". The rebuild did not get every input the release got: the verdict is the comparison's, and a strict verification requires every download as released (docs/network.md).")
		}
	}
	// Times inside differing files between the release's
	// SOURCE_DATE_EPOCH and now are the builds' times (the release was
	// built after its commit and before this rebuild ended).
	o.Compare.Window = causes.Window{From: time.Unix(st.plan.spec.SourceDateEpoch, 0).Add(-time.Hour), To: time.Now().Add(time.Hour)}
	o.Compare.Downloads = movedDownloads(st.downloads) // a package that changed names its download (packages.go)
	started = time.Now()
	if o.Compare.Scratch == "" {
		o.Compare.Scratch = scratch // the walks' entries, with the job's other files
	}
	st.comparison, err = compareRebuilt(ctx, st.plan.spec.OutputDir, st.rebuilt.Digest, pub, o)
	st.compareTime = time.Since(started)
	return err
}

// prepare is every stage before BuildKit runs, shared by Run and Twice
// (pub nil): complete the request (from the published image, and the
// project's bake file), export the commit, check the rules, plan the build.
func (st *stages) prepare(ctx context.Context, req Request, b Builder, o Options, pub *image.Resolved, scratch string) (*builder.Inputs, error) {
	var err error
	st.params, err = resolveParams(ctx, req, pub, o)
	// The kit, opened once, may hold the source too (kitsource.go); plan.kit
	// owns it once planned, and it is closed here when a stage fails first.
	co, kt, err := exportOrKit(ctx, st.params, err, o, pub, scratch)
	if err != nil {
		return nil, err
	}
	defer func() {
		if st.plan == nil {
			closeKit(kt)
		}
	}()
	if err := applyBake(st.params, req, co, o.BakeEnv, o.Inputs.Bake); err != nil {
		return nil, err
	}
	req = st.params.req
	if st.source, err = locate(co, req.Context, req.Dockerfile); err != nil {
		return nil, err
	}
	inputs, err := checkRules(ctx, st.source, req, rebuildPlatforms(req, pub), o.Inputs.Check)
	if err != nil {
		return nil, err
	}
	if st.params.argsUnknown && len(inputs.Args) > 0 {
		return nil, param.Errorf("BuildArgs", "%w: the build arguments: the published provenance is mode=min, which does not record them, and %s declares ARG %s; give each {BuildArgs} the release used (its defaults included)",
			ErrMissingParameter, st.source.dockerfile, strings.Join(inputs.Args, ", "))
	}
	if st.plan, err = planBuild(ctx, req, b, o, pub, st.source, inputs, kt); err != nil {
		return nil, err
	}
	st.plan.useParams(st.params, req.BuildArgs)
	st.plan.basesFromKit() // kitbases.go
	st.plan.sourceFromKit(co)
	return inputs, nil
}

// useParams adds what the published provenance's request says beyond the
// build args (builder.Params): the attributes the rebuild passes, and
// the parameters it does without, named in the report.
func (p *plan) useParams(pp *params, args map[string]string) {
	if len(pp.attrs) > 0 {
		p.spec.Attrs, p.build.Attrs = pp.attrs, pp.attrs
		// Labels are values the publisher chose, not the commit: say so.
		var labels []string
		for _, k := range slices.Sorted(maps.Keys(pp.attrs)) {
			if strings.HasPrefix(k, "label:") {
				labels = append(labels, k)
			}
		}
		if len(labels) > 0 {
			p.hints = append(p.hints, fmt.Sprintf("The rebuild wrote %s into the image config as the release's provenance says; the commit does not hold them (build.attrs).", strings.Join(labels, ", ")))
		}
	}
	p.build.Ignored = append(p.build.Ignored, pp.ignored...)
	notable := pp.notable
	dropped, _ := builder.CheckBuildArgs(args, "") // refused ones were refused by the rules
	for _, name := range dropped {
		p.build.Ignored = append(p.build.Ignored, "build-arg:"+name)
		if !builder.BuildArgParam(name).Routine {
			notable = append(notable, "build-arg:"+name)
		}
	}
	if pp.frontend != "" && !sameFrontend(pp.frontend, p.build.Frontend) {
		p.hints = append(p.hints, fmt.Sprintf("The release was built by the frontend %s (its provenance); the rebuild uses %s: the commit's Dockerfile frontend, or the one given as build arg %s.", pp.frontend, p.build.Frontend, builder.ArgSyntax))
	}
	if len(notable) > 0 {
		p.hints = append(p.hints, fmt.Sprintf("The rebuild does without %s, which the release's build had (docs/threat-model.md: build parameters).", strings.Join(notable, ", ")))
	}
}

// scratchDir is Options.ScratchDir, else a new temporary directory that
// cleanup removes.
func scratchDir(o Options, prefix string) (dir string, cleanup func(), err error) {
	if o.ScratchDir != "" {
		return o.ScratchDir, func() {}, nil
	}
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		return "", nil, err
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// timings are where the time went, once the comparison is done.
func (st *stages) timings() *Timings {
	t := &Timings{BuildSeconds: seconds(st.buildTime), CompareSeconds: seconds(st.compareTime)}
	for _, p := range st.comparison.Platforms {
		for _, l := range p.Layers {
			if l.Skipped != "" || p.Verdict == compare.Identical {
				t.LayersSkipped++
			} else {
				t.LayersRead++
			}
		}
	}
	return t
}

// report assembles the report from the stages' results.
func (st *stages) report(req Request, err error) *Report {
	r := &Report{SchemaVersion: 1, Request: &req, Hints: []string{}, Platforms: []Platform{}}
	if st.published != nil {
		r.Published = &compare.ImageRef{Ref: req.Image, Digest: st.published.Digest.String()}
	}
	uri := req.Source
	if st.params != nil {
		r.Parameters = st.params.of
		r.Hints = append(r.Hints, st.params.hints...)
		uri = st.params.req.Source
	}
	if st.source != nil {
		r.Source = &Source{URI: uri, Commit: st.source.checkout.Commit, FromKit: st.source.checkout.Kit != ""}
	}
	if st.plan != nil {
		sde := st.plan.spec.SourceDateEpoch
		r.SourceDateEpoch = &sde
		r.Build = &st.plan.build
		if st.downloads != nil {
			r.Build.Downloads = st.downloads
		}
		r.Hints = append(r.Hints, st.plan.hints...)
	}
	if st.rebuilt != nil {
		r.Rebuilt = &compare.ImageRef{Digest: st.rebuilt.Digest}
	}
	if err != nil {
		r.Verdict, r.Error = Error, err.Error()
		return r
	}
	c := st.comparison
	r.Timings = st.timings()
	r.Verdict = verdict(c)
	r.Encoding = c.Encoding
	r.Hints = append(r.Hints, c.Hints...)
	r.Platforms = platformsOf(c)
	return r
}

// platformsOf is each platform's comparison under a verification's verdict.
func platformsOf(c *compare.Report) []Platform {
	out := make([]Platform, 0, len(c.Platforms))
	for _, p := range c.Platforms {
		out = append(out, Platform{Verdict: verdictOf(p.Verdict), PlatformComparison: p})
	}
	return out
}

// openPublished opens the published image, only the requested platforms.
func openPublished(ctx context.Context, req Request, o image.Options) (*image.Resolved, error) {
	for _, p := range req.Platforms {
		pp, err := image.ParsePlatform(p)
		if err != nil {
			return nil, err
		}
		o.Platforms = append(o.Platforms, pp)
	}
	pub, err := image.Open(ctx, req.Image, o)
	if err != nil {
		return nil, fmt.Errorf("published image: %w", err)
	}
	return pub, nil
}

// rebuildPlatforms are the platforms a rebuild builds: the request's,
// else the published image's (none with no published image: the daemon's).
func rebuildPlatforms(req Request, pub *image.Resolved) []string {
	platforms := req.Platforms
	if len(platforms) == 0 {
		for _, img := range imagesOf(pub) {
			platforms = append(platforms, image.PlatformString(img.Platform))
		}
	}
	return platforms
}

// frontendBuiltin names BuildKit's own Dockerfile frontend in a report.
const frontendBuiltin = "dockerfile.v0 (built in)"

// plan is the build to run, the evidence the report gives of it, and what
// the verification leaves out.
type plan struct {
	spec  builder.Spec
	build Build
	pins  *pins.Set // network proxy: what every download must equal
	kit   *kit.Kit  // the release's kit the downloads are served from, or nil
	// releaseFailed are the URLs the release's own requests failed on
	// (its provenance's incomplete GETs): a replay answers each 404 as
	// the release's server did; any other 404 of a replay is a request
	// the release did not make (notInRelease).
	releaseFailed map[string]bool
	hints         []string
}

// planBuild settles the build's parameters: platforms and encoding from
// the published image, SOURCE_DATE_EPOCH, and the evidence (BuildKit's
// version, pinned inputs, the publisher's provenance). With no published
// image (pub nil: Twice), the platforms are the request's (default the
// daemon's), the encoding BuildKit's own, and a proxied build without a
// lock file may reach any public host: its downloads become the pins.
func planBuild(ctx context.Context, req Request, b Builder, o Options, pub *image.Resolved, s *source, inputs *builder.Inputs, kt *kit.Kit) (*plan, error) {
	sde, err := sourceDateEpoch(req.SourceDateEpoch, pub, s.checkout)
	if err != nil {
		return nil, err
	}
	platforms := rebuildPlatforms(req, pub)
	version, err := b.Version(ctx)
	if err != nil {
		return nil, err
	}
	frontend := frontendBuiltin
	if inputs.Frontend != "" {
		frontend = inputs.Frontend
	}
	p := &plan{kit: kt, build: Build{BuildKit: version, Frontend: frontend, Network: req.network(), Bases: inputs.Bases,
		Downloads: addDownloads(inputs.Downloads), Target: req.Target, BuildArgs: req.BuildArgs, Platforms: platforms,
		Dockerfile: s.dockerfile, Context: filepath.ToSlash(s.contextRel), NoCache: true,
		RunDownloads: inputs.RunDownloads, Warnings: inputs.Warnings}}
	if p.build.BuildArgs == nil {
		p.build.BuildArgs = map[string]string{}
	}
	if pub != nil && pub.Skipped > 0 {
		p.build.UnverifiedPlatforms = pub.Skipped
		p.hints = append(p.hints, param.Sprintf(o.Words, "%d platform image(s) of the published index were not verified ({Platforms}): the verdict covers only %s.", pub.Skipped, strings.Join(platforms, ", ")))
	}
	if pub != nil {
		prov, err := readProvenance(ctx, pub, o.Image.Limits)
		if err != nil {
			p.hints = append(p.hints, "The published image's attestations could not be read: "+err.Error())
		}
		p.build.Provenance = prov
	}
	oci, compression := encodingOf(pub)
	p.spec = builder.Spec{
		ContextDir: s.contextDir(), DockerfilePath: s.dockerfilePath(), DockerfileName: s.dockerfile,
		Target: req.Target, BuildArgs: req.BuildArgs, Platforms: platforms, SourceDateEpoch: sde,
		OCIMediaTypes: oci, Compression: compression, Network: req.network(),
		// Only the inputs the rules found pinned: anything else the build
		// asks for fails it, naming the source.
		Only: builder.AllowedOf(inputs),
	}
	if req.network() == builder.NetworkProxy {
		set, err := loadPins(ctx, req, s, pub, o.Image.Limits, o.Inputs.Lock)
		if err != nil {
			return nil, err
		}
		if set == nil {
			p.spec.ProxyAnyHost, p.spec.ProxyHosts = true, req.AllowDownloadHosts
			return p, nil
		}
		p.pins = set
		p.build.Pins = &Pins{From: set.Origin, Source: set.Source, Count: set.Len()}
		if set.Origin == pins.FromNone {
			if p.kit != nil && cmp.Or(req.Kit, kit.Auto) != kit.Auto {
				// Asked to replay, it could not: say so, never fetch.
				return nil, param.Errorf("Kit", "%w: {Kit} %s: the release pins no download for the kit to serve ({AllowUnpinnedDownloads}): nothing would keep the rebuild from its upstreams", ErrKit, req.Kit)
			}
			// Nothing pins a host: any public one, as reprover lock.
			p.spec.ProxyAnyHost, p.spec.ProxyHosts = true, req.AllowDownloadHosts
			p.hints = append(p.hints, "The release recorded no pins: every download of the rebuild is new, nothing shows it got the release's inputs, and the verdict says only what the comparison found.")
			return p, nil
		}
		served := p.kit != nil && (cmp.Or(req.Kit, kit.Auto) != kit.Auto || o.ReplayAddr != "" || canReplay(b))
		if p.kit != nil && !served {
			// The kit's source and bases need no address: only its
			// downloads are left to their upstreams.
			p.hints = append(p.hints, param.Sprintf(o.Words, "The image's kit (%s) did not serve the downloads: the BuildKit daemon is not one reprover started, and {ReplayAddr} does not say where it reaches this machine; they were fetched from their upstreams.", p.kit.Digest()))
		}
		if served {
			return p, p.replay(ctx, set, pub, o)
		}
		hosts, refused := proxyHosts(set, inputs.Downloads, req.AllowDownloadHosts)
		p.spec.ProxyHosts = hosts
		for _, h := range refused {
			p.hints = append(p.hints, param.Sprintf(o.Words, "The pins name %s, a loopback, private or link-local host: the rebuild may not reach it unless {AllowDownloadHosts} %s.", h, h))
		}
	}
	return p, nil
}

// readProvenance lists the provenance statements attached to the
// published index; those it could read are returned with the error.
func readProvenance(ctx context.Context, pub *image.Resolved, lim image.Limits) ([]Provenance, error) {
	if len(pub.Attestations) == 0 {
		return nil, nil
	}
	stmts, err := pub.Statements(ctx, lim, provenanceTypes...)
	var out []Provenance
	for _, st := range stmts {
		p := Provenance{URI: pub.Ref.Name + "@" + st.Manifest.String(), Digest: st.Digest.String(), PredicateType: st.PredicateType}
		if st.For.Hex != "" {
			p.For = st.For.String()
		}
		out = append(out, p)
	}
	return out, err
}

// compareRebuilt compares the rebuilt image, an OCI layout, with the
// published one.
func compareRebuilt(ctx context.Context, layout, digest string, pub *image.Resolved, o Options) (*compare.Report, error) {
	reb, err := openBuilt(ctx, "rebuilt image", layout, digest, o)
	if err != nil {
		return nil, err
	}
	defer reb.Close()
	copts := o.Compare
	copts.NameA, copts.NameB = "rebuilt", "published"
	return compare.Images(ctx, reb, pub, copts)
}

// openBuilt opens an image a build of this verification wrote, an OCI
// layout; what names it in an error.
func openBuilt(ctx context.Context, what, layout, digest string, o Options) (*image.Resolved, error) {
	img, err := image.Open(ctx, "oci:"+layout+"@"+digest, image.Options{Limits: o.Image.Limits})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return img, nil
}

// verdict is a verification's verdict from the comparison: reproducible
// when every platform manifest is bit-identical (an index may differ by
// its attestation manifests), equivalent when only encoding differs.
func verdict(c *compare.Report) Verdict {
	allIdentical := len(c.Platforms) > 0
	for _, p := range c.Platforms {
		if p.Verdict != compare.Identical {
			allIdentical = false
		}
	}
	switch {
	case allIdentical:
		return Reproducible
	case c.Verdict == compare.Different:
		return Mismatch
	default:
		return Equivalent
	}
}

func sourceDateEpoch(s string, pub *image.Resolved, co *Checkout) (int64, error) {
	if s == "" || s == "auto" {
		for _, img := range imagesOf(pub) {
			if t := img.Config.Created.Time; !t.IsZero() && t.Unix() > 0 {
				return t.Unix(), nil
			}
		}
		return co.CommitTime.Unix(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, param.Errorf("SourceDateEpoch", "{SourceDateEpoch} %q: want auto or a number of seconds", s)
	}
	return n, nil
}

// imagesOf is the published image's platform images; none without one.
func imagesOf(pub *image.Resolved) []*image.Image {
	if pub == nil {
		return nil
	}
	return pub.Images
}

// encodingOf reads the media types and the compression of the layers the
// publisher's build made (the last layer of the first image); without a
// published image, OCI media types and gzip.
func encodingOf(pub *image.Resolved) (oci bool, compression string) {
	if pub == nil || len(pub.Images) == 0 {
		return true, "gzip"
	}
	img := pub.Images[0]
	oci = img.Manifest.MediaType != types.DockerManifestSchema2
	compression = "gzip"
	if n := len(img.Layers); n > 0 {
		mt := string(img.Layers[n-1].Descriptor.MediaType)
		switch {
		case strings.HasSuffix(mt, "zstd"):
			compression = "zstd"
		case strings.HasSuffix(mt, ".tar") || strings.HasSuffix(mt, "tar"):
			compression = "uncompressed"
		}
	}
	return oci, compression
}

func progressOr(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
