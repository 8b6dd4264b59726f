package compare

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/archive"
	"github.com/reprover/reprover/layer"
)

// Explaining a difference reads the contents of the files that differ a
// second time (their layers were read, and checked, by the comparison),
// bounded by these limits: a file larger than maxExplainFile, or read
// after maxExplainTotal bytes were kept, is judged by its path alone.
const (
	maxExplainFile  = 16 << 20
	maxExplainTotal = 256 << 20
)

// CauseCount is how many of a platform's differences one cause explains.
type CauseCount struct {
	Cause string   `json:"cause"`
	Title string   `json:"title"`
	Count int      `json:"count"`
	Paths []string `json:"paths"`
	Fix   string   `json:"fix"`
	Doc   string   `json:"doc"`
}

// target is one differing file to explain: where its report is and
// which layer, on each side, holds its content (-1: the merged view).
type target struct {
	fc    *FileChange
	layer int
}

// explainPlatform names the cause of every file difference of pr (merged
// and per layer), reading the differing files' contents from a's and
// b's layers (ws has the walks of those it read), then the package
// databases of each (databases) to name the packages that changed, and
// tallies the causes.
// The archives inside the files spend from bud, the comparison's budget.
func explainPlatform(ctx context.Context, pr *Platform, a, b *image.Image, databases [2][]string, lim Limits, o Options, ws *walkSet, bud *archive.Budget) error {
	for i := range pr.Config {
		c := &pr.Config[i]
		if c.Field == "rootfs.diff_ids" || strings.HasPrefix(c.Field, "manifest.layers") {
			continue
		}
		f, err := causes.Classify(ctx, causes.Input{Path: c.Field, ContentDiffers: true, A: c.Rebuilt, B: c.Published, Window: o.Window, Archives: bud})
		if err != nil {
			return err
		}
		c.Cause, c.Evidence = f.Cause, f.Evidence
	}
	var targets []target
	for i := range pr.Files {
		targets = append(targets, target{&pr.Files[i], -1})
	}
	for li := range pr.Layers {
		for fi := range pr.Layers[li].Files {
			targets = append(targets, target{&pr.Layers[li].Files[fi], pr.Layers[li].Index})
		}
	}
	if len(targets) == 0 {
		return nil
	}
	budget := int64(maxExplainTotal)
	ca, err := fetchContents(ctx, a, targets, lim, &budget, ws)
	if err != nil {
		return err
	}
	cb, err := fetchContents(ctx, b, targets, lim, &budget, ws)
	if err != nil {
		return err
	}
	in := &inside{o: o, budget: bud}
	// A difference seen both in the merged view and in its layer (the
	// same path, change and contents) is explained once: its archives are
	// read once from the comparison's budget, not once per list.
	explained := map[explainKey]*FileChange{}
	for i, t := range targets {
		if err := ctx.Err(); err != nil {
			return err
		}
		k := keyOf(t.fc, ca[i], cb[i])
		if prev, ok := explained[k]; ok {
			t.fc.Cause, t.fc.Evidence, t.fc.Inner = prev.Cause, prev.Evidence, prev.Inner
			continue
		}
		f, err := classify(ctx, t.fc, ca[i], cb[i], o, bud)
		if err != nil {
			return err
		}
		t.fc.Cause, t.fc.Evidence = f.Cause, f.Evidence
		if t.fc.Change == Modified && ca[i] != nil && cb[i] != nil {
			if err := in.describe(ctx, t.fc, ca[i], cb[i], t.fc.Path, 1); err != nil {
				return err
			}
		}
		explained[k] = t.fc
	}
	pr.Findings = append(pr.Findings, in.findings()...)
	if o.Diffoscope != nil {
		if err := diffoscopeFiles(ctx, o.Diffoscope, targets, ca, cb, o); err != nil {
			return err
		}
	}
	if err := explainPackages(ctx, pr, targets, [2]*image.Image{a, b}, databases, lim, o, ws); err != nil {
		return err
	}
	counted := pr.Files
	if len(counted) == 0 {
		for _, l := range pr.Layers {
			counted = append(counted, l.Files...)
		}
	}
	pr.Causes = tally(counted)
	return nil
}

// explainKey is what a file difference's explanation depends on.
type explainKey struct {
	path, change, aspects string
	a, b                  [sha256.Size]byte
	readA, readB          bool
}

func keyOf(fc *FileChange, a, b []byte) explainKey {
	return explainKey{path: fc.Path, change: fc.Change, aspects: strings.Join(fc.Aspects, " "),
		a: sha256.Sum256(a), b: sha256.Sum256(b), readA: a != nil, readB: b != nil}
}

// classify names one file difference's cause; a and b are its contents
// (nil when not read), the archives among them read from bud. The error
// is ctx's.
func classify(ctx context.Context, fc *FileChange, a, b []byte, o Options, bud *archive.Budget) (causes.Finding, error) {
	in := causes.Input{Path: fc.Path, ContentDiffers: slices.Contains(fc.Aspects, AspContent), Aspects: fc.Aspects,
		A: a, B: b, Window: o.Window, Archives: bud}
	switch fc.Change {
	case Added:
		in.OnlyIn = o.NameB
	case Removed:
		in.OnlyIn = o.NameA
	}
	return causes.Classify(ctx, in)
}

func tally(fs []FileChange) []CauseCount {
	findings := make([]causes.Finding, len(fs))
	paths := make([]string, len(fs))
	for i, f := range fs {
		findings[i], paths[i] = causes.Finding{Cause: f.Cause}, f.Path
	}
	var out []CauseCount
	for _, c := range causes.Tally(findings, paths) {
		out = append(out, CauseCount{Cause: c.Cause.ID, Title: c.Cause.Title, Count: c.N, Paths: c.Paths, Fix: c.Cause.Fix, Doc: c.Cause.URL()})
	}
	return out
}

// fetchContents returns, for each target, img's content of its file: from
// the target's layer, or for the merged view from the topmost layer that
// has the path (nil when that entry is not a regular file, is hidden, or
// is over the limits). Layers are read top down, each at most once; a
// layer the comparison walked is decompressed only up to the last entry
// wanted of it, and not at all when it has none (layer.ReadAgain).
func fetchContents(ctx context.Context, img *image.Image, targets []target, lim Limits, budget *int64, ws *walkSet) ([][]byte, error) {
	out := make([][]byte, len(targets))
	merged := map[string][]int{} // path → target indexes still looked for
	byLayer := map[int]map[string][]int{}
	for i, t := range targets {
		if t.fc.Change != Modified || !slices.Contains(t.fc.Aspects, AspContent) {
			continue
		}
		if t.layer < 0 {
			merged[t.fc.Path] = append(merged[t.fc.Path], i)
			continue
		}
		if byLayer[t.layer] == nil {
			byLayer[t.layer] = map[string][]int{}
		}
		byLayer[t.layer][t.fc.Path] = append(byLayer[t.layer][t.fc.Path], i)
	}
	for li := len(img.Layers) - 1; li >= 0; li-- {
		if len(merged) == 0 && len(byLayer[li]) == 0 {
			continue
		}
		wanted := slices.Concat(slices.Collect(maps.Keys(merged)), slices.Collect(maps.Keys(byLayer[li])))
		if err := layer.ReadAgain(ctx, img.Layers[li], lim.walk(), ws.peek(img.Layers[li]), wanted, func(p string, h *tar.Header, r io.Reader) error {
			want := append(append([]int(nil), merged[p]...), byLayer[li][p]...)
			if len(want) == 0 {
				return nil
			}
			var content []byte
			if layer.TarKind(h.Typeflag) == layer.KindFile && h.Size <= maxExplainFile && h.Size <= *budget {
				b, err := io.ReadAll(io.LimitReader(r, h.Size))
				if err != nil {
					return err
				}
				*budget -= int64(len(b))
				content = b
			}
			for _, i := range want {
				out[i] = content // the last entry of a path in a layer wins
			}
			return nil
		}, func(hidden func(string) bool) {
			// The merged paths this layer had, or hides, are settled.
			for p := range merged {
				if out[merged[p][0]] != nil || hidden(p) {
					delete(merged, p)
				}
			}
		}); err != nil {
			return nil, fmt.Errorf("reading layer %d %s again to explain its differences: %w", li+1, img.Layers[li].Descriptor.Digest, err)
		}
	}
	return out, nil
}

// causeHints words each platform's tally of causes for the report's
// hints, naming the platform when there are several.
func causeHints(rep *Report) []string {
	var out []string
	for _, p := range rep.Platforms {
		var counts []causes.Count
		for _, c := range p.Causes {
			cause, err := causes.ByID(c.Cause)
			if err != nil {
				cause = causes.Unknown
			}
			counts = append(counts, causes.Count{Cause: cause, N: c.Count, Paths: c.Paths})
		}
		for _, h := range causes.Hints(counts) {
			if len(rep.Platforms) > 1 {
				h = p.Platform + ": " + h
			}
			out = append(out, h)
		}
	}
	return out
}

// explainByMembers gives an archive that nothing else explains the cause
// of its members' differences when one cause explains them all, and
// lists them in its evidence either way.
func explainByMembers(fc *FileChange) {
	if fc.Cause != causes.Unknown.ID || len(fc.Inner) == 0 {
		return
	}
	var parts []string
	one := fc.Inner[0].Cause
	for i, in := range fc.Inner {
		if in.Cause != one {
			one = ""
		}
		if i < 5 {
			parts = append(parts, in.Path+" ("+in.Cause+")")
		}
	}
	if len(fc.Inner) > 5 {
		parts = append(parts, fmt.Sprintf("and %d more", len(fc.Inner)-5))
	}
	fc.Evidence = "an archive whose members differ: " + strings.Join(parts, ", ")
	if one != "" && one != causes.Unknown.ID {
		fc.Cause = one
	}
}
