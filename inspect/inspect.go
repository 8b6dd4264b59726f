package inspect

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/layer"
	"github.com/reprover/reprover/provenance"
)

// Options say how an image is inspected.
type Options struct {
	Limits Limits // with defaults
	// ImageLimits bound the attestation documents read from the image.
	ImageLimits image.Limits
	// Parallelism is the number of layers read at once (default 4).
	Parallelism int
	// Decompressor is how gzip layers are decompressed: DecompressAuto
	// (the default: igzip when it is on PATH, else Go), DecompressGo or
	// DecompressIgzip.
	Decompressor string
	// Scratch is where the inspection makes its directory for the
	// layers' entries (default: the system's temporary directory).
	Scratch string
	Logger  *slog.Logger
	// Keys check the reprover verdicts attached to the image; Threshold
	// is how many distinct keys must have signed a PASSED one (k of n).
	Keys      []*attest.PublicKey
	Threshold int
	// Registry says how to reach the image's registry for what is
	// attached to it.
	Registry attest.RegistryOptions
}

func (o Options) withDefaults() Options {
	o.Limits = o.Limits.WithDefaults()
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// The decompressors of gzip layers (layer.NewGunzipper).
const (
	DecompressAuto  = layer.DecompressAuto
	DecompressGo    = layer.DecompressGo
	DecompressIgzip = layer.DecompressIgzip
)

// Image inspects an opened image, every platform of it, and returns its
// trust report. An error means it could not be inspected; whatever it
// holds is a finding.
func Image(ctx context.Context, r *image.Resolved, o Options) (*Report, error) {
	o = o.withDefaults()
	rep := &Report{SchemaVersion: SchemaVersion, Image: r.Ref.String(), Digest: r.Digest.String(), Verdicts: []Verdict{}, Referrers: []Referrer{}}
	prov, locs, refs, err := readProvenance(ctx, r, o)
	if err != nil {
		return nil, err
	}
	rep.Provenance, rep.Referrers = prov, append(rep.Referrers, refs...)
	if err := vouch(ctx, r, o, rep); err != nil {
		return nil, err
	}
	gz, err := layer.NewGunzipper(o.Decompressor)
	if err != nil {
		return nil, param.Errorf("Decompressor", "{Decompressor}: %w", err)
	}
	scratch, err := os.MkdirTemp(o.Scratch, "reprover-inspect-*")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(scratch)
	walks, err := readLayers(ctx, r.Images, o, gz, scratch)
	defer walks.remove()
	if err != nil {
		return nil, err
	}
	var spent int64 // bytes scanned for secrets, all platforms together
	for _, img := range r.Images {
		p, err := inspectPlatform(img, walks, locs, &spent, o.Limits)
		if err != nil {
			return nil, err
		}
		switch {
		case rep.Provenance == nil:
			p.Findings = append(p.Findings, finding(NoProvenance, "", 0, "no SLSA provenance among the image's attestations"))
		case rep.Provenance.NotAbout != "":
			p.Findings = append(p.Findings, finding(NoProvenance, "", 0, "its provenance is not about it: "+rep.Provenance.NotAbout))
		}
		sortFindings(p.Findings)
		rep.Platforms = append(rep.Platforms, *p)
	}
	return rep, nil
}

// walks are the layers of an image, each read once whatever the number
// of platforms or places that list it.
type walks struct {
	mu sync.Mutex
	m  map[v1.Hash]*layer.Walked
}

func (w *walks) remove() {
	for _, x := range w.m {
		x.Remove()
	}
}

// readLayers walks every distinct layer of imgs, parallelism at a time.
func readLayers(ctx context.Context, imgs []*image.Image, o Options, gz layer.Gunzipper, scratch string) (*walks, error) {
	ws := &walks{m: map[v1.Hash]*layer.Walked{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.Parallelism)
	total := new(atomic.Int64)
	seen := map[v1.Hash]bool{}
	lo := layer.Options{Limits: o.Limits.walkLimits(), Gunzip: gz, Total: total, Scratch: scratch}
	for _, img := range imgs {
		for _, l := range img.Layers {
			d := l.Descriptor.Digest
			if seen[d] {
				continue
			}
			seen[d] = true
			g.Go(func() error {
				o.Logger.Debug("reading layer", "digest", d, "size", l.Descriptor.Size)
				w, err := layer.Walk(gctx, l, lo)
				if err != nil {
					return err
				}
				ws.mu.Lock()
				ws.m[d] = w
				ws.mu.Unlock()
				return nil
			})
		}
	}
	return ws, g.Wait()
}

// inspectPlatform judges one platform's image from its layers' walks.
func inspectPlatform(img *image.Image, ws *walks, locs map[string]provenance.Location, spent *int64, lim Limits) (*Platform, error) {
	cfg := img.Config.Config
	p := &Platform{Platform: image.PlatformString(img.Platform), Digest: img.Descriptor.Digest.String(), User: cfg.User, Findings: []Finding{}}
	if len(cfg.Labels) > 0 {
		p.Labels = map[string]string{}
		for k, v := range cfg.Labels {
			p.Labels[k] = Redact(v)
		}
	}
	c := newCollector(lim.MaxFindingsPerCheck)
	hist, layerOf, instr := history(img)
	for _, f := range userFindings(cfg.User) {
		c.add(f)
	}
	for _, f := range envFindings(cfg.Env) {
		c.add(f)
	}
	for _, f := range labelFindings(cfg.Labels) {
		c.add(f)
	}
	for _, f := range historyFindings(hist, layerOf) {
		c.add(f)
	}
	v := newView(lim.MaxPaths, func(check string, n *node, path string, by int, how string) {
		c.add(finding(check, path, n.layer, fmt.Sprintf("added by layer %d, %s by layer %d: it still ships in layer %d", n.layer, how, by, n.layer)))
		for _, i := range n.secrets {
			c.found[i].Evidence += fmt.Sprintf("; %s by layer %d, still in layer %d", how, by, n.layer)
		}
	})
	sc := &scan{lim: lim, s: &p.Scanned, spent: spent}
	for _, l := range img.Layers {
		at := l.Index + 1
		w := ws.m[l.Descriptor.Digest]
		if l.DiffID.Hex != "" && w.DiffID != l.DiffID.String() {
			return nil, fmt.Errorf("layer %d %s: uncompressed content hashes to %s, the config's diff_id is %s", at, l.Descriptor.Digest, w.DiffID, l.DiffID)
		}
		lr := Layer{Digest: l.Descriptor.Digest.String(), Size: l.Descriptor.Size, Instruction: instr[l.Index]}
		if loc, ok := locs[lr.Digest]; ok {
			lr.Dockerfile = loc.String()
		}
		for _, f := range append(layer.MediaTypeFinding(l.Descriptor.MediaType, w.Compression), w.Findings...) {
			c.add(finding(LayerOddity, f.Path, at, f.Kind+": "+f.Message))
		}
		if err := applyLayer(w, at, v, c, sc, &lr); err != nil {
			return nil, fmt.Errorf("layer %d %s: %w", at, l.Descriptor.Digest, err)
		}
		p.Layers = append(p.Layers, lr)
	}
	for _, f := range viewFindings(v) {
		c.add(f)
	}
	if f, ok := sc.finding(); ok {
		c.add(f)
	}
	p.Findings = c.result()
	return p, nil
}

// applyLayer puts one layer's entries on the view: its whiteouts first
// (they apply to the layers below), then the rest, each file's text
// scanned for secrets.
func applyLayer(w *layer.Walked, at int, v *view, c *collector, sc *scan, lr *Layer) error {
	for e, err := range w.All() {
		if err != nil {
			return err
		}
		switch {
		case e.Whiteout:
			err = v.whiteout(e.Path, at)
		case e.Opaque:
			err = v.opaque(e.Path, at)
		}
		if err != nil {
			return err
		}
	}
	for e, err := range w.All() {
		if err != nil {
			return err
		}
		if e.Whiteout || e.Opaque {
			continue
		}
		n, err := v.put(e, at)
		if err != nil {
			return err
		}
		if e.Type != layer.KindFile {
			continue
		}
		lr.Files++
		for _, f := range sc.file(e, at) {
			if i, ok := c.add(f); ok {
				n.secrets = append(n.secrets, i)
			}
		}
	}
	return nil
}

// history maps the config's history to the layers: layerOf[i] is the
// layer (from 1) history entry i made, 0 for none; instr[k] is the
// instruction that made layer k (from 0), secrets replaced, "" when the
// history does not say.
func history(img *image.Image) (hist []v1.History, layerOf []int, instr []string) {
	hist = img.Config.History
	layerOf = make([]int, len(hist))
	instr = make([]string, len(img.Layers))
	n := 0
	for i, h := range hist {
		if h.EmptyLayer {
			continue
		}
		n++
		layerOf[i] = n
	}
	if n != len(img.Layers) {
		clear(layerOf) // the history does not match the layers: trust neither
		return hist, layerOf, instr
	}
	for i, h := range hist {
		if layerOf[i] > 0 {
			instr[layerOf[i]-1] = RedactInstruction(h.CreatedBy)
		}
	}
	return hist, layerOf, instr
}

// collector keeps a platform's findings, at most max of each check.
type collector struct {
	max   int
	found []Finding
	n     map[string]int
}

func newCollector(max int) *collector { return &collector{max: max, n: map[string]int{}} }

// add keeps f, and returns its index, unless its check has max already.
func (c *collector) add(f Finding) (int, bool) {
	c.n[f.Check]++
	if c.n[f.Check] > c.max {
		return 0, false
	}
	c.found = append(c.found, f)
	return len(c.found) - 1, true
}

func (c *collector) result() []Finding {
	out := c.found
	for _, ch := range Checks {
		if n := c.n[ch.Name]; n > c.max {
			out = append(out, finding(MoreFindings, "", 0, fmt.Sprintf("%s: %d more findings not listed (MaxFindingsPerCheck=%d)", ch.Name, n-c.max, c.max)))
		}
	}
	if out == nil {
		out = []Finding{}
	}
	return out
}

// sortFindings puts the most serious first, keeping the order they were
// found in (layer by layer) within a severity.
func sortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int { return cmp.Compare(b.Severity.Rank(), a.Severity.Rank()) })
}
