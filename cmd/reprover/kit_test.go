package main

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
)

// A kit is what a replayed build serves downloads from.
var _ builder.Replay = (*kit.Kit)(nil)

// provenanceRelease pushes an index whose SLSA v1 provenance pins the
// downloads given (URL → body), as BuildKit's proxy records them, and
// returns its reference and digest.
func provenanceRelease(t *testing.T, reg *fixtures.Registry, downloads map[string]string) (string, v1.Hash) {
	img := fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "COPY a /", Entries: []fixtures.Entry{fixtures.File("a", "a")}}}})
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	var deps []string
	for u, body := range downloads {
		deps = append(deps, fmt.Sprintf(`{"uri":%q,"digest":{"sha256":"%x"}}`, u, sha256.Sum256([]byte(body))))
	}
	stmt := `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1",` +
		`"subject":[{"name":"pkg:docker/app","digest":{"sha256":"` + d.Hex + `"}}],` +
		`"predicate":{"buildDefinition":{"externalParameters":{"request":{"frontend":"dockerfile.v0","args":{"target":"app"}}},` +
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
	ref := reg.MustPush(t, "app", "v1", idx)
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref, h
}

// TestKitCommand runs reprover kit as a publisher's release job would:
// the kit it pushes is the image's (found by kit.Open's auto) and the
// archive it writes opens as the same kit; a download that changed since
// the release is exit 2 naming it and both digests, and nothing is
// written; refused arguments stop before anything is fetched.
func TestKitCommand(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	var served atomic.Int64
	bodies := map[string]string{"/InRelease": "Release\n", "/jq.deb": "jq"}
	var changed atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		body, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if changed.Load() && r.URL.Path == "/InRelease" {
			body = "Release of tomorrow\n"
		}
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	downloads := map[string]string{}
	for p, b := range bodies {
		downloads[srv.URL+p] = b
	}
	ref, digest := provenanceRelease(t, reg, downloads)
	repo := reg.Host + "/app"
	archive := filepath.Join(t.TempDir(), "kit.tar")

	expect(t, []string{"kit", "--image", ref, "--push", "--out", "oci-archive:" + archive, "--allow-download-host", "127.0.0.1"}, 0,
		[]string{"for " + digest.String() + ": 2 download(s)", "wrote oci-archive:" + archive, "pushed " + repo + "@sha256:"}, nil)
	pushed, err := kit.Open(t.Context(), kit.Auto, repo, digest, kit.Options{})
	if err != nil || pushed == nil {
		t.Fatalf("the pushed kit: %v, %v", pushed, err)
	}
	defer pushed.Close()
	written, err := kit.Open(t.Context(), "oci-archive:"+archive, repo, digest, kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer written.Close()
	if pushed.Digest() != written.Digest() {
		t.Errorf("pushed %s, wrote %s", pushed.Digest(), written.Digest())
	}
	if pushed.Config.Params.Target != "app" || pushed.Config.Params.Network != "proxy" {
		t.Errorf("params %+v, want the provenance's target and the proxy network", pushed.Config.Params)
	}

	changed.Store(true)
	out := filepath.Join(t.TempDir(), "changed.tar")
	expect(t, []string{"kit", "--image", ref, "--out", "oci-archive:" + out, "--allow-download-host", "127.0.0.1"}, 2, nil,
		[]string{srv.URL + "/InRelease serves sha256:" + fmt.Sprintf("%x", sha256.Sum256([]byte("Release of tomorrow\n"))) +
			", the release pinned sha256:" + fmt.Sprintf("%x", sha256.Sum256([]byte("Release\n")))})
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a kit was written after a mismatch: %v", err)
	}

	before := served.Load()
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing to do", nil, "nothing to do: give --out"},
		{"out to a registry", []string{"--out", repo + ":kit"}, "want oci:DIR or oci-archive:FILE"},
		{"commit without source", []string{"--push", "--commit", "HEAD"}, "--commit: only with --source"},
		{"source not a directory", []string{"--push", "--source", filepath.Join(t.TempDir(), "nope")}, "not a directory"},
		{"a limit of another command", []string{"--push", "--limit", "compare.MaxEntries=5"}, "--limit compare.MaxEntries: not a limit of this command"},
	} {
		t.Run(c.name, func(t *testing.T) {
			expect(t, append([]string{"kit", "--image", ref}, c.args...), 2, nil, []string{c.want})
		})
	}
	if n := served.Load(); n != before {
		t.Errorf("refused arguments fetched %d download(s)", n-before)
	}
	t.Run("a download over kit.MaxBlobBytes", func(t *testing.T) {
		expect(t, []string{"kit", "--image", ref, "--push", "--allow-download-host", "127.0.0.1", "--limit", "kit.MaxBlobBytes=4"}, 2, nil,
			[]string{"download bytes: 5 exceeds limit MaxBlobBytes=4"})
	})
	t.Run("local host not allowed", func(t *testing.T) {
		expect(t, []string{"kit", "--image", ref, "--push"}, 2, nil, []string{"host 127.0.0.1 is loopback: refused unless allowed by name"})
	})
}
