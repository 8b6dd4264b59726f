package inspect_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/inspect"
	"github.com/reprover/reprover/kit"
)

// withProvenance is an index of img and a BuildKit-style attestation
// manifest holding statement (SLSA v1 provenance).
func withProvenance(t *testing.T, img v1.Image, statement func(digest string) string) v1.ImageIndex {
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	att, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{
		Layer:       static.NewLayer([]byte(statement(d.Hex)), "application/vnd.in-toto+json"),
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": d.String()}}})
}

// provenanceV1 is SLSA v1 provenance as BuildKit writes it (the parts
// read), about the image of digest hex, with a secret build argument.
func provenanceV1(hex string) string {
	return fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1",
"subject":[{"name":"pkg:docker/app@v1","digest":{"sha256":%q}}],
"predicate":{"buildDefinition":{"buildType":"https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md",
"externalParameters":{"configSource":{"uri":"https://git.example/org/app.git#refs/tags/v1","digest":{"sha1":"191d9e9468fe2c91c63c5268feb520386caddc31"},"path":"Dockerfile"},
"request":{"frontend":"dockerfile.v0","args":{"target":"release","build-arg:V":"2","build-arg:API_TOKEN":"tok-s3cret"}}},
"resolvedDependencies":[{"uri":"pkg:docker/base/busybox@1?platform=linux%%2Famd64","digest":{"sha256":"2aca5e93712887ed69170aef8a2140b7f698f92c1ed41c95414d995e9d46b650"}},
{"uri":"https://downloads.example/tool.tar.gz","digest":{"sha256":"aaaa5e93712887ed69170aef8a2140b7f698f92c1ed41c95414d995e9d46b650"}},
{"uri":"https://downloads.example/unpinned.sh","digest":{}}],
"internalParameters":{"buildConfig":{"llbDefinition":[]}}},
"runDetails":{"builder":{"id":"https://ci.example/runner"},"metadata":{}}}}`, hex)
}

// TestTraceAndVouch: the provenance of an image (its source, commit,
// Dockerfile, bases and downloads, pinned or not), each layer with its
// instruction, and the reprover verdicts attached to it checked with
// keys, k of n; other referrers listed, a kit detected by its type.
func TestTraceAndVouch(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	img := fixtures.Image(fixtures.Spec{User: "65532", Steps: []fixtures.Step{
		{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{fixtures.File("hello", "hi\n")}},
		{Instruction: "RUN |1 API_TOKEN=tok-s3cret /bin/sh -c make", Entries: []fixtures.Entry{fixtures.File("out", "o\n")}},
	}})
	ref := reg.MustPush(t, "vouch/app", "v1", withProvenance(t, img, provenanceV1))
	subject := ref
	_, digest, _ := strings.Cut(ref, "@")

	dir := t.TempDir()
	k1, err := attest.GenerateKey(filepath.Join(dir, "k1"), attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := attest.GenerateKey(filepath.Join(dir, "k2"), attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *attest.PrivateKey, passed bool) []byte {
		levels := []string{attest.LevelFailed}
		if passed {
			levels = []string{attest.LevelReproducible}
		}
		st, err := attest.VSAStatement(attest.VSA{Subjects: []attest.Subject{{Name: "vouch/app", Digest: digest}}, TimeVerified: time.Unix(1e9, 0),
			ResourceURI: ref, Policy: attest.Policy{URI: attest.PolicyURI, Profile: "strict"}, Passed: passed, VerifiedLevels: levels})
		if err != nil {
			t.Fatal(err)
		}
		env, err := attest.Sign(t.Context(), k, st)
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	if err := attest.Push(t.Context(), subject, [][]byte{sign(k1, true), sign(k2, false)}, attest.RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	pushKit(t, subject)

	t.Run("provenance about another image", func(t *testing.T) {
		other := reg.MustPush(t, "vouch/other", "v1", withProvenance(t, img, func(string) string { return provenanceV1(strings.Repeat("0", 64)) }))
		rep := inspectRef(t, other, inspect.Options{})
		if rep.Provenance == nil || !strings.Contains(rep.Provenance.NotAbout, "not sha256:") {
			t.Fatalf("provenance %s: want it said to be about another image", indent(rep.Provenance))
		}
		if i := slices.IndexFunc(rep.Platforms[0].Findings, func(f inspect.Finding) bool { return f.Check == inspect.NoProvenance }); i < 0 {
			t.Errorf("no noProvenance finding for a provenance about another image: %s", indent(rep.Platforms[0].Findings))
		}
		for _, l := range rep.Platforms[0].Layers {
			if l.Dockerfile != "" {
				t.Errorf("a layer traced by a provenance about another image: %+v", l)
			}
		}
	})
	t.Run("provenance and layers", func(t *testing.T) {
		rep := inspectRef(t, ref, inspect.Options{})
		p := rep.Provenance
		if p == nil {
			t.Fatal("no provenance")
		}
		if p.Builder != "https://ci.example/runner" || p.Source != "https://git.example/org/app.git#refs/tags/v1" || p.Commit != "191d9e9468fe2c91c63c5268feb520386caddc31" ||
			p.Dockerfile != "Dockerfile" || p.Target != "release" || p.Mode != "max" || p.NotAbout != "" {
			t.Errorf("provenance %s", indent(p))
		}
		if p.Args["V"] != "2" || strings.Contains(p.Args["API_TOKEN"], "s3cret") {
			t.Errorf("args %v: V=2 shown, API_TOKEN fingerprinted", p.Args)
		}
		if len(p.Bases) != 1 || p.Bases[0].Digest != "sha256:2aca5e93712887ed69170aef8a2140b7f698f92c1ed41c95414d995e9d46b650" {
			t.Errorf("bases %+v", p.Bases)
		}
		if len(p.Downloads) != 2 || !p.Downloads[0].Pinned || p.Downloads[1].Pinned {
			t.Errorf("downloads %+v: the first pinned, the second not", p.Downloads)
		}
		ls := rep.Platforms[0].Layers
		if len(ls) != 2 || ls[0].Instruction != "ADD rootfs.tar / # buildkit" || !strings.HasPrefix(ls[1].Instruction, "RUN |1 API_TOKEN=[sha256:") {
			t.Errorf("layers %s", indent(ls))
		}
		for _, f := range rep.Platforms[0].Findings {
			if f.Check == inspect.NoProvenance {
				t.Errorf("a noProvenance finding on an image with provenance")
			}
		}
		if rep.Kit == "" {
			t.Errorf("no kit found among %s", indent(rep.Referrers))
		}
		var types []string
		for _, r := range rep.Referrers {
			types = append(types, r.ArtifactType+" "+r.Where)
		}
		for _, want := range []string{"https://slsa.dev/provenance/v1 index", attest.ArtifactType + " referrers", inspect.KitArtifactType + " referrers", "cosign attestation tag"} {
			if !slices.Contains(types, want) {
				t.Errorf("referrers %q lack %q", types, want)
			}
		}
	})
	for _, c := range []struct {
		name      string
		keys      []*attest.PublicKey
		threshold int
		verdicts  []string // result, checked
		vouched   string   // "", "passed", "not passed"
	}{
		{name: "no key: present, not checked", verdicts: []string{"FAILED false", "PASSED false"}},
		{name: "one key of one", keys: []*attest.PublicKey{k1.Public()}, threshold: 1, verdicts: []string{"FAILED false", "PASSED true"}, vouched: "passed"},
		{name: "two keys, threshold 2: one PASSED, one FAILED", keys: []*attest.PublicKey{k1.Public(), k2.Public()}, threshold: 2,
			verdicts: []string{"FAILED true", "PASSED true"}, vouched: "not passed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := inspectRef(t, ref, inspect.Options{Keys: c.keys, Threshold: c.threshold})
			var got []string
			for _, v := range rep.Verdicts {
				got = append(got, fmt.Sprintf("%s %v", v.Result, v.Checked))
			}
			slices.Sort(got)
			if !slices.Equal(got, c.verdicts) {
				t.Errorf("verdicts %q, want %q: %s", got, c.verdicts, indent(rep.Verdicts))
			}
			vouched := ""
			if v := rep.Vouched; v != nil {
				vouched = map[bool]string{true: "passed", false: "not passed"}[v.Passed]
			}
			if vouched != c.vouched {
				t.Errorf("vouched %q, want %q: %s", vouched, c.vouched, indent(rep.Vouched))
			}
		})
	}
}

// pushKit attaches an artifact of the kit's type to subject, as the
// kit's writer will: an OCI manifest with that artifactType and subject.
func pushKit(t *testing.T, subject string) {
	d, err := name.NewDigest(subject)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	kit, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), mutate.Addendum{Layer: static.NewLayer([]byte(`{}`), "application/vnd.reprover.kit.v1+json")})
	if err != nil {
		t.Fatal(err)
	}
	kit = mutate.ConfigMediaType(kit, "application/vnd.oci.empty.v1+json")
	if err := remote.Write(d.Context().Tag("kit-blobs"), kit); err != nil {
		t.Fatal(err)
	}
	m, err := kit.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	m = m.DeepCopy()
	m.ArtifactType, m.Subject = inspect.KitArtifactType, desc
	raw, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	h, _, _ := v1.SHA256(bytes.NewReader(raw))
	if err := remote.Put(d.Context().Digest(h.String()), rawManifest(raw)); err != nil {
		t.Fatal(err)
	}
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// TestKitArtifactType: inspect finds kits by the type package kit
// pushes them with (inspect may not import kit, its test may).
func TestKitArtifactType(t *testing.T) {
	if inspect.KitArtifactType != kit.ArtifactType {
		t.Errorf("inspect looks for kits of type %q, kit pushes %q", inspect.KitArtifactType, kit.ArtifactType)
	}
}
