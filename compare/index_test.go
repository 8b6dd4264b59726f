package compare_test

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// TestIndexTricks: an index cannot hide an image from the comparison, by
// listing a platform twice or by annotating an image as an attestation.
func TestIndexTricks(t *testing.T) {
	amd64 := v1.Platform{OS: "linux", Architecture: "amd64"}
	good := fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "COPY app/ /app/", Entries: []fixtures.Entry{fixtures.File("app/a", "good\n")}}}})
	evil := fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "COPY app/ /app/", Entries: []fixtures.Entry{fixtures.File("app/a", "evil\n")}}}})
	index := func(adds ...mutate.IndexAddendum) v1.ImageIndex {
		return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	}
	plain := func(img v1.Image) mutate.IndexAddendum {
		p := amd64
		return mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}}
	}
	disguised := func(img v1.Image) mutate.IndexAddendum {
		a := plain(img)
		a.Descriptor.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest"}
		return a
	}
	reg := fixtures.NewRegistry(t)
	a := reg.MustPush(t, "tricks/a", "v", index(plain(good)))
	tests := []struct {
		name string
		b    v1.ImageIndex
	}{
		{"platform listed twice, the first evil", index(plain(evil), plain(good))},
		{"platform listed twice, the second evil", index(plain(good), plain(evil))},
		{"an image annotated as an attestation", index(plain(good), disguised(evil))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ra, err := image.Open(t.Context(), a, image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rb, err := image.Open(t.Context(), reg.MustPush(t, "tricks/b", "v", tc.b), image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := compare.Images(t.Context(), ra, rb, compare.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != compare.Different {
				t.Errorf("verdict %s, want different: %+v", rep.Verdict, rep.Platforms)
			}
		})
	}
}
