package compare_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// TestTwinLayers: a layer of B recompressed from A's layer at the same
// index (same diff_id claimed) is only decompressed and hashed, and the
// report is the one every layer walked gives; a layer whose claim does
// not hold, on either side, is an error, never a borrowed walk.
func TestTwinLayers(t *testing.T) {
	app := func(body string) []fixtures.Entry {
		return []fixtures.Entry{fixtures.Dir("app"), fixtures.File("app/run.sh", body), fixtures.Entry{Name: "../../evil", Body: "x"}}
	}
	img := func(c fixtures.Compression, layers ...[]fixtures.Entry) v1.Image {
		steps := []fixtures.Step{{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{fixtures.Dir("etc"), fixtures.File("etc/os-release", "x")}}}
		for _, es := range layers {
			steps = append(steps, fixtures.Step{Instruction: "COPY app/ /app/", Entries: es})
		}
		return fixtures.Image(fixtures.Spec{Steps: steps, Compression: c})
	}
	lying := func(content, claimed []fixtures.Entry) v1.Image {
		return withLayers(raw(gz(fixtures.Tar(content...)), fixtures.Tar(claimed...)))
	}
	tests := []struct {
		name    string
		a, b    v1.Image
		hashed  []int // B's layers only hashed
		bare    bool  // A's layers above the first walked bare
		verdict string
		errHas  string
	}{
		{name: "every layer recompressed", a: img(fixtures.Gzip, app("v1"), app("w1")), b: img(fixtures.GzipBest, app("v1"), app("w1")),
			hashed: []int{0, 1, 2}, bare: true, verdict: compare.Equivalent},
		{name: "one recompressed, one changed", a: img(fixtures.Gzip, app("v1"), app("w1")), b: img(fixtures.GzipBest, app("v1"), app("w2")),
			hashed: []int{0, 1}, verdict: compare.Different},
		{name: "zstd for gzip", a: img(fixtures.Gzip, app("v1")), b: img(fixtures.Zstd, app("v1")),
			hashed: []int{0, 1}, bare: true, verdict: compare.Equivalent},
		{name: "B claims A's diff_id for other content", a: withEntries(cleanEntries...), b: lying(app("evil"), cleanEntries),
			errHas: "the config's diff_id is"},
		{name: "A claims B's diff_id for other content", a: lying(app("evil"), cleanEntries), b: withLayers(raw(fixtures.Compress(fixtures.Tar(cleanEntries...), fixtures.GzipBest), fixtures.Tar(cleanEntries...))),
			errHas: "the config's diff_id is"},
	}
	reg := fixtures.NewRegistry(t)
	for n, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			var sides [2]*image.Resolved
			for i, x := range []v1.Image{tt.a, tt.b} {
				r, err := image.Open(ctx, reg.MustPush(t, fmt.Sprintf("twins/%d", n), "ab"[i:i+1], x), image.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				sides[i] = r
			}
			rep, hashed, bare, err := compare.ImagesHashed(ctx, sides[0], sides[1], compare.Options{})
			full, _, ferr := compare.ImagesRead(ctx, sides[0], sides[1], compare.Options{}, true)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) || ferr == nil {
					t.Fatalf("err = %v (every layer walked: %v), want %q", err, ferr, tt.errHas)
				}
				return
			}
			if err != nil || ferr != nil {
				t.Fatal(err, ferr)
			}
			var want []string
			for _, i := range tt.hashed {
				want = append(want, sides[1].Images[0].Layers[i].Descriptor.Digest.String())
			}
			slices.Sort(hashed)
			slices.Sort(want)
			if !slices.Equal(hashed, want) {
				t.Errorf("hashed only %q, want %q", hashed, want)
			}
			want = nil
			if tt.bare {
				for _, l := range sides[0].Images[0].Layers[len(sides[0].Images[0].Layers)-len(tt.hashed):] {
					want = append(want, l.Descriptor.Digest.String())
				}
			}
			slices.Sort(bare)
			slices.Sort(want)
			if !slices.Equal(bare, want) {
				t.Errorf("walked bare %q, want %q", bare, want)
			}
			if rep.Verdict != tt.verdict {
				t.Errorf("verdict %s, want %s", rep.Verdict, tt.verdict)
			}
			got, _ := json.MarshalIndent(rep, "", " ")
			all, _ := json.MarshalIndent(full, "", " ")
			if string(got) != string(all) {
				t.Errorf("report with twins:\n%s\nevery layer walked:\n%s", got, all)
			}
		})
	}
}
