package main

import (
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/reprover/reprover/bake"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// TestOwnRelease publishes reprover's own image from this repository's
// HEAD commit the way docs/ci.md's release workflow does (docker-bake.hcl's
// target with the release's variables, SOURCE_DATE_EPOCH from the commit,
// module downloads through BuildKit's proxy network, provenance mode=max),
// then verifies it as an auditor holding only the image: `reprover verify
// --image` with no source, commit, Dockerfile or build args, signed and
// pushed, and `attest verify --image` accepts it. The bases come from this
// machine (the Debian base, and it plus the local Go toolchain as the
// golang image); the modules from this machine's module cache, served as a
// GOPROXY on a test bridge.
func TestOwnRelease(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", root}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %s: %v", strings.Join(args, " "), err)
		}
		return strings.TrimSpace(string(out))
	}
	commit := git("rev-parse", "HEAD")
	epoch, err := strconv.ParseInt(git("show", "-s", "--format=%ct", commit), 10, 64)
	if err != nil {
		t.Fatal(err)
	}

	// The release job: a checkout of the tag, the bases pinned, the bake
	// file's variables as its environment sets them.
	src := t.TempDir()
	archive := filepath.Join(t.TempDir(), "src.tar")
	git("archive", "-o", archive, commit)
	if out, err := exec.Command("tar", "-xf", archive, "-C", src).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	reg := fixtures.NewRegistry(t)
	runtimeBase, err := fixtures.DebianBase()
	if err != nil {
		t.Fatal(err)
	}
	runtimeRef := reg.MustPush(t, "base/debian", "stable", runtimeBase)
	goRef := reg.MustPush(t, "base/golang", "local", fixtures.GoToolchainBase(t))
	goproxy := fixtures.GoModuleProxy(t)
	u, err := url.Parse(goproxy)
	if err != nil {
		t.Fatal(err)
	}
	proxyIP, _, err := net.SplitHostPort(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	bakeSrc, err := os.ReadFile(filepath.Join(src, "docker-bake.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := bake.Load(bakeSrc, "docker-bake.hcl", map[string]string{
		"GO_IMAGE": goRef, "RUNTIME_IMAGE": runtimeRef, "GOPROXY": goproxy, "VERSION": "v0.0.0-test", "PLATFORMS": "linux/amd64"}, bake.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := f.Target("default")
	if err != nil {
		t.Fatal(err)
	}
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	bk, err := builder.Connect(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bk.Close()
	out := filepath.Join(t.TempDir(), "published")
	res, err := bk.Build(t.Context(), builder.Spec{
		ContextDir: filepath.Join(src, tg.Context), DockerfilePath: filepath.Join(src, tg.DockerfilePath()), DockerfileName: tg.DockerfilePath(),
		Target: tg.Target, BuildArgs: tg.BuildArgs(), Platforms: tg.Platforms, SourceDateEpoch: epoch,
		Provenance: true, ProvenanceMode: "max", VCS: map[string]string{"source": root, "revision": commit},
		OCIMediaTypes: true, OutputDir: out, Network: builder.NetworkProxy, ProxyHosts: []string{u.Host},
	}, io.Discard, "quiet")
	if err != nil {
		t.Fatalf("publishing reprover's release: %v", err)
	}
	if len(res.Captures) == 0 {
		t.Fatal("the release's go build fetched no module through the proxy")
	}
	t.Logf("the release's go build fetched %d files through the proxy", len(res.Captures))
	x, err := fixtures.FromLayout(out, res.Digest)
	if err != nil {
		t.Fatal(err)
	}
	published, err := fixtures.PushAny(reg.Host+"/reprover/reprover:v0.0.0-test", x)
	if err != nil {
		t.Fatal(err)
	}

	// The auditor: the image, a key, and the hosts this machine may reach.
	dir := t.TempDir()
	key := filepath.Join(dir, "auditor")
	if code, _, e := cli(t, "keygen", "--out", key); code != 0 {
		t.Fatalf("keygen: %s", e)
	}
	report := filepath.Join(dir, "report.json")
	code, stdout, stderr := cli(t, "verify", "--image", published, "--network", "proxy",
		"--allow-source-host", root, "--allow-download-host", proxyIP, "--buildkit-addr", addr, "--quiet",
		"--report", report, "--attestation", filepath.Join(dir, "att.jsonl"), "--key", key+".key", "--push-attestation")
	if code != 0 {
		t.Fatalf("verify --image %s: exit %d\n%s\n%s", published, code, stdout, stderr)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	var rep verify.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != verify.Reproducible {
		t.Errorf("verdict %s, want reproducible; hints %q", rep.Verdict, rep.Hints)
	}
	for name, from := range map[string]string{"source": "provenance", "commit": "provenance", "sourceDateEpoch": "provenance",
		"buildArgs.GO_IMAGE": "provenance", "buildArgs.GOPROXY": "provenance", "buildArgs.VERSION": "provenance"} {
		if got := rep.Parameters[name]; got.From != from {
			t.Errorf("parameter %s: %+v, want from %s", name, got, from)
		}
	}
	if rep.Source == nil || rep.Source.Commit != commit {
		t.Errorf("source %+v, want commit %s", rep.Source, commit)
	}
	if rep.Build == nil || rep.Build.Network != "proxy" || len(rep.Build.Downloads) != len(res.Captures) {
		t.Errorf("build evidence %+v, want the proxy network and the release's %d downloads", rep.Build, len(res.Captures))
	}
	if code, o, e := cli(t, "attest", "verify", "--key", key+".pub", "--image", published); code != 0 || !strings.Contains(o+e, "PASSED") {
		t.Errorf("attest verify --image: exit %d\n%s\n%s", code, o, e)
	}
}
