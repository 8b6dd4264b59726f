package builder

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/moby/buildkit/client"
	"github.com/moby/buildkit/solver/pb"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	digest "github.com/opencontainers/go-digest"

	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
)

// Bases is where a rebuild's base images come from instead of their
// registries (a kit): the images it holds and every blob of them. The
// builder copies each blob before the build, checking its sha256 and size
// as it is read (whatever OpenBase does), and the build reads the copies.
type Bases interface {
	// BaseImages are the digests (sha256:…) of the images held, each an
	// index or a manifest as a FROM pins it.
	BaseImages() []string
	// BaseBlobs are the digests of every blob of those images (their
	// indexes, manifests, configs and layers) with each one's size.
	BaseBlobs() map[string]int64
	// OpenBase streams the blob with that digest.
	OpenBase(digest string) (io.ReadCloser, error)
}

// How much of a Bases a build takes: blobs, and bytes in all.
const (
	maxBaseBlobs = 100_000
	maxBaseBytes = 256 << 30
)

// The OCI store the bases are served from, as the session names it
// (SolveOpt.OCIStores), and the name their converted sources carry: the
// name is never resolved, the store is found by the oci.store attribute.
const (
	basesStore = "reprover-bases"
	basesName  = "reprover/base"
)

// bases serves a Bases to one build as a content store of the client's
// session, and says how the build's source policy sends each base there.
// What BuildKit v0.34.2 does with them (solver/llbsolver/bridge.go,
// source/containerimage/ocilayout.go, frontend/dockerfile/dockerfile2llb):
//
//   - The frontend resolves FROM's config through the bridge, which applies
//     the source policy first: a CONVERT of docker-image://REF@DIGEST to
//     oci-layout://NAME@DIGEST with the attribute oci.store makes the worker
//     read the index or manifest, the platform's manifest and the config
//     from the session's store "oci:"+STORE (SolveOpt.OCIStores), reached
//     through the client's own connection: no registry, no network between
//     the daemon and this machine.
//   - The frontend then names the base by what the conversion returned
//     (docker.io/NAME@DIGEST): the same rule, matching any name with that
//     digest, converts it again when the image is pulled.
//   - The daemon writes what it reads into its own content store under
//     the expected digest, which checks it; the layers keep their digests
//     and media types, so the exported image is the one a pull from the
//     registry gives.
type bases struct {
	dir    string
	store  *servedStore
	images []string // digests converted
}

// startBases copies b's blobs into a scratch directory, each checked, and
// opens them as a content store. images are the digests the build may
// convert (nil: all b holds); a base that a build may not fetch is never
// converted, so it stays refused by the policy's other rules.
func startBases(ctx context.Context, b Bases, allowed []string) (*bases, error) {
	blobs := b.BaseBlobs()
	if len(blobs) > maxBaseBlobs {
		return nil, &limits.Error{What: "blobs of the bases", Limit: "maxBaseBlobs", Max: maxBaseBlobs, Got: int64(len(blobs))}
	}
	var total int64
	for _, d := range slices.Sorted(maps.Keys(blobs)) {
		if err := checkBaseDigest(d); err != nil {
			return nil, err
		}
		if n := blobs[d]; n < 0 || n > maxBaseBytes-total {
			return nil, &limits.Error{What: "bytes of the bases (" + d + ")", Limit: "maxBaseBytes", Max: maxBaseBytes, Got: total + n}
		}
		total += blobs[d]
	}
	var images []string
	for _, d := range b.BaseImages() {
		if err := checkBaseDigest(d); err != nil {
			return nil, err
		}
		if _, ok := blobs[d]; !ok {
			return nil, fmt.Errorf("base image %s: its index or manifest is not among the blobs held", d)
		}
		if allowed == nil || slices.Contains(allowed, d) {
			images = appendNew(images, d)
		}
	}
	dir, err := os.MkdirTemp("", "reprover-bases-")
	if err != nil {
		return nil, err
	}
	bs := &bases{dir: dir, images: images}
	for _, d := range slices.Sorted(maps.Keys(blobs)) {
		if err := ctx.Err(); err != nil {
			bs.close()
			return nil, err
		}
		if err := copyBase(b, d, blobs[d], filepath.Join(dir, "blobs", "sha256")); err != nil {
			bs.close()
			return nil, err
		}
	}
	st, err := local.NewStore(dir)
	if err != nil {
		bs.close()
		return nil, err
	}
	bs.store = &servedStore{Store: st}
	return bs, nil
}

var baseDigestRe = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)

func checkBaseDigest(d string) error {
	if !baseDigestRe.MatchString(d) {
		return fmt.Errorf("base blob %q: not a sha256 digest of 64 lower-case hex digits", text.Truncate(d, 80))
	}
	return nil
}

// copyBase copies the blob d of size n into dir, named by its digest,
// failing (and keeping nothing) when the bytes read are not d's.
func copyBase(b Bases, d string, n int64, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rc, err := b.OpenBase(d)
	if err != nil {
		return fmt.Errorf("base blob %s: %w", d, err)
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, ".copy-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	got, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(rc, n+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch sum := "sha256:" + hex.EncodeToString(h.Sum(nil)); {
	case err != nil:
		return fmt.Errorf("base blob %s: after %d bytes: %w", d, got, err)
	case got != n:
		return fmt.Errorf("base blob %s: %d bytes or more, its size is %d", d, got, n)
	case sum != d:
		return fmt.Errorf("base blob %s: its bytes are %s", d, sum)
	}
	return os.Rename(f.Name(), filepath.Join(dir, d[len("sha256:"):]))
}

func (bs *bases) close() {
	if bs != nil {
		os.RemoveAll(bs.dir)
	}
}

// apply adds the store to the solve and the rules that send each base
// there: converted, and the converted source allowed (after the rules of
// Allowed, which deny every oci-layout source).
func (bs *bases) apply(opt *client.SolveOpt) {
	if len(bs.images) == 0 {
		return
	}
	opt.OCIStores = map[string]content.Store{basesStore: bs.store}
	if opt.SourcePolicy == nil {
		opt.SourcePolicy = &spb.Policy{Version: 1}
	}
	for _, d := range bs.images {
		to := "oci-layout://" + basesName + "@" + d
		opt.SourcePolicy.Rules = append(opt.SourcePolicy.Rules,
			&spb.Rule{Action: spb.PolicyAction_CONVERT,
				Selector: &spb.Selector{Identifier: `^docker-image://[^@]+@` + regexp.QuoteMeta(d) + `$`, MatchType: spb.MatchType_REGEX},
				Updates:  &spb.Update{Identifier: to, Attrs: map[string]string{pb.AttrOCILayoutStoreID: basesStore}}},
			&spb.Rule{Action: spb.PolicyAction_ALLOW,
				Selector: &spb.Selector{Identifier: to, MatchType: spb.MatchType_EXACT}})
	}
}

// served are the base images the build took from the store instead of
// their registries (whether the daemon read them again or still held
// their blobs from an earlier build: the same bytes, by digest).
func (bs *bases) served() []string {
	if bs == nil {
		return nil
	}
	return slices.Clone(bs.images)
}

// servedStore is the bases' content store as the session serves it:
// read-only.
type servedStore struct{ content.Store }

func (s *servedStore) Writer(context.Context, ...content.WriterOpt) (content.Writer, error) {
	return nil, errReadOnly
}

func (s *servedStore) Delete(context.Context, digest.Digest) error { return errReadOnly }

func (s *servedStore) Update(context.Context, content.Info, ...string) (content.Info, error) {
	return content.Info{}, errReadOnly
}

var errReadOnly = errors.New("reprover's base images are read-only")

// basesOf starts serving a Spec's Bases (nil when it has none) and adds
// them to its solve.
func basesOf(ctx context.Context, s Spec, opt *client.SolveOpt) (*bases, error) {
	if s.Bases == nil {
		return nil, nil
	}
	var allowed []string
	if s.Only != nil {
		allowed = s.Only.Images
		if allowed == nil {
			allowed = []string{}
		}
	}
	bs, err := startBases(ctx, s.Bases, allowed)
	if err != nil {
		return nil, err
	}
	bs.apply(opt)
	return bs, nil
}
