package compare

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/reprover/reprover/image"
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
}

// Images compares image A with image B, every platform they have, and
// returns the report. An error means the comparison could not be done
// (an unreadable or hostile input beyond what a report can hold).
func Images(ctx context.Context, a, b *image.Resolved, o Options) (*Report, error) {
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	if o.NameA == "" {
		o.NameA, o.NameB = "A", "B"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	lim := o.Limits.withDefaults()
	rep := &Report{SchemaVersion: 1, Hints: []string{},
		A: &ImageRef{Ref: a.Ref.String(), Digest: a.Digest.String()},
		B: &ImageRef{Ref: b.Ref.String(), Digest: b.Digest.String()}}
	pairs, notes := pairPlatforms(a, b)

	// Read every distinct layer of every pair that is not bit-identical,
	// each once.
	ws := &walkSet{lim: lim, total: &atomic.Int64{}, entries: &atomic.Int64{}, m: map[v1.Hash]*walkFuture{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Parallelism)
	for _, p := range pairs {
		if p.a == nil || p.b == nil || p.a.Descriptor.Digest == p.b.Descriptor.Digest {
			continue
		}
		for _, img := range []*image.Image{p.a, p.b} {
			for _, l := range img.Layers {
				if f := ws.claim(l); f != nil {
					g.Go(func() error {
						o.Logger.Debug("reading layer", "digest", l.Descriptor.Digest, "size", l.Descriptor.Size)
						w, err := walkLayer(gctx, l, lim, ws.total)
						if err == nil {
							if n := ws.entries.Add(int64(len(w.Entries))); n > lim.MaxTotalEntries {
								err = &LimitError{What: "tar entries held by this comparison", Limit: "MaxTotalEntries", Max: lim.MaxTotalEntries, Got: n}
							}
						}
						f.w, f.err = w, err
						close(f.done)
						return err
					})
				}
			}
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for _, p := range pairs {
		pr, err := comparePair(p, ws, o)
		if err != nil {
			return nil, err
		}
		rep.Platforms = append(rep.Platforms, *pr)
	}
	rep.Hints = append(rep.Hints, notes...)

	rep.Verdict = Identical
	if a.Digest != b.Digest {
		rep.Verdict = Equivalent
		var enc []string
		if len(a.Attestations) != len(b.Attestations) || !sameDescs(a.Attestations, b.Attestations) {
			enc = append(enc, EncAttestations)
		}
		if a.IsIndex || b.IsIndex {
			enc = append(enc, EncIndex)
		}
		rep.Encoding = enc
	}
	for _, p := range rep.Platforms {
		switch p.Verdict {
		case Different:
			rep.Verdict = Different
		case Equivalent:
			if rep.Verdict == Identical {
				rep.Verdict = Equivalent
			}
		}
		for _, e := range p.Encoding {
			if !slices.Contains(rep.Encoding, e) {
				rep.Encoding = append(rep.Encoding, e)
			}
		}
	}
	if rep.Verdict == Different {
		rep.Encoding = nil
	}
	rep.Hints = append(rep.Hints, hints(rep, o)...)
	return rep, nil
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

// walkSet reads each distinct layer once.
type walkSet struct {
	mu      sync.Mutex
	lim     Limits
	total   *atomic.Int64 // uncompressed bytes read
	entries *atomic.Int64 // tar entries held
	m       map[v1.Hash]*walkFuture
}

type walkFuture struct {
	done  chan struct{}
	w     *walked
	err   error
	layer image.Layer
}

// claim returns a future to fill when l's digest has not been claimed yet.
func (s *walkSet) claim(l image.Layer) *walkFuture {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[l.Descriptor.Digest]; ok {
		return nil
	}
	f := &walkFuture{done: make(chan struct{}), layer: l}
	s.m[l.Descriptor.Digest] = f
	return f
}

// get returns the walk of l, checking l's own diffID claim against what
// the (possibly shared) walk found.
func (s *walkSet) get(l image.Layer) (*walked, error) {
	s.mu.Lock()
	f := s.m[l.Descriptor.Digest]
	s.mu.Unlock()
	<-f.done
	if f.err != nil {
		return nil, f.err
	}
	if l.DiffID.Hex != "" && f.w.DiffID != l.DiffID.String() {
		return nil, fmt.Errorf("layer %d %s: uncompressed content hashes to %s, the config's diff_id is %s", l.Index, l.Descriptor.Digest, f.w.DiffID, l.DiffID)
	}
	// The walk is shared by every image that lists this blob, but each
	// lists it under its own media type: judge that claim per image.
	w := *f.w
	if mf := mediaTypeFinding(l.Descriptor.MediaType, w.Compression); mf != nil {
		w.Findings = append(mf, w.Findings...)
	}
	return &w, nil
}

func comparePair(p pair, ws *walkSet, o Options) (*Platform, error) {
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
	instrB := instructions(p.b.RawConfig)
	instrA := instructions(p.a.RawConfig)
	if p.a.Descriptor.Digest == p.b.Descriptor.Digest {
		pr.Verdict = Identical
		for i, l := range p.b.Layers {
			pr.Layers = append(pr.Layers, LayerReport{Index: i, Published: l.Descriptor.Digest.String(),
				Rebuilt: l.Descriptor.Digest.String(), Instruction: at(instrB, i), Verdict: Identical, Files: []FileChange{}})
		}
		return pr, nil
	}

	labels := &[2]string{o.NameA, o.NameB}
	different := false
	enc := map[string]bool{}
	if p.a.Manifest.MediaType != p.b.Manifest.MediaType || p.a.Manifest.Config.MediaType != p.b.Manifest.Config.MediaType {
		enc[EncMediaTypes] = true
	}
	mf, err := diffManifestFields(p.a.RawManifest, p.b.RawManifest)
	if err != nil {
		return nil, err
	}
	cf, err := diffConfig(p.a.RawConfig, p.b.RawConfig)
	if err != nil {
		return nil, err
	}

	// Layers, pair by pair, and the merged filesystems.
	va, vb := newFSView(), newFSView()
	layersEquivalent := len(p.a.Layers) == len(p.b.Layers)
	for i := range max(len(p.a.Layers), len(p.b.Layers)) {
		lr := LayerReport{Index: i, Files: []FileChange{}}
		var wa, wb *walked
		if i < len(p.a.Layers) {
			la := p.a.Layers[i]
			lr.Rebuilt = la.Descriptor.Digest.String()
			if wa, err = ws.get(la); err != nil {
				return nil, err
			}
			va.apply(i, wa.Entries)
		}
		if i < len(p.b.Layers) {
			lb := p.b.Layers[i]
			lr.Published = lb.Descriptor.Digest.String()
			if wb, err = ws.get(lb); err != nil {
				return nil, err
			}
			vb.apply(i, wb.Entries)
			lr.Findings = append(lr.Findings, wb.Findings...)
		}
		if wa != nil && wb != nil {
			for _, f := range wa.Findings {
				if !slices.Contains(lr.Findings, f) {
					lr.Findings = append(lr.Findings, f)
				}
			}
		} else if wa != nil {
			lr.Findings = append(lr.Findings, wa.Findings...)
		}
		lr.Instruction = at(instrB, i)
		if lr.Instruction == "" {
			lr.Instruction = at(instrA, i)
		}
		// Per-layer file maps only where files may differ: identical and
		// recompressed layers (equal bytes) need none.
		layerFiles := func() []FileChange {
			ma, ca := layerMap(entriesOf(wa))
			mb, cb := layerMap(entriesOf(wb))
			return diffEntries(ma, mb, ca, cb, labels)
		}
		switch {
		case wa == nil:
			lr.Verdict = Added
			lr.Files = layerFiles()
		case wb == nil:
			lr.Verdict = Removed
			lr.Files = layerFiles()
		case lr.Rebuilt == lr.Published:
			lr.Verdict = Identical
			if p.a.Layers[i].Descriptor.MediaType != p.b.Layers[i].Descriptor.MediaType {
				enc[EncMediaTypes] = true
			}
		case wa.DiffID == wb.DiffID:
			lr.Verdict = Equivalent
			lr.Encoding = []string{EncCompression}
			if declaredCompression(p.a.Layers[i].Descriptor.MediaType) == declaredCompression(p.b.Layers[i].Descriptor.MediaType) &&
				p.a.Layers[i].Descriptor.MediaType != p.b.Layers[i].Descriptor.MediaType {
				lr.Encoding = append(lr.Encoding, EncMediaTypes)
			}
		default:
			lr.Files = layerFiles()
			if len(lr.Files) == 0 {
				lr.Verdict = Equivalent
				lr.Encoding = []string{EncTarHeaders}
				if wa.Compression != wb.Compression {
					lr.Encoding = append(lr.Encoding, EncCompression)
				}
			} else {
				lr.Verdict = Different
			}
		}
		for _, e := range lr.Encoding {
			enc[e] = true
		}
		if lr.Verdict != Identical && lr.Verdict != Equivalent {
			layersEquivalent = false
			different = true
		}
		pr.Layers = append(pr.Layers, lr)
	}
	pr.Files = diffEntries(va.entries, vb.entries, nil, nil, labels)
	pr.Findings = append(append(pr.Findings, va.Findings...), vb.Findings...)
	if len(pr.Files) > 0 {
		different = true
	}

	// rootfs.diff_ids differ exactly when a layer's tar stream differs;
	// when every layer is equivalent that difference is encoding.
	for _, c := range cf {
		if c.Field == "rootfs.diff_ids" && layersEquivalent {
			continue
		}
		pr.Config = append(pr.Config, c)
	}
	pr.Config = append(pr.Config, mf...)
	if len(pr.Config) > 0 {
		different = true
	} else if string(p.a.RawConfig) != string(p.b.RawConfig) && len(cf) == 0 {
		enc[EncConfigJSON] = true
	}
	if different {
		pr.Verdict = Different
	} else {
		pr.Verdict = Equivalent
		for _, e := range []string{EncCompression, EncMediaTypes, EncTarHeaders, EncConfigJSON} {
			if enc[e] {
				pr.Encoding = append(pr.Encoding, e)
			}
		}
	}
	return pr, nil
}

func entriesOf(w *walked) []*Entry {
	if w == nil {
		return nil
	}
	return w.Entries
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// hints explain likely causes of the differences found.
func hints(rep *Report, o Options) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range rep.Platforms {
		if p.Verdict != Different {
			continue
		}
		mtimeOnly, any := true, false
		for _, f := range p.Files {
			any = true
			if !slices.Equal(f.Aspects, []string{AspMtime}) {
				mtimeOnly = false
			}
		}
		for _, l := range p.Layers {
			for _, f := range l.Files {
				any = true
				if !slices.Equal(f.Aspects, []string{AspMtime}) {
					mtimeOnly = false
				}
			}
		}
		for _, c := range p.Config {
			if c.Field != "created" && !strings.HasPrefix(c.Field, "history[") && c.Field != "rootfs.diff_ids" {
				mtimeOnly = false
			}
		}
		if any && mtimeOnly {
			add(fmt.Sprintf("%s: only modification times differ: the %s image was probably built without SOURCE_DATE_EPOCH or without rewrite-timestamp.", p.Platform, o.NameB))
		}
		for _, l := range p.Layers {
			instr := strings.ToUpper(l.Instruction)
			if !strings.HasPrefix(instr, "COPY") && !strings.HasPrefix(instr, "ADD") {
				continue
			}
			for _, f := range l.Files {
				if f.Change == Added {
					add(fmt.Sprintf("%s: %s is only in %s, in layer %d made by %q: a file the build does not produce was injected after the build.", p.Platform, f.Path, o.NameB, l.Index, l.Instruction))
				}
			}
		}
		for _, v := range injectedEnv(p.Config) {
			name, _, _ := strings.Cut(v, "=")
			add(fmt.Sprintf("%s: the %s config sets %s, which the %s config does not: an injected variable.", p.Platform, o.NameB, name, o.NameA))
		}
		for _, l := range p.Layers {
			if l.Verdict == Added {
				add(fmt.Sprintf("%s: layer %d is only in %s.", p.Platform, l.Index, o.NameB))
			}
		}
	}
	return out
}
