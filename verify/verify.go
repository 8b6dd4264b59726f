package verify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
)

// Request is what to verify: a source at a commit against a published image.
type Request struct {
	Source     string // a local directory or a git URL
	Commit     string
	Image      string
	Dockerfile string // relative to the source root; default CONTEXT/Dockerfile
	Context    string // relative to the source root; default "."
	Target     string
	BuildArgs  map[string]string
	Platforms  []string // default: the published image's
	// SourceDateEpoch is "auto" (the published config's created time, else
	// the commit time) or seconds.
	SourceDateEpoch string
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
}

// Build is the hermeticity evidence of the report.
type Build struct {
	BuildKit   string             `json:"buildkit"`
	Frontend   string             `json:"frontend"`
	Network    string             `json:"network"`
	Bases      []builder.Base     `json:"bases"`
	Downloads  []builder.Download `json:"downloads"`
	Target     string             `json:"target"`
	BuildArgs  map[string]string  `json:"buildArgs"`
	Platforms  []string           `json:"platforms"`
	Dockerfile string             `json:"dockerfile"`
	Context    string             `json:"context"`
	NoCache    bool               `json:"noCache"`
	// Provenance lists the publisher's provenance attestations read from
	// the published index (the VSA's inputAttestations).
	Provenance []Provenance `json:"provenance,omitempty"`
	// UnverifiedPlatforms counts the published index's images left out by
	// --platform: the attestations then name the verified manifests, not
	// the index.
	UnverifiedPlatforms int `json:"unverifiedPlatforms,omitempty"`
}

// Provenance is one provenance statement read from the published image.
type Provenance struct {
	URI           string `json:"uri"`    // REPO@sha256:… of its attestation manifest
	Digest        string `json:"digest"` // of the statement itself
	PredicateType string `json:"predicateType"`
	For           string `json:"for,omitempty"` // the image manifest it describes
}

// provenanceTypes are the predicate types read as provenance.
var provenanceTypes = []string{"https://slsa.dev/provenance/v0.2", "https://slsa.dev/provenance/v1"}

// Error classes a caller may branch on (exit 2 for all of them).
var (
	ErrUnpinned = errors.New("unpinned inputs")
)

// Run resolves, rebuilds and compares. It always returns a report; the
// error is non-nil exactly when the verdict is "error" (could not verify).
func Run(ctx context.Context, req Request, b Builder, o Options) (*compare.Report, error) {
	rep := &compare.Report{SchemaVersion: 1, Hints: []string{}, Platforms: []compare.Platform{},
		Source:    &compare.Source{URI: req.Source, Commit: req.Commit},
		Published: &compare.ImageRef{Ref: req.Image}}
	err := run(ctx, req, b, o, rep)
	if err != nil {
		rep.Verdict = compare.Error
		rep.Error = err.Error()
		if rep.Published.Digest == "" {
			rep.Published = nil
		}
	}
	return rep, err
}

func run(ctx context.Context, req Request, b Builder, o Options, rep *compare.Report) error {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if req.Source == "" || req.Commit == "" || req.Image == "" {
		return errors.New("--source, --commit and --image are required")
	}
	scratch := o.ScratchDir
	if scratch == "" {
		d, err := os.MkdirTemp("", "reprover-verify-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		scratch = d
	}

	// Resolve: the published image first (cheap, and it says the platforms,
	// the encoding and the SOURCE_DATE_EPOCH).
	iopts := o.Image
	for _, p := range req.Platforms {
		pp, err := image.ParsePlatform(p)
		if err != nil {
			return err
		}
		iopts.Platforms = append(iopts.Platforms, pp)
	}
	pub, err := image.Open(ctx, req.Image, iopts)
	if err != nil {
		return fmt.Errorf("published image: %w", err)
	}
	defer pub.Close()
	rep.Published.Digest = pub.Digest.String()

	co, err := ExportCommit(ctx, req.Source, req.Commit, scratch)
	if err != nil {
		return err
	}
	rep.Source.Commit = co.Commit

	contextRel := req.Context
	if contextRel == "" {
		contextRel = "."
	}
	dfRel := req.Dockerfile
	if dfRel == "" {
		dfRel = filepath.Join(contextRel, "Dockerfile")
	}
	for _, p := range []string{contextRel, dfRel} {
		if !filepath.IsLocal(filepath.Clean(p)) && filepath.Clean(p) != "." {
			return fmt.Errorf("%s: must be a path inside the source", p)
		}
	}
	dfPath := filepath.Join(co.Dir, dfRel)
	dfName := filepath.ToSlash(filepath.Clean(dfRel))
	// The source is untrusted: a context or Dockerfile reached through a
	// symlink could send the host's files to BuildKit, or read /dev/zero.
	if err := noSymlinks(co.Dir, contextRel, true); err != nil {
		return fmt.Errorf("--context %s at %s: %w", contextRel, co.Commit, err)
	}
	if err := noSymlinks(co.Dir, dfRel, false); err != nil {
		return fmt.Errorf("%s at %s: %w", dfName, co.Commit, err)
	}
	df, err := builder.ReadDockerfile(dfPath)
	if err != nil {
		return fmt.Errorf("%s at %s: %w", dfName, co.Commit, err)
	}
	vs, inputs, err := builder.Check(df, dfName, req.BuildArgs)
	if err != nil {
		return err
	}
	if len(vs) > 0 {
		return fmt.Errorf("%w: %s", ErrUnpinned, strings.ReplaceAll(vs.Error(), "\n", "; "))
	}

	sde, err := sourceDateEpoch(req.SourceDateEpoch, pub, co)
	if err != nil {
		return err
	}
	rep.SourceDateEpoch = &sde

	platforms := req.Platforms
	if len(platforms) == 0 {
		for _, img := range pub.Images {
			platforms = append(platforms, image.PlatformString(img.Platform))
		}
	}
	version, err := b.Version(ctx)
	if err != nil {
		return err
	}
	build := Build{BuildKit: version, Frontend: "dockerfile.v0 (built in)", Network: "none", Bases: inputs.Bases,
		Downloads: inputs.Downloads, Target: req.Target, BuildArgs: req.BuildArgs, Platforms: platforms,
		Dockerfile: dfName, Context: filepath.ToSlash(filepath.Clean(contextRel)), NoCache: true}
	if build.BuildArgs == nil {
		build.BuildArgs = map[string]string{}
	}
	if pub.Skipped > 0 {
		build.UnverifiedPlatforms = pub.Skipped
		rep.Hints = append(rep.Hints, fmt.Sprintf("%d platform image(s) of the published index were not verified (--platform): the verdict covers only %s.", pub.Skipped, strings.Join(platforms, ", ")))
	}
	if len(pub.Attestations) > 0 {
		stmts, err := pub.Statements(ctx, o.Image.Limits, provenanceTypes...)
		if err != nil {
			rep.Hints = append(rep.Hints, "The published image's attestations could not be read: "+err.Error())
		}
		repo := pub.Ref.Name
		for _, st := range stmts {
			p := Provenance{URI: repo + "@" + st.Manifest.String(), Digest: st.Digest.String(), PredicateType: st.PredicateType}
			if st.For.Hex != "" {
				p.For = st.For.String()
			}
			build.Provenance = append(build.Provenance, p)
		}
	}
	rep.Build = build

	oci, compression := encodingOf(pub)
	out := filepath.Join(scratch, "rebuilt")
	res, err := b.Build(ctx, builder.Spec{
		ContextDir: filepath.Join(co.Dir, contextRel), DockerfilePath: dfPath, DockerfileName: dfName,
		Target: req.Target, BuildArgs: req.BuildArgs, Platforms: platforms, SourceDateEpoch: sde,
		OCIMediaTypes: oci, Compression: compression, OutputDir: out,
	}, progressOr(o.Progress), o.ProgressMode)
	if err != nil {
		return err
	}
	rep.Rebuilt = &compare.ImageRef{Digest: res.Digest}

	reb, err := image.Open(ctx, "oci:"+out+"@"+res.Digest, image.Options{Limits: o.Image.Limits})
	if err != nil {
		return fmt.Errorf("rebuilt image: %w", err)
	}
	defer reb.Close()
	copts := o.Compare
	copts.NameA, copts.NameB = "rebuilt", "published"
	cr, err := compare.Images(ctx, reb, pub, copts)
	if err != nil {
		return err
	}
	rep.Platforms = cr.Platforms
	rep.Hints = append(rep.Hints, cr.Hints...)
	rep.Encoding = cr.Encoding
	rep.Verdict = verdictOf(cr)
	for i := range rep.Platforms {
		rep.Platforms[i].Verdict = platformVerdict(rep.Platforms[i].Verdict)
	}
	return nil
}

// noSymlinks checks that rel, inside root, is reached without following a
// symlink and is a directory (dir) or a regular file.
func noSymlinks(root, rel string, dir bool) error {
	p := root
	parts := strings.Split(filepath.ToSlash(filepath.Clean(rel)), "/")
	for i, part := range parts {
		if part == "." {
			continue
		}
		p = filepath.Join(p, part)
		st, err := os.Lstat(p)
		if err != nil {
			return err
		}
		switch {
		case st.Mode()&os.ModeSymlink != 0:
			return fmt.Errorf("%s is a symlink; give the path it stands for", strings.Join(parts[:i+1], "/"))
		case i < len(parts)-1 && !st.IsDir():
			return fmt.Errorf("%s is not a directory", strings.Join(parts[:i+1], "/"))
		case i == len(parts)-1 && dir && !st.IsDir():
			return errors.New("not a directory")
		case i == len(parts)-1 && !dir && !st.Mode().IsRegular():
			return errors.New("not a regular file")
		}
	}
	return nil
}

// verdictOf maps the comparison to a verification verdict: reproducible
// when every platform manifest is bit-identical (an index may differ by
// its attestation manifests), equivalent when only encoding differs.
func verdictOf(cr *compare.Report) string {
	allIdentical := len(cr.Platforms) > 0
	for _, p := range cr.Platforms {
		if p.Verdict != compare.Identical {
			allIdentical = false
		}
	}
	switch {
	case allIdentical:
		return compare.Reproducible
	case cr.Verdict == compare.Different:
		return compare.Mismatch
	default:
		return compare.Equivalent
	}
}

func platformVerdict(v string) string {
	switch v {
	case compare.Identical:
		return compare.Reproducible
	case compare.Different:
		return compare.Mismatch
	}
	return v
}

func sourceDateEpoch(s string, pub *image.Resolved, co *Checkout) (int64, error) {
	if s == "" || s == "auto" {
		for _, img := range pub.Images {
			if t := img.Config.Created.Time; !t.IsZero() && t.Unix() > 0 {
				return t.Unix(), nil
			}
		}
		return co.CommitTime.Unix(), nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--source-date-epoch %q: want auto or a number of seconds", s)
	}
	return n, nil
}

// encodingOf reads the media types and the compression of the layers the
// publisher's build made (the last layer of the first image).
func encodingOf(pub *image.Resolved) (oci bool, compression string) {
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
