package compare

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/reprover/reprover/layer"
)

// viewDiff is the merged-view comparison as a report shows it: each
// changed path with its change and aspects, and the findings of layers
// from index from up, in order.
func viewDiff(va, vb *fsView, from int) (files, findings []string) {
	for _, f := range diffEntries(va.entries, vb.entries, nil, nil, nil) {
		files = append(files, fmt.Sprintf("%s %s %v", f.Path, f.Change, f.Aspects))
	}
	for i, v := range []*fsView{va, vb} {
		for _, f := range v.Findings {
			// Messages start "layer N:", counted from 1.
			n, err := strconv.Atoi(strings.TrimSuffix(strings.Fields(f.Message)[1], ":"))
			if err != nil || n-1 >= from {
				findings = append(findings, fmt.Sprintf("%c %s %s", "AB"[i], f.Kind, f.Path))
			}
		}
	}
	return files, findings
}

// overBase builds the views of a and b (lists of layers) the way a
// comparison does: in full over base, and over base left unread. It
// returns both comparisons and why the unread one needs the base.
func overBase(base, a, b [][]*layer.Entry) (full, skip [2][]string, need string) {
	fa, fb := newFSView(), newFSView()
	ua, ub := newFSView(), newFSView()
	ua.base, ub.base = newUnread(), newUnread()
	for i, l := range base {
		fa.apply(i, slices.Values(l))
		fb.apply(i, slices.Values(l))
	}
	for i, l := range a {
		fa.apply(len(base)+i, slices.Values(l))
		ua.apply(len(base)+i, slices.Values(l))
	}
	for i, l := range b {
		fb.apply(len(base)+i, slices.Values(l))
		ub.apply(len(base)+i, slices.Values(l))
	}
	full[0], full[1] = viewDiff(fa, fb, len(base))
	skip[0], skip[1] = viewDiff(ua, ub, len(base))
	return full, skip, baseNeeded(ua, ub)
}

// chunkedOverBase is overBase as a comparison does it, chunk paths at a
// time (diffMerged).
func chunkedOverBase(sa, sb []*layer.Runs, base, chunk int) (full, skip [2][]string, need string) {
	show := func(d *mergedDiff, from int) (files, findings []string) {
		for _, f := range d.files {
			files = append(files, fmt.Sprintf("%s %s %v", f.Path, f.Change, f.Aspects))
		}
		for i, fs := range d.findings {
			for _, f := range fs {
				n, err := strconv.Atoi(strings.TrimSuffix(strings.Fields(f.Message)[1], ":"))
				if err != nil || n-1 >= from {
					findings = append(findings, fmt.Sprintf("%c %s %s", "AB"[i], f.Kind, f.Path))
				}
			}
		}
		return files, findings
	}
	d, err := diffMerged(0, sa, sb, false, chunk, nil)
	if err != nil {
		panic(err)
	}
	full[0], full[1] = show(d, base)
	if d, err = diffMerged(base, sa[base:], sb[base:], true, chunk, nil); err != nil {
		panic(err)
	}
	skip[0], skip[1] = show(d, base)
	return full, skip, d.need
}

// spillLayers spills layers as walks do, in runs of run entries, at the
// end of f.
func spillLayers(f *os.File, run int, ls ...[][]*layer.Entry) []*layer.Runs {
	var out []*layer.Runs
	for _, l := range slices.Concat(ls...) {
		out = append(out, spillEntries(f, l, run))
	}
	return out
}

func layers(ls ...string) [][]*layer.Entry {
	var out [][]*layer.Entry
	for _, l := range ls {
		var es []*layer.Entry
		for s := range strings.SplitSeq(l, ",") {
			if s = strings.TrimSpace(s); s != "" {
				es = append(es, ent(s))
			}
		}
		out = append(out, es)
	}
	return out
}

// TestUnreadBase: the views built over the shared layers left unread
// compare exactly as the views built in full, or say why they cannot.
func TestUnreadBase(t *testing.T) {
	base := layers("d /etc, f /etc/passwd, f /etc/shadow, d /usr, d /usr/bin, f /usr/bin/sh, l /lib, d /app, f /app/a, f /app/b",
		"d /opt, f /opt/tool, f /loose/parent/file")
	tests := []struct {
		name string
		a, b [][]*layer.Entry
		need string // a substring of the reason, "" when the base is not needed
	}{
		{name: "same paths, one file changed",
			a: layers("d /app, f /app/a 1, f /app/c"), b: layers("d /app, f /app/a 2, f /app/c")},
		{name: "same paths in more layers",
			a: layers("d /app, f /app/c", "d /app, f /app/c 1"), b: layers("d /app, f /app/c", "d /app, f /app/c 2")},
		{name: "a file on one side only",
			a: layers("d /app, f /app/a"), b: layers("d /app, f /app/a, f /app/extra"), need: "/app/extra is in one image's layers only"},
		{name: "a parent not in the layers",
			a: layers("f /app/a 1"), b: layers("f /app/a 2"), need: "/app/a is under /app"},
		{name: "a whiteout under a parent of its own layer",
			// Whiteouts apply before the entries of their layer: what
			// /etc is then is the shared layers' to say.
			a: layers("d /etc, w /etc/shadow"), b: layers("d /etc, w /etc/shadow"), need: "/etc/shadow is under /etc"},
		{name: "the same whiteout on both sides",
			a: layers("d /etc", "w /etc/shadow"), b: layers("d /etc", "w /etc/shadow")},
		{name: "a whiteout on one side",
			a: layers("d /etc", "w /etc/shadow"), b: layers("d /etc", ""), need: "remove the base's /etc/shadow differently"},
		{name: "a whiteout against a file",
			a: layers("d /etc", "w /etc/shadow"), b: layers("d /etc", "f /etc/shadow")},
		{name: "the same opaque directory on both sides",
			a: layers("d /etc, o /etc, f /etc/passwd 1"), b: layers("d /etc, o /etc, f /etc/passwd 2"), need: "/etc is under"},
		{name: "opaque directory whose parent a lower layer of the same side made",
			a: layers("d /etc", "o /etc, f /etc/passwd 1"), b: layers("d /etc", "o /etc, f /etc/passwd 2")},
		{name: "opaque directory on one side",
			a: layers("d /etc", "o /etc"), b: layers("d /etc", "d /etc"), need: "under /etc differently"},
		{name: "a hard link into the shared layers",
			a: layers("d /app, h /app/h /app/a"), b: layers("d /app, h /app/h /app/a"), need: "hard link to /app/a"},
		{name: "a hard link within the layers",
			a: layers("d /app, f /app/c 1, h /app/h /app/c"), b: layers("d /app, f /app/c 2, h /app/h /app/c")},
		{name: "a hard link to a path the layers removed",
			a: layers("d /app", "w /app/a, h /app/h /app/a"), b: layers("d /app", "w /app/a, h /app/h /app/a")},
		{name: "under a path the shared layers make a symlink",
			a: layers("d /lib, f /lib/x 1"), b: layers("d /lib, f /lib/x 2")},
		{name: "a file where one side has a directory",
			a: layers("d /usr, f /usr/bin"), b: layers("d /usr, d /usr/bin"), need: "under /usr/bin differently"},
		{name: "a file replacing a directory on both sides",
			a: layers("d /usr, f /usr/bin 1"), b: layers("d /usr, f /usr/bin 2")},
		{name: "a parent the shared layers made implicitly",
			a: layers("d /loose, d /loose/parent, f /loose/parent/x 1"), b: layers("d /loose, d /loose/parent, f /loose/parent/x 2")},
		{name: "non-local names",
			a: layers("f /../../etc/passwd 1"), b: layers("f /../../etc/passwd 2"), need: "is under /../../etc"},
		{name: "nothing above the shared layers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			full, skip, need := overBase(base, tt.a, tt.b)
			if tt.need == "" && need != "" || tt.need != "" && !strings.Contains(need, tt.need) {
				t.Errorf("base needed because %q, want %q", need, tt.need)
			}
			if need == "" && (!slices.Equal(full[0], skip[0]) || !slices.Equal(full[1], skip[1])) {
				t.Errorf("read in full:\n files %q\n findings %q\nunread:\n files %q\n findings %q", full[0], full[1], skip[0], skip[1])
			}
		})
	}
}

// TestUnreadBaseRandom compares, on random layers over a small tree, the
// views built over an unread base with the views built in full: whenever
// the unread ones say they do not need the base, the comparisons are the
// same. The layers of B are mostly A's with a few changes, so that both
// outcomes are common.
func TestUnreadBaseRandom(t *testing.T) {
	paths := []string{"/a", "/a/x", "/a/b", "/a/b/y", "/a/b/z", "/c", "/c/x", "/d/e/f", "/..", "/../x"}
	rng := rand.New(rand.NewPCG(12, 12))
	// entries is one entry, often after its parents, as layer tars
	// have them.
	entries := func() []string {
		p := paths[rng.IntN(len(paths))]
		var out []string
		if rng.IntN(10) < 7 {
			for d, _ := layer.SplitPath(p); d != "/"; d, _ = layer.SplitPath(d) {
				out = slices.Insert(out, 0, "d "+d)
			}
		}
		switch k := rng.IntN(20); {
		case k < 7:
			return append(out, fmt.Sprintf("f %s %d", p, rng.IntN(2)))
		case k < 13:
			return append(out, "d "+p)
		case k < 14:
			return append(out, "l "+p)
		case k < 16:
			return append(out, fmt.Sprintf("h %s %s", p, paths[rng.IntN(len(paths))]))
		case k < 18:
			return append(out, "w "+p)
		}
		return append(out, "o "+p)
	}
	entry := func() string { return entries()[0] }
	stack := func(max int) [][]string {
		var out [][]string
		for range 1 + rng.IntN(max) {
			var l []string
			for range rng.IntN(4) {
				l = append(l, entries()...)
			}
			out = append(out, l)
		}
		return out
	}
	mutate := func(s [][]string) [][]string {
		out := make([][]string, len(s))
		for i, l := range s {
			out[i] = slices.Clone(l)
		}
		for range rng.IntN(3) {
			l := rng.IntN(len(out))
			switch {
			case len(out[l]) == 0 || rng.IntN(3) == 0:
				out[l] = slices.Insert(out[l], rng.IntN(len(out[l])+1), entry())
			case rng.IntN(2) == 0:
				out[l][rng.IntN(len(out[l]))] = entry()
			default:
				i := rng.IntN(len(out[l]))
				out[l] = slices.Delete(out[l], i, i+1)
			}
		}
		return out
	}
	parse := func(s [][]string) [][]*layer.Entry {
		var out [][]*layer.Entry
		for _, l := range s {
			out = append(out, ents(l...))
		}
		return out
	}
	const trials = 20000
	skipped := 0
	f, err := os.Create(filepath.Join(t.TempDir(), "spill"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for n := range trials {
		base, a := stack(3), stack(2)
		b := mutate(a)
		full, skip, need := overBase(parse(base), parse(a), parse(b))
		// One run a layer, or one entry a run; ranges of 1, 2, 3 paths
		// or all of them.
		if err := f.Truncate(0); err != nil {
			t.Fatal(err)
		}
		whole := [2][]*layer.Runs{spillLayers(f, 1<<20, parse(base), parse(a)), spillLayers(f, 1<<20, parse(base), parse(b))}
		single := [2][]*layer.Runs{spillLayers(f, 1, parse(base), parse(a)), spillLayers(f, 1, parse(base), parse(b))}
		for _, c := range []struct {
			sides [2][]*layer.Runs
			chunk int
		}{{whole, 1}, {whole, 2}, {single, 3}, {single, 1 << 20}} {
			chunk := c.chunk
			cfull, cskip, cneed := chunkedOverBase(c.sides[0], c.sides[1], len(base), chunk)
			if !slices.Equal(full[0], cfull[0]) || !slices.Equal(full[1], cfull[1]) {
				t.Fatalf("trial %d, %d paths a range: base %q\nA %q\nB %q\none view:\n files %q\n findings %q\nranges:\n files %q\n findings %q",
					n, chunk, base, a, b, full[0], full[1], cfull[0], cfull[1])
			}
			if (need == "") != (cneed == "") {
				t.Fatalf("trial %d, %d paths a range: base %q\nA %q\nB %q\nbase needed because %q in one view, %q in ranges", n, chunk, base, a, b, need, cneed)
			}
			if need == "" && (!slices.Equal(skip[0], cskip[0]) || !slices.Equal(skip[1], cskip[1])) {
				t.Fatalf("trial %d, %d paths a range, over the unread base: A %q\nB %q\none view:\n files %q\n findings %q\nranges:\n files %q\n findings %q",
					n, chunk, a, b, skip[0], skip[1], cskip[0], cskip[1])
			}
		}
		if need != "" {
			continue
		}
		skipped++
		if !slices.Equal(full[0], skip[0]) || !slices.Equal(full[1], skip[1]) {
			t.Fatalf("trial %d: base %q\nA %q\nB %q\nread in full:\n files %q\n findings %q\nunread:\n files %q\n findings %q",
				n, base, a, b, full[0], full[1], skip[0], skip[1])
		}
	}
	// The test proves something only if the base is often left unread.
	if skipped < trials/10 {
		t.Errorf("the base was left unread in %d of %d trials", skipped, trials)
	}
	t.Logf("the base was left unread in %d of %d trials", skipped, trials)
}
