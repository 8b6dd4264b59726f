package builder_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

func TestMain(m *testing.M) {
	code := m.Run()
	fixtures.StopBuildkit()
	os.Exit(code)
}

// TestBuildDeterministic builds the same context twice on a real
// buildkitd, without cache: the same digest both times, and the image
// opens as an OCI layout.
func TestBuildDeterministic(t *testing.T) {
	ctx := t.Context()
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	baseRef := reg.PushBusybox(t)
	src := t.TempDir()
	writeFile(t, src, "Dockerfile", "FROM "+baseRef+"\nCOPY hello.txt /app/\nRUN echo built > /app/built.txt\n")
	writeFile(t, src, "hello.txt", "hello\n")
	c, err := builder.Connect(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var digests []string
	for i := range 2 {
		out := filepath.Join(t.TempDir(), "out")
		res, err := c.Build(ctx, builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile", SourceDateEpoch: 1740830400,
			OCIMediaTypes: true, Compression: "gzip", Platforms: []string{"linux/amd64"}, OutputDir: out}, os.Stderr, "plain")
		if err != nil {
			t.Fatalf("build %d: %v", i, err)
		}
		r, err := image.Open(ctx, "oci:"+out+"@"+res.Digest, image.Options{})
		if err != nil {
			t.Fatalf("opening the rebuilt image: %v", err)
		}
		r.Close()
		digests = append(digests, res.Digest)
	}
	if digests[0] != digests[1] {
		t.Errorf("two builds of the same context differ: %s, %s", digests[0], digests[1])
	}
}

// TestBuildNoNetwork: a RUN that needs the network fails, whatever the
// Dockerfile asks, and the error names the Dockerfile line and the log.
func TestBuildNoNetwork(t *testing.T) {
	ctx := t.Context()
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	reg := fixtures.NewRegistry(t)
	baseRef := reg.PushBusybox(t)
	src := t.TempDir()
	writeFile(t, src, "Dockerfile", "FROM "+baseRef+"\nRUN true\nRUN wget -q -O /x http://"+reg.Host+"/v2/\n")
	c, err := builder.Connect(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Build(ctx, builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile", SourceDateEpoch: 1,
		OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out")}, os.Stderr, "plain")
	var be *builder.BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a *builder.BuildError", err)
	}
	if be.File != "Dockerfile" || be.Line != 3 {
		t.Errorf("failed step at %s:%d, want Dockerfile:3", be.File, be.Line)
	}
	if !strings.Contains(strings.Join(be.LogTail, "\n"), "wget") {
		t.Errorf("log tail %q does not show wget's failure", be.LogTail)
	}
}

func writeFile(t *testing.T, dir, name, body string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
