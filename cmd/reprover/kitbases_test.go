package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
)

// A kit is where a rebuild's base images come from.
var _ builder.Bases = (*kit.Kit)(nil)

// baseRelease pushes an index whose SLSA v1 provenance names the base
// images given (as BuildKit's pkg:docker materials) and no download.
func baseRelease(t *testing.T, reg *fixtures.Registry, repo string, bases ...string) (string, v1.Hash) {
	img := fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "COPY a /", Entries: []fixtures.Entry{fixtures.File("a", repo)}}}})
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for _, b := range bases {
		name, digest, _ := strings.Cut(b, "@")
		deps = append(deps, fmt.Sprintf(`{"uri":"pkg:docker/%s@1?digest=%s&platform=linux%%2Famd64","digest":{"sha256":%q}}`,
			name, digest, strings.TrimPrefix(digest, "sha256:")))
	}
	stmt := `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1",` +
		`"subject":[{"name":"pkg:docker/app","digest":{"sha256":"` + d.Hex + `"}}],` +
		`"predicate":{"buildDefinition":{"externalParameters":{"request":{"frontend":"dockerfile.v0"}},` +
		`"resolvedDependencies":[` + strings.Join(deps, ",") + `]}}}`
	att, err := mutate.Append(fixtures.Image(fixtures.Spec{}), mutate.Addendum{
		Layer:       fixtures.RawLayer([]byte(stmt), []byte(stmt), "application/vnd.in-toto+json"),
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"}})
	if err != nil {
		t.Fatal(err)
	}
	idx := fixtures.Index(false, false, fixtures.Platformed{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Image: img})
	idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
		Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d.String()}}})
	ref := reg.MustPush(t, repo, "v1", idx)
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref, h
}

// TestKitWithBases: reprover kit --with-bases keeps the base image the
// provenance names, and the kit written opens with it; an image whose
// provenance names none, and a base its registry no longer serves, are
// exit 2 naming them, and nothing is written.
func TestKitWithBases(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	base, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	baseRef := reg.MustPush(t, "base/one", "1", base)
	ref, digest := baseRelease(t, reg, "app", baseRef)
	dir := filepath.Join(t.TempDir(), "kit")
	expect(t, []string{"kit", "--image", ref, "--with-bases", "--out", "oci:" + dir}, 0,
		[]string{"for " + digest.String() + ": 0 download(s), 1 base image(s)", "wrote oci:" + dir}, nil)
	k, err := kit.Open(t.Context(), "oci:"+dir, "", digest, kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if len(k.Config.Bases) != 1 || k.Config.Bases[0].Ref != baseRef {
		t.Errorf("bases %+v, want %s", k.Config.Bases, baseRef)
	}
	if n := len(k.BaseBlobs()); n != 4 {
		t.Errorf("%d base blobs, want the manifest, the config and 2 layers", n)
	}

	bare, _ := baseRelease(t, reg, "bare")
	gone := reg.Host + "/base/gone@sha256:" + strings.Repeat("c", 64)
	missing, _ := baseRelease(t, reg, "missing", gone)
	for _, c := range []struct {
		name, image, want string
	}{
		{"no base in the provenance", bare, "its provenance names no base image"},
		{"a base the registry does not serve", missing, "base image " + gone},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "kit")
			expect(t, []string{"kit", "--image", c.image, "--with-bases", "--out", "oci:" + out}, 2, nil, []string{c.want})
		})
	}
}
