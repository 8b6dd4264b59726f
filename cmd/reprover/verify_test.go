package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/sirupsen/logrus"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
)

func TestMain(m *testing.M) {
	logrus.SetLevel(logrus.ErrorLevel) // BuildKit client warnings are noise here
	code := m.Run()
	fixtures.StopBuildkit()
	os.Exit(code)
}

// TestVerifyCommand runs reprover verify as a user would, on a release
// published from a git repository: the exit-code contract, the report
// formats, --strict, and the managed buildkitd.
// release is a published release and its variants on a registry, with
// the git repository it was built from and a buildkitd.
type release struct {
	addr, dir, commit               string
	reg                             *fixtures.Registry
	published, equivalent, mismatch string
}

func newRelease(t *testing.T, reg *fixtures.Registry) *release {
	ctx := t.Context()
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	base, err := fixtures.Busybox(fixtures.BusyboxPath, v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	baseRef := reg.MustPush(t, "base/busybox", "1", base)
	when := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	dir, commit := fixtures.GitRepo(t, map[string]string{
		"Dockerfile": "FROM " + baseRef + "\nCOPY app/ /app/\n", "app/hello.txt": "hello\n"}, when)

	bk, err := builder.Connect(ctx, addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	out := filepath.Join(t.TempDir(), "published")
	res, err := bk.Build(ctx, builder.Spec{ContextDir: dir, DockerfilePath: filepath.Join(dir, "Dockerfile"), DockerfileName: "Dockerfile",
		SourceDateEpoch: when.Unix(), OCIMediaTypes: true, OutputDir: out}, os.Stderr, "quiet")
	if err != nil {
		t.Fatal(err)
	}
	x, err := fixtures.FromLayout(out, res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	r := &release{addr: addr, dir: dir, commit: commit, reg: reg}
	if r.published, err = fixtures.PushAny(reg.Host+"/app/release:v1", x); err != nil {
		t.Fatal(err)
	}
	recompressed, err := fixtures.Rebuild(x.(v1.Image), func(ls []v1.Layer) ([]v1.Layer, error) {
		l, err := fixtures.Recompress(ls[1], fixtures.GzipBest)
		ls[1] = l
		return ls, err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.equivalent, err = fixtures.PushAny(reg.Host+"/app/release:recompressed", recompressed); err != nil {
		t.Fatal(err)
	}
	tampered, err := fixtures.Rebuild(x.(v1.Image), func(ls []v1.Layer) ([]v1.Layer, error) {
		l, err := fixtures.AppendToLayer(ls[1], fixtures.Gzip, fixtures.File("app/evil.sh", "rm -rf /\n"))
		ls[1] = l
		return ls, err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.mismatch, err = fixtures.PushAny(reg.Host+"/app/release:tampered", tampered); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestVerifyCommand(t *testing.T) {
	rel := newRelease(t, fixtures.NewRegistry(t))
	addr, dir, commit, reg := rel.addr, rel.dir, rel.commit, rel.reg
	published, equivalent, mismatch := rel.published, rel.equivalent, rel.mismatch
	_ = reg
	report := filepath.Join(t.TempDir(), "report.json")
	common := func(image string, extra ...string) []string {
		return append([]string{"verify", "--source", dir, "--commit", commit, "--image", image, "--buildkit-addr", addr, "--quiet"}, extra...)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{name: "reproducible", args: common(published), wantStdout: []string{"verdict: reproducible", "published: " + published}},
		{name: "reproducible strict", args: common(published, "--strict"), wantStdout: []string{"verdict: reproducible"}},
		{name: "equivalent", args: common(equivalent), wantStdout: []string{"verdict: equivalent", "compression"}},
		{name: "equivalent strict", args: common(equivalent, "--strict"), wantCode: 1, wantStderr: []string{"--strict"}},
		{name: "mismatch", args: common(mismatch, "--format", "json", "--report", report), wantCode: 1,
			wantStdout: []string{`"verdict": "mismatch"`, `"/app/evil.sh"`, `"network": "none"`}},
		{name: "unknown commit", args: []string{"verify", "--source", dir, "--commit", strings.Repeat("a", 40), "--image", published, "--buildkit-addr", addr},
			wantCode: 2, wantStdout: []string{"verdict: error"}, wantStderr: []string{strings.Repeat("a", 40)}},
		{name: "short commit", args: []string{"verify", "--source", dir, "--commit", commit[:7], "--image", published, "--buildkit-addr", addr},
			wantCode: 2, wantStderr: []string{"full commit id"}},
		{name: "missing flag", args: []string{"verify", "--source", dir}, wantCode: 2, wantStderr: []string{"required flag"}},
		{name: "managed buildkitd", args: []string{"verify", "--source", dir, "--commit", commit, "--image", published, "--quiet"},
			env: map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": fixtures.BuildkitdBinary()}, wantStdout: []string{"verdict: reproducible"}},
		{name: "managed buildkitd that cannot start", args: []string{"verify", "--source", dir, "--commit", commit, "--image", published},
			env: map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": "/bin/false"}, wantCode: 2, wantStderr: []string{"buildkitd exited before answering"}},
		{name: "BUILDKIT_HOST", args: []string{"verify", "--source", dir, "--commit", commit, "--image", published, "--quiet"},
			env: map[string]string{"BUILDKIT_HOST": addr}, wantStdout: []string{"verdict: reproducible"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			stdout, stderr := tempFile(t), tempFile(t)
			code := run(t.Context(), tc.args, nil, stdout, stderr)
			o, e := readBack(t, stdout), readBack(t, stderr)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.wantCode, o, e)
			}
			for _, s := range tc.wantStdout {
				if !strings.Contains(o, s) {
					t.Errorf("stdout lacks %q:\n%s", s, o)
				}
			}
			for _, s := range tc.wantStderr {
				if !strings.Contains(e, s) {
					t.Errorf("stderr lacks %q:\n%s", s, e)
				}
			}
		})
	}
	if _, err := os.Stat(report); err != nil {
		t.Errorf("--report: %v", err)
	}
}
