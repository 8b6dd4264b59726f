package compare_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// skipBase is the two layers at the bottom of every image of
// TestIdenticalLayersFree: a root filesystem with a symlinked /lib and a
// hard link, and a layer over it.
var skipBase = []fixtures.Step{
	{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{
		fixtures.Dir("etc"), fixtures.File("etc/passwd", "root:x:0:0::/:/bin/sh\n"), fixtures.File("etc/shadow", "root:*::\n"),
		fixtures.Dir("usr"), fixtures.Dir("usr/lib"), fixtures.File("usr/lib/libc.so", "libc"), fixtures.Symlink("lib", "usr/lib"),
		fixtures.Dir("bin"), fixtures.File("bin/sh", "sh"), fixtures.Hardlink("bin/ash", "bin/sh"),
		fixtures.Dir("data"), fixtures.File("data/a", "a"), fixtures.File("data/b", "b"),
	}},
	{Instruction: "RUN apt-get install tool", Entries: []fixtures.Entry{
		fixtures.Dir("usr"), fixtures.Dir("usr/bin"), fixtures.File("usr/bin/tool", "tool"),
	}},
}

// over is an image of skipBase and one layer per list of entries.
func over(env string, tops ...[]fixtures.Entry) v1.Image {
	steps := slices.Clone(skipBase)
	for _, es := range tops {
		steps = append(steps, fixtures.Step{Instruction: "COPY app/ /app/", Entries: es})
	}
	return fixtures.Image(fixtures.Spec{Steps: steps, Env: []string{env}})
}

func es(e ...fixtures.Entry) []fixtures.Entry { return e }

// TestIdenticalLayersFree compares images over the same two bottom
// layers, once skipping them and once reading everything: the reports
// are the same, but for the skipped layers' findings, and the skipped
// layers are never read. Whiteouts, opaque directories and hard links
// reaching into them, paths on one side only, and symlinks they may hold
// make them read.
func TestIdenticalLayersFree(t *testing.T) {
	app := func(body string) []fixtures.Entry {
		return es(fixtures.Dir("app"), fixtures.File("app/run.sh", body))
	}
	motd := func(body string) []fixtures.Entry {
		return es(fixtures.Dir("etc"), fixtures.File("etc/motd", body))
	}
	tests := []struct {
		name    string
		a, b    v1.Image
		read    []string // layers read: base0, base1, then A2, B2, … or AB3 for a blob both have at index 3
		skipped int
		files   []string // merged-view changes, as hostile_test's changeStrings
	}{
		{name: "every layer shared, the config differs",
			a: over("A=1", app("v1")), b: over("A=2", app("v1")),
			skipped: 3},
		{name: "the last layer differs, same paths",
			a: over("", app("v1")), b: over("", app("v2")),
			read: []string{"A2", "B2"}, skipped: 2, files: []string{"/app/run.sh modified content"}},
		{name: "a file on one side only",
			a: over("", app("v1")), b: over("", append(app("v1"), fixtures.File("app/extra", "x"))),
			read: []string{"A2", "B2", "base0", "base1"}, files: []string{"/app/extra added"}},
		{name: "a whiteout whose parent is in its own layer",
			a: over("", es(fixtures.Dir("etc"), fixtures.Whiteout("etc", "shadow"))), b: over("", es(fixtures.Dir("etc"))),
			read: []string{"A2", "B2", "base0", "base1"}, files: []string{"/etc/shadow added"}},
		{name: "the same whiteout above a differing layer",
			a: over("", motd("a"), es(fixtures.Whiteout("etc", "shadow"))), b: over("", motd("b"), es(fixtures.Whiteout("etc", "shadow"))),
			read: []string{"A2", "AB3", "B2"}, skipped: 2, files: []string{"/etc/motd modified content"}},
		{name: "whiteouts of different shared files",
			a: over("", motd("a"), es(fixtures.Whiteout("etc", "passwd"))), b: over("", motd("b"), es(fixtures.Whiteout("etc", "shadow"))),
			read:  []string{"A2", "A3", "B2", "B3", "base0", "base1"},
			files: []string{"/etc/motd modified content", "/etc/passwd added", "/etc/shadow removed"}},
		{name: "an opaque directory on one side",
			a: over("", es(fixtures.Dir("data"), fixtures.Opaque("data"), fixtures.File("data/c", "c"))), b: over("", es(fixtures.Dir("data"), fixtures.File("data/c", "c"))),
			read: []string{"A2", "B2", "base0", "base1"}, files: []string{"/data/a added", "/data/b added"}},
		{name: "a hard link into the shared layers",
			a: over("", append(app("v1"), fixtures.Hardlink("app/sh", "bin/sh"))), b: over("", append(app("v2"), fixtures.Hardlink("app/sh", "bin/sh"))),
			read: []string{"A2", "B2", "base0", "base1"}, files: []string{"/app/run.sh modified content"}},
		{name: "a hard link within the differing layer",
			a: over("", append(app("v1"), fixtures.Hardlink("app/run2", "app/run.sh"))), b: over("", append(app("v2"), fixtures.Hardlink("app/run2", "app/run.sh"))),
			read: []string{"A2", "B2"}, skipped: 2, files: []string{"/app/run.sh modified content", "/app/run2 modified content"}},
		{name: "a file under a shared symlink",
			a: over("", es(fixtures.File("lib/libx.so", "1"))), b: over("", es(fixtures.File("lib/libx.so", "2"))),
			read: []string{"A2", "B2", "base0", "base1"}, files: []string{"/lib/libx.so modified content"}},
		{name: "a file replacing a shared directory on both sides",
			a: over("", es(fixtures.File("data", "1"))), b: over("", es(fixtures.File("data", "2"))),
			read: []string{"A2", "B2"}, skipped: 2, files: []string{"/data modified content"}},
		{name: "a file replacing a shared directory on one side",
			a: over("", es(fixtures.File("data", "1"))), b: over("", es(fixtures.Dir("data"))),
			read: []string{"A2", "B2", "base0", "base1"}, files: []string{"/data modified content,size,mode,type", "/data/a added", "/data/b added"}},
		{name: "one more layer on one side",
			a: over("", app("v1")), b: over("", app("v1"), es(fixtures.Dir("app"), fixtures.Entry{Name: "app/run.sh", Body: "v1", Mode: 0o755})),
			read: []string{"AB2", "B3", "base0", "base1"}, files: []string{"/app/run.sh modified mode"}},
	}
	reg := fixtures.NewRegistry(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			ra, err := image.Open(ctx, reg.MustPush(t, fmt.Sprintf("free/%d", i), "a", tt.a), image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rb, err := image.Open(ctx, reg.MustPush(t, fmt.Sprintf("free/%d", i), "b", tt.b), image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			names := layerNames(ra.Images[0], rb.Images[0])
			skip, read, err := compare.ImagesRead(ctx, ra, rb, compare.Options{}, false)
			if err != nil {
				t.Fatal(err)
			}
			full, readAll, err := compare.ImagesRead(ctx, ra, rb, compare.Options{}, true)
			if err != nil {
				t.Fatal(err)
			}
			checkSet(t, "layers read", mapNames(names, read), tt.read)
			if got := mapNames(names, readAll); len(got) != len(names) {
				t.Errorf("the full read read %q, want every layer", got)
			}
			p := skip.Platforms[0]
			n := 0
			for _, l := range p.Layers {
				if l.Skipped != "" {
					if l.Skipped != compare.SkippedSameDigest || l.Verdict != compare.Identical || l.Index != n {
						t.Errorf("layer %d: skipped %q, verdict %s, after %d skipped", l.Index, l.Skipped, l.Verdict, n)
					}
					n++
				}
			}
			if n != tt.skipped {
				t.Errorf("%d layers skipped, want %d", n, tt.skipped)
			}
			checkSet(t, "merged-view changes", changeStrings(p.Files), tt.files)
			// The full read, less what the skipped layers alone say.
			fp := &full.Platforms[0]
			for i := range n {
				fp.Layers[i].Skipped, fp.Layers[i].Findings = compare.SkippedSameDigest, nil
			}
			fp.Findings = slices.DeleteFunc(fp.Findings, func(f compare.Finding) bool {
				layer, err := strconv.Atoi(strings.TrimSuffix(strings.Fields(f.Message)[1], ":"))
				return err == nil && layer <= n
			})
			if len(fp.Findings) == 0 {
				fp.Findings = nil
			}
			js, _ := json.MarshalIndent(skip, "", " ")
			jf, _ := json.MarshalIndent(full, "", " ")
			if string(js) != string(jf) {
				t.Errorf("skipping:\n%s\nfull read, less the skipped layers' findings:\n%s", js, jf)
			}
		})
	}
}

// layerNames names the layers of a and b by digest: base0 and base1 at
// the bottom, then A2, B2, …, or AB3 for the blob both have at index 3.
func layerNames(a, b *image.Image) map[string]string {
	names := map[string]string{}
	for _, s := range []struct {
		side       string
		img, other *image.Image
	}{{"A", a, b}, {"B", b, a}} {
		for i, l := range s.img.Layers {
			d := l.Descriptor.Digest
			switch {
			case i < len(skipBase):
				names[d.String()] = fmt.Sprintf("base%d", i)
			case i < len(s.other.Layers) && s.other.Layers[i].Descriptor.Digest == d:
				names[d.String()] = fmt.Sprintf("AB%d", i)
			default:
				names[d.String()] = fmt.Sprintf("%s%d", s.side, i)
			}
		}
	}
	return names
}

func mapNames(names map[string]string, digests []string) []string {
	var out []string
	for _, d := range digests {
		out = append(out, names[d])
	}
	return out
}

// TestSkippedLayersShown: the text and HTML reports say which layers
// were not read, and why.
func TestSkippedLayersShown(t *testing.T) {
	layer := func(i int, skipped string) compare.LayerReport {
		return compare.LayerReport{Index: i, Verdict: compare.Identical, Skipped: skipped, Files: []compare.FileChange{}}
	}
	tests := []struct {
		name   string
		layers []compare.LayerReport
		text   string // a line of the text report, "" for none about skipping
	}{
		{name: "none", layers: []compare.LayerReport{layer(0, ""), layer(1, "")}},
		{name: "one", layers: []compare.LayerReport{layer(0, compare.SkippedSameDigest), layer(1, "")},
			text: "  layer 1 of 2  identical  same digest in both, not read"},
		{name: "all", layers: []compare.LayerReport{layer(0, compare.SkippedSameDigest), layer(1, compare.SkippedSameDigest), layer(2, compare.SkippedSameDigest)},
			text: "  layers 1-3 of 3  identical  same digest in both, not read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := &compare.Report{Verdict: compare.Equivalent, Platforms: []compare.Platform{{Platform: "linux/amd64", Verdict: compare.Equivalent, Layers: tt.layers}}}
			var txt, html strings.Builder
			if err := rep.WriteText(&txt, compare.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := rep.WriteHTML(&html); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(txt.String(), "\n")
			if got := slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "not read") }); got != (tt.text != "") ||
				tt.text != "" && !slices.Contains(lines, tt.text) {
				t.Errorf("text report:\n%s\nwant the line %q", txt.String(), tt.text)
			}
			if got, want := strings.Count(html.String(), "(same digest, not read)"), strings.Count(fmt.Sprint(tt.layers), compare.SkippedSameDigest); got != want {
				t.Errorf("the HTML report names %d layers not read, want %d", got, want)
			}
		})
	}
}
