package compare

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/archive"
	"github.com/reprover/reprover/layer"
)

// Options configure a comparison.
type Options struct {
	Limits Limits
	// Parallelism is how many layers are read at once (default 4).
	Parallelism int
	// NameA and NameB name the two sides in hints: "rebuilt" and
	// "published" for verify, "A" and "B" for diff.
	NameA, NameB string
	Logger       *slog.Logger
	// Window is when the two builds ran: times found inside differing
	// files within it are named as the builds' times (package causes).
	Window causes.Window
	// Diffoscope, when set, looks inside each differing file pair.
	Diffoscope *Diffoscope
	// Decompressor is how gzip layers are decompressed: DecompressGo,
	// DecompressIgzip (an error when igzip is not on PATH), or
	// DecompressAuto, the default: igzip for layers of 1 MiB or more
	// compressed when it is on PATH, else Go (docs/performance.md).
	Decompressor string
	// Index, when set, keeps what walks learn of layers across
	// comparisons: a layer found there is not read again.
	Index *Index
	// Downloads are a verification's downloads that moved since the
	// release: a package that changed (Platform.Packages) links those
	// that are its file.
	Downloads []Download
	// Scratch is where a comparison makes its directory for the entries
	// its walks read (about 100 bytes an entry, and the text kept for
	// diffs; removed when it returns); "" is the system's temporary
	// directory.
	Scratch string
}

// Reading layers is package layer's; a comparison's options name its
// decompressors and its index as these.
const (
	DecompressAuto    = layer.DecompressAuto
	DecompressGo      = layer.DecompressGo
	DecompressIgzip   = layer.DecompressIgzip
	DefaultIndexBytes = layer.DefaultIndexBytes
)

// Index is the persistent index of layers (layer.Index).
type Index = layer.Index

// OpenIndex opens the index kept in dir (layer.OpenIndex).
func OpenIndex(dir string, maxBytes int64) (*Index, error) { return layer.OpenIndex(dir, maxBytes) }

// Images compares image A with image B, every platform they have, and
// returns the report. An error means the comparison could not be done
// (an unreadable or hostile input beyond what a report can hold).
func Images(ctx context.Context, a, b *image.Resolved, o Options) (*Report, error) {
	return images(ctx, a, b, o, hooks{})
}

// hooks let tests see what a comparison reads.
type hooks struct {
	walked  func(image.Layer) // called for each layer read, before reading it
	hashed  func(image.Layer) // called for each layer read for its twin's sake
	bare    func(image.Layer) // called for each layer walked without hashing its contents
	readAll bool              // read the shared layers even when not needed, and walk every layer read
}

func images(ctx context.Context, a, b *image.Resolved, o Options, h hooks) (*Report, error) {
	o = o.withDefaults()
	lim := o.Limits
	gz, err := layer.NewGunzipper(o.Decompressor)
	if err != nil {
		return nil, err
	}
	rep := &Report{SchemaVersion: 1, Hints: []string{},
		A: &ImageRef{Ref: a.Ref.String(), Digest: a.Digest.String()},
		B: &ImageRef{Ref: b.Ref.String(), Digest: b.Digest.String()}}
	pairs, notes := pairPlatforms(a, b)

	scratch, err := os.MkdirTemp(o.Scratch, "reprover-compare-*")
	if err != nil {
		return nil, fmt.Errorf("scratch directory: %w", err)
	}
	defer os.RemoveAll(scratch)
	ws := &walkSet{total: &atomic.Int64{}, entries: &atomic.Int64{}, m: map[v1.Hash]*walkFuture{},
		lim: lim, gz: gz, index: o.Index, logger: o.Logger, hooks: h, scratch: scratch}
	defer ws.close()
	plans, err := readLayers(ctx, pairs, ws, o, h.readAll)
	if err != nil {
		return nil, err
	}
	archives := archive.NewBudget(lim.archives()) // one for every platform
	for i, p := range pairs {
		pr, err := comparePair(p, plans[i], ws, o)
		if err != nil {
			return nil, err
		}
		if pr.Verdict == Different && p.a != nil && p.b != nil {
			if err := explainPlatform(ctx, pr, p.a, p.b, plans[i].databases, lim, o, ws, archives); err != nil {
				return nil, err
			}
		}
		rep.Platforms = append(rep.Platforms, *pr)
	}
	rep.Hints = append(rep.Hints, notes...)
	rep.Hints = append(rep.Hints, packageHints(rep, o)...)
	rep.Verdict, rep.Encoding = verdictOf(a, b, rep.Platforms)
	rep.Hints = append(rep.Hints, hints(rep, o)...)
	rep.Hints = append(rep.Hints, causeHints(rep)...)
	return rep, nil
}

// withDefaults is o with its defaults filled in, its limits' too.
func (o Options) withDefaults() Options {
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	if o.NameA == "" {
		o.NameA, o.NameB = "A", "B"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.Limits = o.Limits.withDefaults()
	return o
}

// readLayers reads every distinct layer of every pair that is not
// bit-identical, each once: first the layers above the pair's shared
// layers, then the shared layers of the pairs whose merged views need
// them (readAll: all of them). It returns each pair's plan (nil for a
// pair not read).
func readLayers(ctx context.Context, pairs []pair, ws *walkSet, o Options, readAll bool) ([]*plan, error) {
	plans := make([]*plan, len(pairs))
	if !readAll {
		ws.twins, ws.bare = twinLayers(pairs)
	}
	err := ws.read(ctx, o.Parallelism, func(start func(image.Layer)) {
		for i, p := range pairs {
			if p.a == nil || p.b == nil || p.a.Descriptor.Digest == p.b.Descriptor.Digest {
				continue
			}
			plans[i] = &plan{shared: sharedLayers(p.a, p.b)}
			if readAll {
				plans[i].shared = 0
			}
			for _, img := range []*image.Image{p.a, p.b} {
				for _, l := range img.Layers[plans[i].shared:] {
					start(l)
				}
			}
		}
	})
	if err != nil {
		return nil, err
	}
	err = ws.read(ctx, o.Parallelism, func(start func(image.Layer)) {
		for i, p := range pairs {
			pl := plans[i]
			if pl == nil || pl.shared == 0 {
				continue
			}
			if reason := pl.overUnread(p.a, p.b, ws, &[2]string{o.NameA, o.NameB}); reason != "" {
				o.Logger.Debug("reading the shared layers", "platform", p.name, "layers", pl.shared, "because", reason)
				for _, l := range p.a.Layers[:pl.shared] {
					start(l)
				}
				pl.shared = 0
			}
		}
	})
	return plans, err
}

type pair struct {
	name string
	a, b *image.Image
}

// pairPlatforms pairs the platform images of A and B by platform; two
// single images are paired whatever their platforms.
func pairPlatforms(a, b *image.Resolved) ([]pair, []string) {
	if !a.IsIndex && !b.IsIndex {
		ia, ib := a.Images[0], b.Images[0]
		var notes []string
		if image.PlatformString(ia.Platform) != image.PlatformString(ib.Platform) {
			notes = append(notes, fmt.Sprintf("The images are for different platforms: %s and %s.", image.PlatformString(ia.Platform), image.PlatformString(ib.Platform)))
		}
		return []pair{{name: image.PlatformString(ib.Platform), a: ia, b: ib}}, notes
	}
	byKey := map[string]*pair{}
	var order []string
	// An index may list a platform twice; a runtime pulls the first. Every
	// entry is compared: the n-th of a platform with the n-th of the other
	// side, so an extra one is a difference, never dropped.
	seen := map[string]int{}
	add := func(img *image.Image, isA bool) {
		k := image.PlatformString(img.Platform)
		side := fmt.Sprintf("%s %v", k, isA)
		seen[side]++
		if n := seen[side]; n > 1 {
			k = fmt.Sprintf("%s (entry %d)", k, n)
		}
		p, ok := byKey[k]
		if !ok {
			p = &pair{name: k}
			byKey[k] = p
			order = append(order, k)
		}
		if isA {
			p.a = img
		} else {
			p.b = img
		}
	}
	for _, img := range a.Images {
		add(img, true)
	}
	for _, img := range b.Images {
		add(img, false)
	}
	sort.Strings(order)
	out := make([]pair, 0, len(order))
	for _, k := range order {
		out = append(out, *byKey[k])
	}
	return out, nil
}

func sameDescs(a, b []v1.Descriptor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Digest != b[i].Digest {
			return false
		}
	}
	return true
}

// comparePair compares the two images of one platform, either of which may
// be missing; pl is nil when they are missing or the same manifest.
func comparePair(p pair, pl *plan, ws *walkSet, o Options) (*Platform, error) {
	pr := &Platform{Platform: p.name, Encoding: []string{}, Config: []FieldChange{}, Layers: []LayerReport{}, Files: []FileChange{}}
	switch {
	case p.a == nil:
		pr.Verdict, pr.Published = Different, p.b.Descriptor.Digest.String()
		pr.Notes = append(pr.Notes, fmt.Sprintf("platform %s is only in %s", p.name, o.NameB))
		return pr, nil
	case p.b == nil:
		pr.Verdict, pr.Rebuilt = Different, p.a.Descriptor.Digest.String()
		pr.Notes = append(pr.Notes, fmt.Sprintf("platform %s is only in %s", p.name, o.NameA))
		return pr, nil
	}
	pr.Rebuilt, pr.Published = p.a.Descriptor.Digest.String(), p.b.Descriptor.Digest.String()
	if p.a.Descriptor.Digest == p.b.Descriptor.Digest {
		pr.Verdict = Identical
		instr := instructions(p.b.RawConfig)
		for i, l := range p.b.Layers {
			pr.Layers = append(pr.Layers, LayerReport{Index: i, Published: l.Descriptor.Digest.String(),
				Rebuilt: l.Descriptor.Digest.String(), Instruction: at(instr, i), Verdict: Identical, Files: []FileChange{}})
		}
		return pr, nil
	}
	return pr, diffPlatform(pr, p.a, p.b, pl, ws, &[2]string{o.NameA, o.NameB})
}

// diffPlatform fills pr in for two platform images whose manifests differ:
// their layers from pl.shared up were read, and so were the others when
// pl has no merged views built without them.
func diffPlatform(pr *Platform, a, b *image.Image, pl *plan, ws *walkSet, labels *[2]string) error {
	mf, err := diffManifestFields(a.RawManifest, b.RawManifest)
	if err != nil {
		return err
	}
	cf, err := diffConfig(a.RawConfig, b.RawConfig)
	if err != nil {
		return err
	}
	instrA, instrB := instructions(a.RawConfig), instructions(b.RawConfig)
	d := pl.merged
	if d == nil {
		sa, sb, err := sides(a, b, 0, ws)
		if err != nil {
			return err
		}
		if d, err = diffMerged(0, sa, sb, false, chunkPaths, labels); err != nil {
			return err
		}
	}
	pr.Files = d.files
	pl.databases = d.databases
	pr.Findings = append(append(pr.Findings, d.findings[0]...), d.findings[1]...)
	pl.merged = nil
	var layers []layerResult
	for i := range max(len(a.Layers), len(b.Layers)) {
		if i < pl.shared {
			l := skippedLayer(i, &a.Layers[i], &b.Layers[i], cmp.Or(at(instrB, i), at(instrA, i)))
			layers = append(layers, l)
			pr.Layers = append(pr.Layers, l.report)
			continue
		}
		sa, err := sideAt(a, instrA, i, ws)
		if err != nil {
			return err
		}
		sb, err := sideAt(b, instrB, i, ws)
		if err != nil {
			return err
		}
		l, err := compareLayer(i, sa, sb, labels)
		if err != nil {
			return err
		}
		layers = append(layers, l)
		pr.Layers = append(pr.Layers, l.report)
	}
	config := slices.Concat(cf, mf)
	pr.Config = append(pr.Config, countedConfig(config, layersEquivalent(layers))...)
	mediaTypesDiffer := a.Manifest.MediaType != b.Manifest.MediaType || a.Manifest.Config.MediaType != b.Manifest.Config.MediaType
	verdict, enc := platformVerdict(layers, config, pr.Files, string(a.RawConfig) != string(b.RawConfig), mediaTypesDiffer)
	pr.Verdict, pr.Encoding = verdict, append(pr.Encoding, enc...)
	return nil
}

// plan is how one pair of platform images is read: the first shared
// layers are the same blobs in both (sharedLayers); when merged is set,
// it is the comparison of the merged views built without them, and those
// layers are not read.
type plan struct {
	shared int
	merged *mergedDiff
	// databases are the package database files of each merged view
	// (mergedDiff.databases).
	databases [2][]string
}

// twinLayers pairs each layer of a B image above the layers it shares
// with its A image with the A layer at the same index when both claim
// the same diff_id (a layer recompressed): the B layer then needs only
// decompressing and hashing, and the A layer's walk stands for both once
// their uncompressed bytes are found to hash alike (walkSet.borrow). A
// layer that is also on an A side, or paired otherwise elsewhere, is
// walked.
//
// In a pair whose layers above the shared ones are all twins, the A
// layers' entries are compared with nothing but themselves (the B side
// borrows them): bare lists those walked without hashing their contents,
// when no other pair needs them.
func twinLayers(pairs []pair) (twins map[v1.Hash]v1.Hash, bare map[v1.Hash]bool) {
	twins, bare = map[v1.Hash]v1.Hash{}, map[v1.Hash]bool{}
	walked := map[v1.Hash]bool{}
	hashed := map[v1.Hash]bool{} // A layers some pair needs the contents of
	type candidate struct{ as, bs []v1.Hash }
	var candidates []candidate
	for _, p := range pairs {
		if p.a == nil || p.b == nil || p.a.Descriptor.Digest == p.b.Descriptor.Digest {
			continue
		}
		for _, d := range layerDigests(p.a) {
			walked[d] = true
		}
		shared := sharedLayers(p.a, p.b)
		all := len(p.a.Layers) == len(p.b.Layers)
		for i := shared; i < len(p.b.Layers); i++ {
			lb := p.b.Layers[i]
			d := lb.Descriptor.Digest
			if i >= len(p.a.Layers) || p.a.Layers[i].DiffID != lb.DiffID || lb.DiffID.Hex == "" {
				walked[d] = true
				all = false
				continue
			}
			if t, ok := twins[d]; ok && t != p.a.Layers[i].Descriptor.Digest {
				walked[d] = true
			}
			twins[d] = p.a.Layers[i].Descriptor.Digest
		}
		as := layerDigests(p.a)
		if all {
			candidates = append(candidates, candidate{as[shared:], layerDigests(p.b)[shared:]})
			as = as[:shared]
		}
		for _, d := range as {
			hashed[d] = true
		}
	}
	for d := range twins {
		if walked[d] {
			delete(twins, d)
		}
	}
	// Bare only when every B layer of the pair is a twin after all.
	for _, c := range candidates {
		ok := true
		for i, d := range c.as {
			ok = ok && !hashed[d] && twins[c.bs[i]] == d
		}
		for _, d := range c.as {
			if ok {
				bare[d] = true
			} else {
				hashed[d] = true
			}
		}
	}
	for d := range bare {
		if hashed[d] {
			delete(bare, d)
		}
	}
	return twins, bare
}

func layerDigests(img *image.Image) []v1.Hash {
	var out []v1.Hash
	for _, l := range img.Layers {
		out = append(out, l.Descriptor.Digest)
	}
	return out
}

// sharedLayers counts the layers at the bottom of a and b that are the
// same blob, claimed with the same diff_id, at the same index. A blob
// claimed with two diff_ids is read, so that the false claim is an error.
func sharedLayers(a, b *image.Image) int {
	n := 0
	for n < len(a.Layers) && n < len(b.Layers) &&
		a.Layers[n].Descriptor.Digest == b.Layers[n].Descriptor.Digest && a.Layers[n].DiffID == b.Layers[n].DiffID {
		n++
	}
	return n
}

// overUnread compares the merged views built over the unread shared
// layers and keeps the comparison when it does not depend on those
// layers; otherwise it says why it does.
func (pl *plan) overUnread(a, b *image.Image, ws *walkSet, labels *[2]string) string {
	sa, sb, err := sides(a, b, pl.shared, ws)
	if err != nil {
		return err.Error() // the full read reports it
	}
	d, err := diffMerged(pl.shared, sa, sb, true, chunkPaths, labels)
	if err != nil {
		return err.Error() // the full read reports it
	}
	if d.need != "" {
		return d.need
	}
	pl.merged = d
	return ""
}

// sides lists the walks of the layers of a and b from index from up.
func sides(a, b *image.Image, from int, ws *walkSet) (sa, sb []*layer.Runs, err error) {
	side := func(img *image.Image) ([]*layer.Runs, error) {
		var out []*layer.Runs
		for i := from; i < len(img.Layers); i++ {
			w, err := ws.get(img.Layers[i])
			if err != nil {
				return nil, err
			}
			out = append(out, w.Entries())
		}
		return out, nil
	}
	if sa, err = side(a); err == nil {
		sb, err = side(b)
	}
	return sa, sb, err
}
