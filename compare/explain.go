package compare

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/image"
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
// b's layers, and tallies the causes.
func explainPlatform(ctx context.Context, pr *Platform, a, b *image.Image, lim Limits, o Options) error {
	for i := range pr.Config {
		c := &pr.Config[i]
		if c.Field == "rootfs.diff_ids" || strings.HasPrefix(c.Field, "manifest.layers") {
			continue
		}
		f := causes.Classify(causes.Input{Path: c.Field, ContentDiffers: true, A: c.Rebuilt, B: c.Published, Window: o.Window})
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
	ca, err := fetchContents(ctx, a, targets, lim, &budget)
	if err != nil {
		return err
	}
	cb, err := fetchContents(ctx, b, targets, lim, &budget)
	if err != nil {
		return err
	}
	for i, t := range targets {
		f := classify(t.fc, ca[i], cb[i], o)
		t.fc.Cause, t.fc.Evidence = f.Cause, f.Evidence
		if t.fc.Change == Modified && ca[i] != nil && cb[i] != nil {
			describeInside(t.fc, ca[i], cb[i], o, 1)
		}
	}
	if o.Diffoscope != nil {
		if err := diffoscopeFiles(ctx, o.Diffoscope, targets, ca, cb, o); err != nil {
			return err
		}
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

// classify names one file difference's cause; a and b are its contents
// (nil when not read).
func classify(fc *FileChange, a, b []byte, o Options) causes.Finding {
	in := causes.Input{Path: fc.Path, ContentDiffers: slices.Contains(fc.Aspects, AspContent), Aspects: fc.Aspects,
		A: a, B: b, Window: o.Window}
	switch fc.Change {
	case Added:
		in.OnlyIn = o.NameB
	case Removed:
		in.OnlyIn = o.NameA
	}
	return causes.Classify(in)
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
// is over the limits). Layers are read top down, each at most once, and
// to their end, so their digests are checked again.
func fetchContents(ctx context.Context, img *image.Image, targets []target, lim Limits, budget *int64) ([][]byte, error) {
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
		if err := scanLayer(ctx, img.Layers[li], lim, func(p string, h *tar.Header, r io.Reader) error {
			want := append(append([]int(nil), merged[p]...), byLayer[li][p]...)
			if len(want) == 0 {
				return nil
			}
			var content []byte
			if tarKind(h.Typeflag) == kindFile && h.Size <= maxExplainFile && h.Size <= *budget {
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

// scanLayer reads a layer's tar to its end, calling entry for each entry
// (path absolute and cleaned), then done with a function that tells
// whether a path was in the layer or hidden by one of its whiteouts.
func scanLayer(ctx context.Context, l image.Layer, lim Limits, entry func(string, *tar.Header, io.Reader) error, done func(func(string) bool)) error {
	rc, err := l.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	// The Go decoder: the few layers explained need no speed, and it
	// checks what it reads itself.
	dec, err := newDecompressor(ctx, ctxReader{ctx, rc}, lim, gunzipper{})
	if err != nil {
		return err
	}
	defer dec.Close()
	seen, whiteouts, opaques := map[string]bool{}, map[string]bool{}, []string{}
	tr := tar.NewReader(dec)
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n >= lim.MaxEntries {
			return &LimitError{What: "tar entries", Limit: "MaxEntries", Max: int64(lim.MaxEntries), Got: int64(n + 1)}
		}
		p, _ := normalize(h.Name) // as the walk names entries: a climbing name is not the path it climbs to
		dir, base := path.Split(p)
		switch {
		case base == whOpaque:
			opaques = append(opaques, path.Clean(dir))
			continue
		case strings.HasPrefix(base, whPrefix):
			whiteouts[path.Join(dir, strings.TrimPrefix(base, whPrefix))] = true
			continue
		}
		seen[p] = true
		if err := entry(p, h, tr); err != nil {
			return err
		}
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return err
	}
	done(func(p string) bool {
		if seen[p] || whiteouts[p] {
			return true
		}
		for q := path.Dir(p); ; q = path.Dir(q) {
			if whiteouts[q] || (q != p && slices.Contains(opaques, q)) {
				return true
			}
			if q == "/" {
				return false
			}
		}
	})
	return nil
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
