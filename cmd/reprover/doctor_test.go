package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/fixtures"
)

// TestDoctorCommand runs reprover doctor as a user would: on this machine
// (root, with what make tools installs) every check passes; each failure
// is driven by the environment or the arguments, and names its fix.
func TestDoctorCommand(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	busybox := reg.PushBusybox(t)
	private, creds := privateRegistry(t)
	bkAddr := fixtures.Buildkit(t, fixtures.StartDaemon)

	// A PATH with runc and nothing else: no buildkitd there.
	runc, err := exec.LookPath("runc")
	if err != nil {
		t.Fatal("runc is not in PATH (make tools)")
	}
	onlyRunc := t.TempDir()
	if err := os.Symlink(runc, filepath.Join(onlyRunc, "runc")); err != nil {
		t.Fatal(err)
	}
	// An emulated platform this machine has a handler for (make tools
	// registers qemu-aarch64), when it has one; and one it has none for.
	var emulated []string
	if hostHas("aarch64") {
		emulated = []string{"--platform", "linux/arm64"}
	}
	noHandler := archWithoutHandler(t)
	missing := filepath.Join(t.TempDir(), "missing")
	// A service config whose pool has the test daemon and one that is gone.
	deadSock := "unix://" + filepath.Join(t.TempDir(), "gone.sock")
	poolConfig := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(poolConfig, []byte("sources: {allow: [\"https://\"]}\nbuildkit:\n  addrs:\n    - "+bkAddr+"\n    - addr: "+deadSock+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Every case: a managed buildkitd at reprover's BuildKit version, and
	// no registry credentials, unless the case says otherwise.
	base := map[string]string{"BUILDKIT_HOST": "", "REPROVER_BUILDKITD": fixtures.BuildkitdBinary(), "DOCKER_CONFIG": t.TempDir()}
	managed := []string{"user", "runc", "buildkitd", "cni", "cache-dir"}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantCode   int
		wantChecks []string // exactly these checks, in order (nil: not checked)
		wantStdout []string
		wantStderr []string
	}{
		{name: "all pass", args: append([]string{"doctor"}, emulated...), wantCode: 0,
			wantChecks: append(managed, binfmtChecks(emulated)...),
			wantStdout: []string{"ok   user: root", "ok   buildkitd: " + fixtures.BuildkitdBinary() + " (BuildKit " + buildkitVersion() + ", as reprover)"}},
		{name: "no buildkitd", args: []string{"doctor"}, env: map[string]string{"REPROVER_BUILDKITD": "/nonexistent", "PATH": onlyRunc}, wantCode: 1,
			wantChecks: append(managed, "binfmt"),
			wantStdout: []string{"ok   runc: " + filepath.Join(onlyRunc, "runc"), "FAIL buildkitd: buildkitd not found; looked at $REPROVER_BUILDKITD (/nonexistent: not an executable file)",
				"buildkitd in PATH — fix: make tools && make install (buildkitd next to reprover), or export REPROVER_BUILDKITD=/path/to/buildkitd"}},
		{name: "REPROVER_BUILDKITD not executable", args: []string{"doctor"}, env: map[string]string{"REPROVER_BUILDKITD": "/nonexistent"}, wantCode: 1,
			wantStdout: []string{"FAIL buildkitd: $REPROVER_BUILDKITD=/nonexistent is not an executable file (verify would use ", "— fix: unset REPROVER_BUILDKITD"}},
		{name: "buildkitd that does not run", args: []string{"doctor"}, env: map[string]string{"REPROVER_BUILDKITD": "/bin/false"}, wantCode: 1,
			wantStdout: []string{"FAIL buildkitd: /bin/false --version fails: exit status 1: false (GNU coreutils)", "— fix: make tools && make install"}},
		{name: "no binfmt handler", args: []string{"doctor", "--platform", "linux/" + noHandler.goarch}, wantCode: 1,
			wantChecks: append(managed, "binfmt linux/"+noHandler.goarch),
			wantStdout: []string{"FAIL binfmt linux/" + noHandler.goarch + ": no binfmt_misc handler for " + noHandler.goarch + " (qemu-" + noHandler.qemu + ") in /proc/sys/fs/binfmt_misc" +
				" — fix: apt-get install qemu-user-static && /lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-" + noHandler.qemu + ".conf"}},
		{name: "json", args: []string{"doctor", "--format", "json", "--platform", "linux/" + noHandler.goarch}, wantCode: 1,
			wantChecks: append(managed, "binfmt linux/"+noHandler.goarch),
			wantStdout: []string{`"fix": "apt-get install qemu-user-static && /lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-` + noHandler.qemu + `.conf"`}},
		{name: "image reachable", args: []string{"doctor", "--image", busybox}, wantCode: 0,
			wantChecks: append(managed, "credentials", "image", "binfmt linux/amd64"),
			wantStdout: []string{"ok   credentials: " + reg.Host + ": none configured, anonymous", "ok   image: " + busybox + " is readable: image sha256:", "(linux/amd64)"}},
		{name: "image on a port where nothing listens", args: []string{"doctor", "--image", "127.0.0.1:1/x:y"}, wantCode: 1,
			wantChecks: append(managed, "credentials", "image", "binfmt"),
			wantStdout: []string{"FAIL image: 127.0.0.1:1/x:y: ", "connection refused", "— fix: curl -sSI http://127.0.0.1:1/v2/"}},
		{name: "image missing", args: []string{"doctor", "--image", reg.Host + "/nothing/here:1"}, wantCode: 1,
			wantStdout: []string{"FAIL image: " + reg.Host + "/nothing/here:1", "not found", "— fix: check the repository, tag or digest"}},
		{name: "image without the platform", args: []string{"doctor", "--image", busybox, "--platform", "linux/386"}, wantCode: 1,
			wantStdout: []string{"FAIL image: ", "is linux/amd64, not linux/386", "— fix: ask for platforms the image has: --platform linux/amd64 (or no --platform: all of them)", "ok   binfmt linux/386: native"}},
		{name: "private image without credentials", args: []string{"doctor", "--image", private}, wantCode: 1,
			wantStdout: []string{"ok   credentials: ", "none configured", "FAIL image: ", "UNAUTHORIZED", "— fix: docker login " + strings.Split(private, "/")[0]}},
		{name: "private image with credentials", args: []string{"doctor", "--image", private}, env: map[string]string{"DOCKER_CONFIG": creds}, wantCode: 0,
			wantStdout: []string{"ok   credentials: " + strings.Split(private, "/")[0] + ": configured", "ok   image: " + private + " is readable"}},
		{name: "local layout missing", args: []string{"doctor", "--image", "oci:" + missing}, wantCode: 1,
			wantChecks: append(managed, "image", "binfmt"), wantStdout: []string{"FAIL image: ", "— fix: check the path: ls -l " + missing}},
		{name: "every member of a service's pool", args: []string{"doctor", "--config", poolConfig, "--platform", "linux/amd64"}, wantCode: 1,
			wantStdout: []string{"ok   buildkitd " + bkAddr + ": ", "FAIL buildkitd " + deadSock + ": "}},
		{name: "buildkit-addr", args: []string{"doctor", "--buildkit-addr", bkAddr, "--platform", "linux/amd64"}, env: map[string]string{"REPROVER_BUILDKITD": "/nonexistent"}, wantCode: 0,
			wantChecks: append(slices.Clone(managed), "binfmt linux/amd64"),
			wantStdout: []string{"ok   user: not needed: BuildKit at " + bkAddr, "ok   buildkitd: " + bkAddr + " (BuildKit " + buildkitVersion() + ", as reprover)",
				"ok   cni: BuildKit at " + bkAddr + ": workers on a CNI network", "ok   binfmt linux/amd64: BuildKit at " + bkAddr + " builds it"}},
		{name: "BUILDKIT_HOST that does not answer", args: []string{"doctor"}, env: map[string]string{"BUILDKIT_HOST": "unix://" + missing}, wantCode: 1,
			wantStdout: []string{"FAIL buildkitd: does not answer: ", missing, "— fix: start buildkitd " + buildkitVersion() + " at unix://" + missing,
				"FAIL cni: the workers of BuildKit at unix://" + missing + " are unknown: it did not answer (see FAIL buildkitd) — fix: fix the buildkitd check first"}},
		{name: "cache-dir missing", args: []string{"doctor", "--cache-dir", missing}, wantCode: 1,
			wantStdout: []string{"FAIL cache-dir: cannot write in " + missing, "— fix: mkdir -p " + missing}},
		{name: "bad platform", args: []string{"doctor", "--platform", "linux/arm64/v8/x"}, wantCode: 2, wantStderr: []string{"--platform", "linux/arm64/v8/x"}},
		{name: "bad format", args: []string{"doctor", "--format", "yaml"}, wantCode: 2, wantStderr: []string{`--format "yaml"`}},
		{name: "bad image", args: []string{"doctor", "--image", "busybox"}, wantCode: 2, wantStderr: []string{`--image: image "busybox"`}},
		{name: "usage", args: []string{"doctor", "extra"}, wantCode: 2, wantStderr: []string{"usage: reprover doctor"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out, _ := expect(t, tc.args, tc.wantCode, tc.wantStdout, tc.wantStderr)
			if tc.wantCode == 2 {
				if out != "" {
					t.Errorf("bad arguments, yet stdout:\n%s", out)
				}
				return
			}
			results := parseDoctor(t, out, slices.Contains(tc.args, "json"))
			var checks []string
			for _, r := range results {
				checks = append(checks, r.Check)
				if r.OK == (r.Fix != "") {
					t.Errorf("%s: ok %v with fix %q", r.Check, r.OK, r.Fix)
				}
			}
			if tc.wantChecks != nil && !slices.Equal(checks, tc.wantChecks) {
				t.Errorf("checks %q, want %q", checks, tc.wantChecks)
			}
			if tc.wantCode == 0 {
				for _, r := range results {
					if !r.OK {
						t.Errorf("FAIL %s: %s — fix: %s", r.Check, r.Detail, r.Fix)
					}
				}
			}
		})
	}
}

// parseDoctor reads doctor's stdout back into results: every text line
// is "ok   CHECK: DETAIL" or "FAIL CHECK: DETAIL[ — fix: FIX]".
func parseDoctor(t *testing.T, out string, isJSON bool) []doctorResult {
	t.Helper()
	var rs []doctorResult
	if isJSON {
		if err := json.Unmarshal([]byte(out), &rs); err != nil {
			t.Fatalf("--format json: %v\n%s", err, out)
		}
		return rs
	}
	for _, line := range strings.Split(out, "\n") {
		var r doctorResult
		rest, ok := strings.CutPrefix(line, "ok   ")
		if !ok {
			if rest, ok = strings.CutPrefix(line, "FAIL "); !ok {
				t.Fatalf("a line that is neither ok nor FAIL: %q", line)
			}
			rest, r.Fix, _ = strings.Cut(rest, " — fix: ")
		}
		r.OK = strings.HasPrefix(line, "ok")
		if r.Check, r.Detail, ok = strings.Cut(rest, ": "); !ok {
			t.Fatalf("a line without CHECK: DETAIL: %q", line)
		}
		rs = append(rs, r)
	}
	return rs
}

func binfmtChecks(platformArgs []string) []string {
	if len(platformArgs) == 0 {
		return []string{"binfmt"}
	}
	return []string{"binfmt " + platformArgs[1]}
}

// hostHas reports whether any binfmt_misc handler of this machine names
// QEMU's arch q, in its name or its interpreter.
func hostHas(q string) bool {
	entries, err := os.ReadDir("/proc/sys/fs/binfmt_misc")
	if err != nil {
		return false
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("/proc/sys/fs/binfmt_misc", e.Name()))
		if strings.Contains(e.Name(), q) || strings.Contains(string(b), q) {
			return true
		}
	}
	return false
}

type emulatedArch struct{ goarch, qemu string }

// archWithoutHandler picks an architecture this machine has no binfmt
// handler for, looking at /proc itself, so that the failing case is one.
func archWithoutHandler(t *testing.T) emulatedArch {
	for _, a := range []emulatedArch{{"s390x", "s390x"}, {"ppc64le", "ppc64le"}, {"riscv64", "riscv64"}, {"mips64le", "mips64el"}, {"loong64", "loongarch64"}} {
		if a.goarch != runtime.GOARCH && !hostHas(a.qemu) {
			return a
		}
	}
	// Never skipped: TestDoctorChecks covers the failing check on fake
	// binfmt_misc directories whatever this machine has registered.
	t.Fatal("this machine has a binfmt handler for every architecture tried: add one it lacks to the list")
	return emulatedArch{}
}

// privateRegistry serves an image only with basic auth, and returns it
// and a Docker config directory with its credentials.
func privateRegistry(t *testing.T) (string, string) {
	var locked atomic.Bool
	reg := fixtures.StartRegistry(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if user, pass, ok := r.BasicAuth(); locked.Load() && (!ok || user != "auditor" || pass != "s3cret") {
				w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Cleanup(reg.Close)
	img := reg.PushBusybox(t)
	locked.Store(true)
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("auditor:s3cret"))
	cfg := `{"auths": {"` + reg.Host + `": {"auth": "` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return img, dir
}

// TestDoctorChecks runs the checks that depend on this machine's files
// on fake ones: binfmt_misc handlers, CNI plugins, the user.
func TestDoctorChecks(t *testing.T) {
	binfmt := func(t *testing.T, files map[string]string) string {
		dir := t.TempDir()
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	handler := func(state, interp, flags string) string {
		return state + "\ninterpreter " + interp + "\nflags: " + flags + "\noffset 0\nmagic 7f454c46\n"
	}
	arm64 := []v1.Platform{{OS: "linux", Architecture: "arm64"}}
	const install = "apt-get install qemu-user-static && /lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf"
	tests := []struct {
		name string
		run  func(t *testing.T) []doctorResult
		want []string // the text lines, with DIR for the fake directory
	}{
		{name: "binfmt handler with F", run: func(t *testing.T) []doctorResult {
			dir := binfmt(t, map[string]string{"status": "enabled\n", "qemu-aarch64": handler("enabled", "/usr/bin/qemu-aarch64-static", "POCF")})
			return onFakes(dir, checkBinfmt, &doctorEnv{platforms: arm64, hostArch: "amd64", binfmtDir: dir})
		}, want: []string{"ok   binfmt linux/arm64: emulated by /usr/bin/qemu-aarch64-static (DIR/qemu-aarch64, flags POCF)"}},
		{name: "binfmt handler under another name", run: func(t *testing.T) []doctorResult {
			dir := binfmt(t, map[string]string{"status": "enabled\n", "aarch64": handler("enabled", "/usr/libexec/qemu-binfmt/aarch64-binfmt-P", "POF")})
			return onFakes(dir, checkBinfmt, &doctorEnv{platforms: arm64, hostArch: "amd64", binfmtDir: dir})
		}, want: []string{"ok   binfmt linux/arm64: emulated by /usr/libexec/qemu-binfmt/aarch64-binfmt-P (DIR/aarch64, flags POF)"}},
		{name: "binfmt handler without F", run: func(t *testing.T) []doctorResult {
			dir := binfmt(t, map[string]string{"status": "enabled\n", "qemu-aarch64": handler("enabled", "/usr/bin/qemu-aarch64", "")})
			return onFakes(dir, checkBinfmt, &doctorEnv{platforms: arm64, hostArch: "amd64", binfmtDir: dir})
		}, want: []string{`FAIL binfmt linux/arm64: the handler DIR/qemu-aarch64 has flags "", without F: its interpreter /usr/bin/qemu-aarch64 is not found inside runc's containers` +
			" — fix: echo -1 > DIR/qemu-aarch64 && /lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf (a file with flag F)"}},
		{name: "binfmt handler disabled", run: func(t *testing.T) []doctorResult {
			dir := binfmt(t, map[string]string{"status": "enabled\n", "qemu-aarch64": handler("disabled", "/usr/bin/qemu-aarch64", "F")})
			return onFakes(dir, checkBinfmt, &doctorEnv{platforms: arm64, hostArch: "amd64", binfmtDir: dir})
		}, want: []string{"FAIL binfmt linux/arm64: the handler DIR/qemu-aarch64 is disabled — fix: echo 1 > DIR/qemu-aarch64"}},
		{name: "binfmt handler missing", run: func(t *testing.T) []doctorResult {
			dir := binfmt(t, map[string]string{"status": "enabled\n", "qemu-arm": handler("enabled", "/usr/bin/qemu-arm", "F")})
			return onFakes(dir, checkBinfmt, &doctorEnv{platforms: arm64, hostArch: "amd64", binfmtDir: dir})
		}, want: []string{"FAIL binfmt linux/arm64: no binfmt_misc handler for arm64 (qemu-aarch64) in DIR — fix: " + install}},
		{name: "binfmt_misc not mounted", run: func(t *testing.T) []doctorResult {
			dir := binfmt(t, nil)
			return onFakes(dir, checkBinfmt, &doctorEnv{platforms: arm64, hostArch: "amd64", binfmtDir: dir})
		}, want: []string{"FAIL binfmt linux/arm64: binfmt_misc is not mounted at DIR — fix: mount -t binfmt_misc binfmt_misc DIR && " + install}},
		{name: "binfmt of the published platforms", run: func(t *testing.T) []doctorResult {
			dir := binfmt(t, map[string]string{"status": "enabled\n"})
			return onFakes(dir, checkBinfmt, &doctorEnv{published: []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "386"}}, hostArch: "amd64", binfmtDir: dir})
		}, want: []string{"ok   binfmt linux/amd64: native on this linux/amd64 machine", "ok   binfmt linux/386: native on this linux/amd64 machine"}},
		{name: "cni plugin missing", run: func(t *testing.T) []doctorResult {
			dir := t.TempDir()
			for _, p := range []string{"bridge", "host-local", "loopback"} {
				if err := os.WriteFile(filepath.Join(dir, p), nil, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			return onFakes(dir, checkCNI, &doctorEnv{cniDir: dir})
		}, want: []string{"FAIL cni: DIR lacks firewall: without them buildkitd runs on the host network and verify --network proxy is refused — fix: apt-get install containernetworking-plugins"}},
		{name: "not root", run: func(t *testing.T) []doctorResult {
			return onFakes("", checkUser, &doctorEnv{euid: 1000})
		}, want: []string{"FAIL user: uid 1000: a managed buildkitd needs root (rootless BuildKit is not set up by reprover) — fix: run reprover as root (sudo reprover …), or give --buildkit-addr of a buildkitd you run (rootless: --buildkit-addr unix:///run/user/1000/buildkit/buildkitd.sock)"}},
		{name: "BuildKit version differs", run: func(t *testing.T) []doctorResult {
			return compareBuildkit("buildkitd", "/usr/bin/buildkitd", "v0.12.5", "v0.34.2", "make tools && make install")
		}, want: []string{"FAIL buildkitd: /usr/bin/buildkitd is BuildKit v0.12.5, reprover is built with v0.34.2 — fix: make tools && make install"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			if err := writeDoctor(&b, "text", tc.run(t)); err != nil {
				t.Fatal(err)
			}
			want := strings.Join(tc.want, "\n") + "\n"
			if b.String() != want {
				t.Errorf("got:\n%swant:\n%s", b.String(), want)
			}
		})
	}
}

// onFakes runs a check and writes DIR for dir in its results.
func onFakes(dir string, check func(_ context.Context, e *doctorEnv) []doctorResult, e *doctorEnv) []doctorResult {
	rs := check(context.Background(), e)
	if dir != "" {
		for i := range rs {
			rs[i].Detail = strings.ReplaceAll(rs[i].Detail, dir, "DIR")
			rs[i].Fix = strings.ReplaceAll(rs[i].Fix, dir, "DIR")
		}
	}
	return rs
}
