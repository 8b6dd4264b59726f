package inspect_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/inspect"
)

func TestMain(m *testing.M) {
	code := m.Run()
	fixtures.StopBuildkit()
	os.Exit(code)
}

// TestBuiltImages builds images with BuildKit (a buildkitd the tests
// start, the busybox base, a git source at a fixed commit time, as a
// release is published) and inspects them: the one with every fault
// has each finding, the clean one none at medium or above. The other
// cases of each check are built in code (TestImage), which is faster.
func TestBuiltImages(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	faulty := fixtures.PublishRelease(t, reg, addr, "built/faulty", map[string]string{
		"Dockerfile": `FROM BASE
COPY id_rsa /root/.ssh/id_rsa
RUN rm /root/.ssh/id_rsa
COPY config.txt /app/config.txt
RUN echo "token=" > /app/config.txt
RUN cp /bin/busybox /bin/su-copy && chmod u+s /bin/su-copy
ENV API_TOKEN=s3cret-from-env
RUN wget -qO- http://install.invalid/install.sh | sh
`,
		"id_rsa":     privateKey,
		"config.txt": "token=" + ghToken + "\n",
	})
	rep := inspectRef(t, faulty.Published, inspect.Options{})
	p := rep.Platforms[0]
	layerOf := func(instruction string) int {
		for i, l := range p.Layers {
			if strings.Contains(l.Instruction, instruction) {
				return i + 1
			}
		}
		t.Fatalf("no layer made by %q: %s", instruction, indent(p.Layers))
		return 0
	}
	got := map[string]bool{}
	for _, f := range p.Findings {
		got[f.Check+" "+f.Path] = true
	}
	for _, w := range []want{
		{inspect.SecretInFile, "/root/.ssh/id_rsa", layerOf("COPY id_rsa")},
		{inspect.HiddenByDeletion, "/root/.ssh/id_rsa", layerOf("COPY id_rsa")},
		{inspect.SecretInFile, "/app/config.txt", layerOf("COPY config.txt")},
		{inspect.HiddenByOverwrite, "/app/config.txt", layerOf("COPY config.txt")},
		{inspect.SetuidFile, "/bin/su-copy", layerOf("chmod u+s")},
		{inspect.SecretInEnv, "", 0},
		{inspect.SecretInHistory, "", 0}, // the ENV instruction in the history
		{inspect.RunsAsRoot, "", 0},
		{inspect.PipedDownload, "", -1}, // a RUN that changed nothing has no layer
		{inspect.NoProvenance, "", 0},
		{inspect.NotScanned, "", 0}, // busybox, twice: larger than MaxScanFileBytes
	} {
		i := slices.IndexFunc(p.Findings, func(f inspect.Finding) bool {
			return f.Check == w.check && f.Path == w.path && (w.layer < 0 || f.Layer == w.layer)
		})
		if i < 0 {
			t.Errorf("no finding %v in\n%s", w, indent(p.Findings))
		}
		delete(got, w.check+" "+w.path)
	}
	if len(got) > 0 {
		t.Errorf("findings not expected: %v\n%s", got, indent(p.Findings))
	}
	noSecretShown(t, rep)

	// The clean image is built as a release job builds one with buildctl,
	// with provenance (mode=max): it is traced to its Dockerfile's lines.
	dir := t.TempDir()
	base := reg.PushBusybox(t)
	for name, body := range map[string]string{"Dockerfile": "FROM " + base + "\nCOPY hello.txt /app/hello.txt\nUSER 65532\n", "hello.txt": "hello\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "clean")
	d := fixtures.Buildctl(t, addr, dir, out, "attest:provenance=mode=max")
	x, err := fixtures.FromLayout(out, d)
	if err != nil {
		t.Fatal(err)
	}
	clean, err := fixtures.PushAny(reg.Host+"/built/clean:v1", x)
	if err != nil {
		t.Fatal(err)
	}
	rep = inspectRef(t, clean, inspect.Options{})
	if len(rep.Platforms) != 1 {
		t.Fatalf("%d platforms", len(rep.Platforms))
	}
	cp := rep.Platforms[0]
	for _, f := range cp.Findings {
		if f.Severity.Rank() >= inspect.Medium.Rank() || f.Check == inspect.NoProvenance {
			t.Errorf("the clean image has a %s finding: %+v", f.Severity, f)
		}
	}
	if cp.User != "65532" {
		t.Errorf("user %q, want 65532", cp.User)
	}
	pv := rep.Provenance
	_, baseDigest, _ := strings.Cut(base, "@")
	if pv == nil || pv.Mode != "max" || pv.NotAbout != "" || len(pv.Bases) != 1 || pv.Bases[0].Digest != baseDigest {
		t.Errorf("provenance %s, want mode=max about this image, base %s", indent(pv), baseDigest)
	}
	var lines []string
	for _, l := range cp.Layers {
		lines = append(lines, l.Dockerfile)
	}
	if !slices.Equal(lines, []string{"Dockerfile:1", "Dockerfile:2"}) {
		t.Errorf("layers made at %q, want the FROM's and the COPY's lines: %s", lines, indent(cp.Layers))
	}
}
