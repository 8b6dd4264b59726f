package compare

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/archive"
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
// b's layers (ws has the walks of those it read), and tallies the causes.
// The archives inside the files spend from bud, the comparison's budget.
func explainPlatform(ctx context.Context, pr *Platform, a, b *image.Image, lim Limits, o Options, ws *walkSet, bud *archive.Budget) error {
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
// wanted of it, and not at all when it has none (scanLayer).
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
		if err := scanLayer(ctx, img.Layers[li], lim, ws.peek(img.Layers[li]), wanted, func(p string, h *tar.Header, r io.Reader) error {
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

// scanLayer reads a layer's tar, calling entry for each entry (path
// absolute and cleaned), then done with a function that tells whether a
// path was in the layer or hidden by one of its whiteouts.
//
// When w, the comparison's walk of the layer, is given, what the layer
// holds is known: it is not opened when it has no entry at a path wanted,
// and decompressed only up to the last such entry; the content of each
// such entry is checked against the digest the walk found for it (the
// walk's bytes were checked against the layer's digest), so a layer
// served otherwise the second time is an error, never an explanation.
// Without a walk, the layer is read to its end, where its digest is
// checked again.
func scanLayer(ctx context.Context, l image.Layer, lim Limits, w *walked, wanted []string, entry func(string, *tar.Header, io.Reader) error, done func(func(string) bool)) error {
	paths := layerPaths{seen: map[string]bool{}, whiteouts: map[string]bool{}}
	left, remaining := map[string]int{}, 0
	last := map[string]*Entry{} // the walk's last entry at each path wanted
	if w != nil {
		// What the walk has at the paths wanted and their parents: all
		// that whether those paths are hidden depends on.
		near := map[string]bool{}
		for _, p := range wanted {
			left[p] = 0
			for q := p; !near[q]; q = path.Dir(q) {
				near[q] = true
			}
		}
		st := streamOf(0, w.entries)
		for p, ok := st.peek(); ok; p, ok = st.peek() {
			rs := st.take(p, nil)
			if !near[p] {
				continue
			}
			for _, r := range rs {
				switch e := r.e; {
				case e.Opaque:
					paths.opaques = append(paths.opaques, e.Path)
				case e.Whiteout:
					paths.whiteouts[e.Path] = true
				default:
					paths.seen[e.Path] = true
					if _, ok := left[e.Path]; ok {
						left[e.Path]++
						remaining++
						last[e.Path] = e
					}
				}
			}
		}
		if st.err != nil {
			return st.err
		}
		if remaining == 0 {
			done(paths.hidden)
			return nil
		}
	}
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
	tr := tar.NewReader(dec)
	for n := 0; w == nil || remaining > 0; n++ {
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
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue // not a file, as the walk reads it
		}
		p, _ := normalize(h.Name) // as the walk names entries: a climbing name is not the path it climbs to
		dir, base := path.Split(p)
		switch {
		case base == whOpaque:
			if w == nil {
				paths.opaques = append(paths.opaques, path.Clean(dir))
			}
			continue
		case strings.HasPrefix(base, whPrefix):
			if w == nil {
				paths.whiteouts[path.Join(dir, strings.TrimPrefix(base, whPrefix))] = true
			}
			continue
		}
		paths.seen[p] = true
		// The content of the last entry at a path wanted is what
		// explains it: it must hash as the walk found it.
		hr := &hashedRead{r: tr, h: sha256.New()}
		if err := entry(p, h, hr); err != nil {
			return err
		}
		if left[p] > 0 {
			if left[p] == 1 && tarKind(h.Typeflag) == kindFile && hr.n == h.Size {
				if e := last[p]; e == nil || !e.hasDigest || !bytes.Equal(hr.h.Sum(nil), e.digest[:]) {
					return fmt.Errorf("%s: read again, its content is not what the comparison read (%s): the layer changed between the reads", p, e.Digest())
				}
			}
			left[p]--
			remaining--
		}
	}
	done(paths.hidden)
	if w != nil {
		return nil // every content kept was checked against the walk's digests
	}
	// The raw stream to its end: the digest check runs at its EOF.
	_, err = io.Copy(io.Discard, rc)
	return err
}

// hashedRead hashes what is read through it.
type hashedRead struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (r *hashedRead) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}

// layerPaths is what a layer holds, as its explanation needs it: the
// paths of its entries, of its whiteouts and of its opaque directories.
type layerPaths struct {
	seen, whiteouts map[string]bool
	opaques         []string
}

// hidden tells whether p is in the layer or hidden by its whiteouts.
func (l *layerPaths) hidden(p string) bool {
	if l.seen[p] || l.whiteouts[p] {
		return true
	}
	for q := path.Dir(p); ; q = path.Dir(q) {
		if l.whiteouts[q] || (q != p && slices.Contains(l.opaques, q)) {
			return true
		}
		if q == "/" {
			return false
		}
	}
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
