package verify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/provenance"
)

// KitInputs are what a kit of a release is made from (kit.Make): the
// published image, the downloads its own provenance pins, and the build
// parameters verify reads from it.
type KitInputs struct {
	Subject v1.Descriptor // the published index or manifest
	// Repository is the image's HOST/REPO ("" for oci: and oci-archive:).
	Repository string
	Pins       []pins.Pin
	Params     kit.Params
}

// ReadKitInputs opens the published image (every platform) and reads what
// its provenance pins and records, as a verification would: the same
// statements (only those about the image's own manifests), the same
// parameter picks with nothing given. A provenance that cannot be read is
// an error; one that pins no download gives no pins.
func ReadKitInputs(ctx context.Context, ref string, o Options) (*KitInputs, error) {
	pub, builds, err := openRelease(ctx, ref, o)
	if err != nil {
		return nil, err
	}
	defer pub.Close()
	in := &KitInputs{Subject: v1.Descriptor{MediaType: pub.MediaType, Digest: pub.Digest, Size: int64(len(pub.Raw))}}
	if pub.Ref.Transport == image.Registry {
		in.Repository = pub.Ref.Name
	}
	if in.Pins, err = provenancePins(builds, pub.Ref.Name); err != nil {
		return nil, err
	}
	p := &params{of: map[string]Parameter{}, words: o.Words}
	labels := p.readPublished(ctx, pub, o.Image.Limits)
	p.pickLocation(labels)
	judged, err := judgeProvenance(p.prov)
	if err != nil {
		return nil, err
	}
	if err := p.pickBuild(judged); err != nil {
		return nil, err
	}
	r := p.req
	in.Params = kit.Params{Source: r.Source, Commit: r.Commit, Dockerfile: r.Dockerfile, Context: r.Context, Target: r.Target,
		BuildArgs: r.BuildArgs, SourceDateEpoch: r.SourceDateEpoch, Platforms: rebuildPlatforms(Request{}, pub), Frontend: p.frontend}
	if len(in.Pins) > 0 {
		in.Params.Network = "proxy"
	}
	return in, nil
}

// openKit opens the release's kit (req.Kit; nil
// when there is none). A kit named but not found, one for another image,
// or one that does not parse is an error naming it: the verifier asked
// for it. Auto finds none for an image outside a registry.
func openKit(ctx context.Context, req Request, o Options, pub *image.Resolved) (*kit.Kit, error) {
	where := cmp.Or(req.Kit, kit.Auto)
	if pub == nil || where == kit.None {
		return nil, nil
	}
	repo := ""
	if pub.Ref.Transport == image.Registry {
		repo = pub.Ref.Name
	}
	if stored := StoredKit(o.KitDir, pub.Digest.String()); where == kit.Auto && stored != "" {
		where = stored // the service's own, kept by an earlier verification
	}
	k, err := kit.Open(ctx, where, repo, pub.Digest, kit.Options{InsecureRegistries: o.Image.InsecureRegistries,
		Keychain: o.Image.Keychain, Transport: o.Image.Transport, Limits: o.Inputs.Kit})
	if err != nil {
		return nil, param.Errorf("Kit", "{Kit} %s: %w", where, err)
	}
	return k, nil
}

// replay makes the rebuild take every download from the kit: the kit must
// hold each pin of set with its bytes (else an error naming the URL), and
// only the pinned URLs are served (a blob the kit holds beyond them is
// never), each checked against the pin as it streams. No request of the
// rebuild reaches any upstream host: one the kit does not serve gets a
// 404 naming it (builder.Spec.Replay).
func (p *plan) replay(ctx context.Context, set *pins.Set, pub *image.Resolved, o Options) error {
	ps := set.Pins()
	if err := p.kit.Check(ps); err != nil {
		return fmt.Errorf("%w: %w", ErrKit, err)
	}
	if err := p.releaseRequests(ctx, set, pub, o); err != nil {
		return err
	}
	urls := make([]string, 0, len(ps))
	for _, pin := range ps {
		urls = append(urls, pin.URL)
	}
	p.spec.Replay, p.spec.ReplayAddr, p.spec.ProxyHosts = pinnedReplay{p.kit, urls}, o.ReplayAddr, nil
	p.build.Kit = &KitUse{Digest: p.kit.Digest().String(), From: p.kit.Location, Replayed: true, Downloads: len(urls)}
	return nil
}

// pinnedReplay is a kit restricted to the release's pinned URLs.
type pinnedReplay struct {
	k    *kit.Kit
	urls []string
}

func (r pinnedReplay) URLs() []string                         { return r.urls }
func (r pinnedReplay) Pin(url string) (pins.Pin, bool)        { return r.k.Pin(url) }
func (r pinnedReplay) Open(url string) (io.ReadCloser, error) { return r.k.Open(url) }

var _ builder.Replay = pinnedReplay{}

// KitUse is the kit a rebuild replayed its inputs from (report
// build.kit): its digest and what it served.
type KitUse struct {
	Digest string `json:"digest"` // the kit manifest's
	// From is where it was found: the image's referrer (its reference),
	// a store of kits (oci-archive:…), or the --kit named.
	From string `json:"from"`
	// Replayed: every download of the rebuild was served from the kit
	// (builder.Spec.Replay), none from an upstream. Downloads counts the
	// pinned downloads the kit held and could serve; Served those the
	// rebuild asked for and got from it.
	Replayed  bool `json:"replayed"`
	Downloads int  `json:"downloads"`
	Served    int  `json:"served"`
	// NotInKit counts requests of the rebuild for URLs the kit does not
	// serve: each answered 404 by reprover, never sent upstream (a
	// package manager's probe of a file the release's server lacked too).
	NotInKit int `json:"notInKit"`
	// Source: the commit's tree came from the kit too (its git objects,
	// their ids computed by git: verify/kitsource.go).
	Source bool `json:"source,omitempty"`
	// Bases counts the base images the rebuild took from the kit instead
	// of their registries (verify/kitbases.go).
	Bases int `json:"bases,omitempty"`
}

// String is the kit's line of the report's text.
func (u *KitUse) String() string {
	var parts []string
	if u.Replayed {
		parts = append(parts, fmt.Sprintf("%d of %d downloads", u.Served, u.Downloads))
	}
	if u.Source {
		parts = append(parts, "the source")
	}
	if u.Bases > 0 {
		parts = append(parts, fmt.Sprintf("%d base image(s)", u.Bases))
	}
	s := fmt.Sprintf("kit %s (%s served from it)", u.Digest, strings.Join(parts, ", "))
	switch {
	case !u.Replayed:
		return s
	case u.NotInKit == 0:
		return s + "; no upstream reached"
	}
	return s + fmt.Sprintf("; %d request(s) for URLs the kit does not hold answered 404; no upstream reached", u.NotInKit)
}

// count counts what the rebuild got from the kit and what it asked for
// that the kit does not hold (nil: no kit).
func (u *KitUse) count(ds []Download) {
	if u == nil {
		return
	}
	for _, d := range ds {
		switch {
		case d.FromKit:
			u.Served++
		case d.Method != "":
			u.NotInKit++
		}
	}
}

// kitError is a build's error, as ErrKit when the kit served a blob that
// did not match its pin, or lacked one the build needed.
func kitError(err error) error {
	var re *builder.ReplayError
	if errors.As(err, &re) {
		return fmt.Errorf("%w: %w", ErrKit, err)
	}
	return err
}

// Replayer is a Builder that says whether it can serve a kit's downloads
// with no Options.ReplayAddr (builder.Client.CanReplay: a daemon reprover
// started). A Builder that is not one cannot.
type Replayer interface {
	CanReplay() bool
}

func canReplay(b Builder) bool {
	r, ok := b.(Replayer)
	return ok && r.CanReplay()
}

// KeepKit makes the release's kit from a verification whose downloads
// all matched their pins: those downloads, each fetched again and checked
// against its pin (a byte that moved since is a *kit.MismatchError, and
// no kit is made), and the source tree when the request's source is a
// local checkout. The first verifier archives; everyone after replays
// (docs/kit.md). It returns the kit and the image's repository ("" when
// it is not in a registry); a verification that did not pass with every
// download as released keeps nothing, and the error says why.
func KeepKit(ctx context.Context, rep *Report, req Request, o Options) (*kit.Kit, string, error) {
	switch {
	case !rep.Verified(false):
		return nil, "", fmt.Errorf("no kit kept: the verdict is %s", rep.Verdict)
	case rep.Published == nil:
		return nil, "", errors.New("no kit kept: the report names no published image")
	case rep.Build == nil || rep.Build.Pins == nil || rep.Build.Pins.From == pins.FromNone:
		return nil, "", errors.New("no kit kept: the rebuild had no pinned downloads (a kit keeps a --network proxy release's)")
	case !rep.InputsAsReleased():
		return nil, "", fmt.Errorf("no kit kept: not every download was as the release got it (%s)", rep.Build.Inputs)
	case rep.Build.Kit != nil:
		return nil, "", fmt.Errorf("no kit kept: the rebuild replayed the image's kit %s already", rep.Build.Kit.Digest)
	}
	// The image verified, by its digest: a tag may have moved since.
	ref, err := image.ParseReference(rep.Published.Ref)
	if err != nil || rep.Published.Digest == "" {
		return nil, "", fmt.Errorf("no kit kept: the report names no published image digest")
	}
	pinned := ref.Name + "@" + rep.Published.Digest
	if ref.Transport != image.Registry {
		pinned = string(ref.Transport) + ":" + pinned
	}
	in, err := ReadKitInputs(ctx, pinned, o)
	if err != nil {
		return nil, "", err
	}
	if in.Subject.Digest.String() != rep.Published.Digest {
		return nil, "", fmt.Errorf("no kit kept: %s is %s, not the image verified (%s)", pinned, in.Subject.Digest, rep.Published.Digest)
	}
	in.Pins = nil
	for _, d := range rep.Build.Downloads {
		if d.State == string(pins.StatePinned) {
			in.Pins = append(in.Pins, pins.Pin{URL: d.URL, SHA256: d.SHA256})
		}
	}
	mo := kit.MakeOptions{Subject: in.Subject, Name: in.Repository, Pins: in.Pins, Params: in.Params,
		AllowHosts: req.AllowDownloadHosts, Limits: o.Inputs.Kit, Logger: o.Logger}
	if st, err := os.Stat(req.Source); err == nil && st.IsDir() && req.Commit != "" {
		mo.SourceDir, mo.Commit = req.Source, req.Commit
	}
	k, err := kit.Make(ctx, mo)
	if err != nil {
		return nil, "", err
	}
	return k, in.Repository, nil
}

// StoredKit is the kit kept in dir for the image digest, as an
// oci-archive: reference ("" when dir is "" or holds none): where
// Options.KitDir keeps kits (KeepKit's, written by the service).
func StoredKit(dir, digest string) string {
	if dir == "" {
		return ""
	}
	p := StoredKitPath(dir, digest)
	if st, err := os.Lstat(p); err != nil || !st.Mode().IsRegular() { // never through a symlink
		return ""
	}
	return "oci-archive:" + p
}

// StoredKitPath is where KitDir keeps the kit of the image digest.
func StoredKitPath(dir, digest string) string {
	return filepath.Join(dir, strings.TrimPrefix(digest, "sha256:")+".tar")
}

// releaseRequests reads what the release's provenance says of the
// requests its proxy kept no digest of. A request other than a GET (a
// POST, a PUT) may have brought bytes nobody knows: from the upstreams a
// rebuild making it again is refused for that (pins.Set.Compare), but a
// replay cannot show it (BuildKit's proxy converts only GETs and keeps no
// record of what it refuses), so a release that made one is not replayed.
// The GETs that failed are kept: a replay's 404 for one of them is the
// release's server's answer again. Pins from a lock file say nothing of
// the release's failures: every 404 of the replay then counts as a
// request the release did not make.
func (p *plan) releaseRequests(ctx context.Context, set *pins.Set, pub *image.Resolved, o Options) error {
	p.releaseFailed = map[string]bool{}
	if set.Origin != pins.FromProvenance {
		return nil
	}
	builds, _, err := releaseProvenance(ctx, pub, o.Image.Limits)
	if err != nil {
		return fmt.Errorf("reading the published image's provenance for its requests: %w", err)
	}
	for _, b := range builds {
		for _, in := range b.Incomplete {
			if in.Method != http.MethodGet && in.Method != http.MethodHead {
				return param.Errorf("Kit", "%w: the release's provenance records %s %s (%s): a kit replays only GETs, so this rebuild could not show it made the same request; verify without the kit ({Kit} %s)",
					ErrKit, text.Truncate(in.Method, 16), text.Truncate(in.URL, 256), text.Truncate(in.Reason, 64), kit.None)
			}
			p.releaseFailed[in.URL] = true
		}
	}
	return nil
}

// notInRelease marks, in a replay, each request the kit answered 404 that
// the release's own build did not fail on: a request the release did not
// make (from the upstreams it may have brought bytes), so the inputs are
// not as released, and a strict verification fails, as it would from the
// upstreams.
func (p *plan) notInRelease(ds []Download, sum *pins.Summary) {
	if p.build.Kit == nil || !p.build.Kit.Replayed {
		return
	}
	for i := range ds {
		d := &ds[i]
		if d.Method == "" || d.FromKit || d.State != "" || p.releaseFailed[d.URL] {
			continue
		}
		d.State = string(pins.StateNew)
		sum.New = append(sum.New, d.URL)
	}
}

// openRelease opens the published image (every platform) and reads its
// provenance statements about its own manifests; one that cannot be read
// is an error. The caller closes the image.
func openRelease(ctx context.Context, ref string, o Options) (*image.Resolved, []*provenance.Build, error) {
	pub, err := image.Open(ctx, ref, o.Image)
	if err != nil {
		return nil, nil, fmt.Errorf("published image: %w", err)
	}
	builds, unread, err := releaseProvenance(ctx, pub, o.Image.Limits)
	switch {
	case err != nil:
		err = fmt.Errorf("reading the published image's provenance: %w", err)
	case len(unread) > 0:
		err = fmt.Errorf("provenance %w", unread[0])
	}
	if err != nil {
		pub.Close()
		return nil, nil, err
	}
	return pub, builds, nil
}

// provenancePins are the downloads the builds' provenance pins, each a
// valid pin (else an error naming the material of the image name), its URL
// spelled as the proxy records one (pins.CanonicalURL): BuildKit records
// an ADD's URL as the Dockerfile spells it (https://h:443/x), and the
// proxy's captures canonically.
func provenancePins(builds []*provenance.Build, name string) ([]pins.Pin, error) {
	var out []pins.Pin
	for _, b := range builds {
		for i, d := range b.Downloads {
			p := pins.Pin{URL: pins.CanonicalURL(d.URL), SHA256: d.SHA256}
			if err := pins.Validate(p); err != nil {
				return nil, fmt.Errorf("provenance of %s: material %d: %w", name, i, err)
			}
			out = append(out, p)
		}
	}
	return out, nil
}
