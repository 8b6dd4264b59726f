package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/platforms"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/text"
)

// The checks reprover doctor runs, each returning its results.

func (e *doctorEnv) remote() string {
	return "not needed: BuildKit at " + e.addr + " runs its own workers"
}

func checkUser(_ context.Context, e *doctorEnv) []doctorResult {
	if e.addr != "" {
		return passed("user", e.remote())
	}
	if e.euid == 0 {
		return passed("user", "root (a managed buildkitd needs root)")
	}
	return failed("user", fmt.Sprintf("uid %d: a managed buildkitd needs root (rootless BuildKit is not set up by reprover)", e.euid),
		fmt.Sprintf("run reprover as root (sudo reprover …), or give --buildkit-addr of a buildkitd you run (rootless: --buildkit-addr unix:///run/user/%d/buildkit/buildkitd.sock)", e.euid))
}

func checkRunc(ctx context.Context, e *doctorEnv) []doctorResult {
	if e.addr != "" {
		return passed("runc", e.remote())
	}
	p, err := exec.LookPath("runc")
	if err != nil {
		return failed("runc", "not found in PATH: buildkitd's OCI worker runs every build step with it", "apt-get install runc")
	}
	out, err := runVersion(ctx, e.timeout, p)
	if err != nil {
		return failed("runc", fmt.Sprintf("%s does not run: %v", p, err), "apt-get install --reinstall runc")
	}
	first, _, _ := strings.Cut(out, "\n")
	return passed("runc", fmt.Sprintf("%s (%s)", p, strings.TrimSpace(first)))
}

// runVersion runs bin --version and returns its output.
func runVersion(ctx context.Context, timeout time.Duration, bin string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--version").CombinedOutput()
	if err != nil {
		// Its first line: enough to say what ran (not a whole usage text).
		if s, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n"); s != "" {
			return "", fmt.Errorf("%w: %s", err, text.Truncate(s, 200))
		}
		return "", err
	}
	return string(out), nil
}

func checkBuildkitd(ctx context.Context, e *doctorEnv) []doctorResult {
	if e.addr != "" {
		return checkRemoteBuildkit(ctx, e)
	}
	const fix = "make tools && make install (buildkitd next to reprover), or export REPROVER_BUILDKITD=/path/to/buildkitd"
	p, err := builder.FindBuildkitd()
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), ": install it")
		return failed("buildkitd", msg, fix+", or give --buildkit-addr")
	}
	if env := os.Getenv("REPROVER_BUILDKITD"); env != "" && env != p {
		return failed("buildkitd", fmt.Sprintf("$REPROVER_BUILDKITD=%s is not an executable file (verify would use %s instead)", env, p),
			"unset REPROVER_BUILDKITD, or export REPROVER_BUILDKITD=/path/to/buildkitd")
	}
	out, err := runVersion(ctx, e.timeout, p)
	if err != nil {
		return failed("buildkitd", fmt.Sprintf("%s --version fails: %v", p, err), fix)
	}
	// "buildkitd github.com/moby/buildkit v0.34.2 <revision>"
	f := strings.Fields(out)
	if len(f) < 3 || f[0] != "buildkitd" {
		return failed("buildkitd", fmt.Sprintf("%s is not buildkitd: --version says %q", p, strings.TrimSpace(out)), fix)
	}
	return compareBuildkit("buildkitd", p, f[2], e.buildkit, fix)
}

// compareBuildkit passes a daemon at reprover's BuildKit version: the
// version a rebuild is made with is part of what it proves.
func compareBuildkit(check, where, have, want, fix string) []doctorResult {
	switch {
	case want == "":
		return passed(check, fmt.Sprintf("%s (BuildKit %s; reprover's own BuildKit version is unknown, not compared)", where, have))
	case have != want:
		return failed(check, fmt.Sprintf("%s is BuildKit %s, reprover is built with %s", where, have, want), fix)
	}
	return passed(check, fmt.Sprintf("%s (BuildKit %s, as reprover)", where, have))
}

// checkRemoteBuildkit asks the daemon at e.addr its version and workers
// (kept for the cni and binfmt checks).
func checkRemoteBuildkit(ctx context.Context, e *doctorEnv) []doctorResult {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	want := "buildkitd"
	if e.buildkit != "" {
		want += " " + e.buildkit
	}
	fix := fmt.Sprintf("start %s at %s, or drop --buildkit-addr and BUILDKIT_HOST to let reprover start its own (make tools && make install)", want, e.addr)
	noAnswer := errors.New("it did not answer (see FAIL buildkitd)")
	c, err := builder.ConnectTLS(ctx, e.addr, e.tls, nil)
	if err != nil {
		e.workersErr = noAnswer
		return failed("buildkitd", err.Error(), fix)
	}
	defer c.Close()
	have, err := c.Version(ctx)
	if err != nil {
		e.workersErr = noAnswer
		return failed("buildkitd", fmt.Sprintf("does not answer: %v", err), fix)
	}
	if e.workers, err = c.Workers(ctx); err != nil {
		e.workersErr = fmt.Errorf("listing its workers: %w", err)
	}
	return compareBuildkit("buildkitd", e.addr, have, e.buildkit, fix)
}

func checkCNI(_ context.Context, e *doctorEnv) []doctorResult {
	if e.addr != "" {
		return checkRemoteNetwork(e)
	}
	var missing []string
	for _, p := range doctorCNIPlugins {
		st, err := os.Stat(filepath.Join(e.cniDir, p))
		if err != nil || !st.Mode().IsRegular() || st.Mode()&0o111 == 0 {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return failed("cni", fmt.Sprintf("%s lacks %s: without them buildkitd runs on the host network and verify --network proxy is refused",
			e.cniDir, strings.Join(missing, ", ")), "apt-get install containernetworking-plugins")
	}
	return passed("cni", fmt.Sprintf("%s has %s (the bridge network of verify --network proxy)", e.cniDir, strings.Join(doctorCNIPlugins, ", ")))
}

// checkRemoteNetwork: BuildKit's proxy needs workers on a CNI network,
// not the host's.
func checkRemoteNetwork(e *doctorEnv) []doctorResult {
	if e.workersErr != nil {
		return failed("cni", fmt.Sprintf("the workers of BuildKit at %s are unknown: %v", e.addr, e.workersErr), "fix the buildkitd check first")
	}
	var nets, bad []string
	for _, w := range e.workers {
		mode := w.Network
		nets = append(nets, fmt.Sprintf("%s: %s", w.ID, mode))
		if mode != "cni" {
			bad = append(bad, w.ID)
		}
	}
	if len(e.workers) == 0 {
		return failed("cni", fmt.Sprintf("BuildKit at %s has no workers", e.addr), "start buildkitd with --oci-worker=true")
	}
	if len(bad) > 0 {
		return failed("cni", fmt.Sprintf("BuildKit at %s has workers off a CNI network (%s): verify --network proxy is refused there (--network none works)", e.addr, strings.Join(nets, ", ")),
			`start buildkitd with [worker.oci] networkMode = "bridge" and the CNI plugins (apt-get install containernetworking-plugins), or drop --buildkit-addr to let reprover start its own`)
	}
	return passed("cni", fmt.Sprintf("BuildKit at %s: workers on a CNI network (%s), as verify --network proxy needs", e.addr, strings.Join(nets, ", ")))
}

func checkCacheDir(_ context.Context, e *doctorEnv) []doctorResult {
	dir := e.cacheDir
	f, err := os.CreateTemp(dir, ".reprover-doctor-")
	if err == nil {
		name := f.Name()
		_, err = f.WriteString("reprover doctor\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if rerr := os.Remove(name); err == nil {
			err = rerr
		}
	}
	if err != nil {
		var fix string
		switch {
		case errors.Is(err, os.ErrNotExist):
			fix = "mkdir -p " + dir
		case errors.Is(err, syscall.EROFS):
			fix = "export TMPDIR=/path/to/a/writable/dir (" + dir + " is on a read-only filesystem)"
		case errors.Is(err, os.ErrPermission):
			fix = "chown $(id -u) " + dir + " && chmod u+rwx " + dir + ", or export TMPDIR=/path/to/a/writable/dir"
		default:
			fix = "export TMPDIR=/path/to/a/writable/dir (instead of " + dir + ")"
		}
		return failed("cache-dir", fmt.Sprintf("cannot write in %s: %v", dir, err), fix)
	}
	detail := dir + " is writable"
	var st syscall.Statfs_t
	if syscall.Statfs(dir, &st) == nil {
		detail += fmt.Sprintf(" (%.1f GiB free)", float64(st.Bavail)*float64(st.Bsize)/(1<<30))
	}
	return passed("cache-dir", detail)
}

// registryOf is the registry --image names, as go-containerregistry (and
// so image.Open and the keychain) sees it.
func registryOf(e *doctorEnv) (name.Registry, error) {
	s := e.ref.Name
	if e.ref.Pinned() {
		s += "@" + e.ref.Digest.String()
	} else {
		s += ":" + e.ref.Tag
	}
	ref, err := name.ParseReference(s)
	if err != nil {
		return name.Registry{}, fmt.Errorf("image %q: %w", e.image, err)
	}
	return ref.Context().Registry, nil
}

func checkCredentials(ctx context.Context, e *doctorEnv) []doctorResult {
	reg, err := registryOf(e)
	if err != nil {
		return failed("credentials", err.Error(), "give --image as HOST/REPO[:TAG|@sha256:…]")
	}
	host := reg.RegistryStr()
	auth, err := authn.Resolve(ctx, authn.DefaultKeychain, reg)
	if err != nil {
		return failed("credentials", fmt.Sprintf("reading the credentials for %s: %v", host, err),
			"repair $DOCKER_CONFIG/config.json (default ~/.docker/config.json) or its credential helper, e.g. docker login "+host)
	}
	if auth == authn.Anonymous {
		return passed("credentials", fmt.Sprintf("%s: none configured, anonymous (enough for a public image; a private one needs docker login %s)", host, host))
	}
	return passed("credentials", fmt.Sprintf("%s: configured (Docker config or credential helper)", host))
}

func checkImage(ctx context.Context, e *doctorEnv) []doctorResult {
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	r, err := image.Open(ctx, e.image, image.Options{Platforms: e.platforms, InsecureRegistries: e.insecure})
	if err != nil {
		detail := err.Error()
		if errors.Is(err, context.DeadlineExceeded) {
			detail = fmt.Sprintf("no answer within %v: %v", e.timeout, err)
		}
		return failed("image", detail, imageFix(ctx, e, err))
	}
	defer r.Close()
	var ps []string
	for _, img := range r.Images {
		e.published = append(e.published, img.Platform)
		ps = append(ps, image.PlatformString(img.Platform))
	}
	kind := "image"
	if r.IsIndex {
		kind = "index"
	}
	return passed("image", fmt.Sprintf("%s is readable: %s %s (%s)", e.image, kind, r.Digest, strings.Join(ps, ", ")))
}

// imageFix says what to do about an image that could not be read.
func imageFix(ctx context.Context, e *doctorEnv, err error) string {
	if len(e.platforms) > 0 && !errors.Is(err, context.DeadlineExceeded) {
		// Readable without the platforms asked: they are what is wrong.
		if r, err := image.Open(ctx, e.image, image.Options{InsecureRegistries: e.insecure}); err == nil {
			var ps []string
			for _, img := range r.Images {
				ps = append(ps, "--platform "+image.PlatformString(img.Platform))
			}
			r.Close()
			return "ask for platforms the image has: " + strings.Join(ps, ", ") + " (or no --platform: all of them)"
		}
	}
	if e.ref.Transport != image.Registry {
		return "check the path: ls -l " + e.ref.Name
	}
	reg, rerr := registryOf(e)
	if rerr != nil {
		return "give --image as HOST/REPO[:TAG|@sha256:…]"
	}
	host := reg.RegistryStr()
	var nerr net.Error
	switch {
	case errors.Is(err, image.ErrNotFound):
		return "check the repository, tag or digest of " + e.image
	case image.HTTPStatus(err) == http.StatusUnauthorized || image.HTTPStatus(err) == http.StatusForbidden:
		return "docker login " + host + " (reprover reads the credentials of ~/.docker/config.json, or $DOCKER_CONFIG/config.json)"
	case strings.Contains(err.Error(), "refusing plain HTTP"):
		return "--insecure-registry " + host + " (here and on verify), if the registry has no HTTPS"
	case errors.As(err, &nerr), errors.Is(err, context.DeadlineExceeded):
		scheme := "https"
		if strings.Contains(err.Error(), "http://") {
			scheme = "http"
		}
		return fmt.Sprintf("curl -sSI %s://%s/v2/ (the registry must answer from this machine)", scheme, host)
	case errors.Is(err, os.ErrNotExist):
		return "check the name: " + e.image
	}
	return "check --image " + e.image
}

// qemuArch is QEMU's name of a GOARCH (as in qemu-ARCH and binfmt.d).
var qemuArch = map[string]string{
	"amd64": "x86_64", "386": "i386", "arm64": "aarch64", "arm": "arm",
	"ppc64le": "ppc64le", "ppc64": "ppc64", "s390x": "s390x", "riscv64": "riscv64",
	"mips64le": "mips64el", "mips64": "mips64", "mipsle": "mipsel", "mips": "mips",
	"loong64": "loongarch64",
}

// native reports whether the host runs arch without emulation.
func (e *doctorEnv) native(arch string) bool {
	return arch == e.hostArch || e.hostArch == "amd64" && arch == "386"
}

func checkBinfmt(_ context.Context, e *doctorEnv) []doctorResult {
	ps, from := e.platforms, "--platform"
	if len(ps) == 0 {
		ps, from = e.published, "the image's"
	}
	if len(ps) == 0 {
		return passed("binfmt", fmt.Sprintf("no platform asked: linux/%s builds natively (give --platform or --image to check others)", e.hostArch))
	}
	var out []doctorResult
	for _, p := range ps {
		check := "binfmt " + image.PlatformString(p)
		switch {
		case p.OS != "linux":
			out = append(out, failed(check, fmt.Sprintf("%s platform %s: BuildKit's OCI worker builds linux platforms only", from, image.PlatformString(p)),
				"give verify --platform linux/… (the linux platforms only)")...)
		case e.addr != "":
			out = append(out, remotePlatform(e, check, p)...)
		case e.native(p.Architecture):
			out = append(out, passed(check, fmt.Sprintf("native on this linux/%s machine", e.hostArch))...)
		default:
			out = append(out, binfmtHandler(e, check, p)...)
		}
	}
	return out
}

// remotePlatform: the daemon at e.addr lists the platforms its workers
// build (emulated ones included).
func remotePlatform(e *doctorEnv, check string, p v1.Platform) []doctorResult {
	if e.workersErr != nil {
		return failed(check, fmt.Sprintf("the platforms of BuildKit at %s are unknown: %v", e.addr, e.workersErr), "fix the buildkitd check first")
	}
	want := platforms.OnlyStrict(ocispec.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant})
	var have []string
	for _, w := range e.workers {
		for _, wp := range w.Platforms {
			if want.Match(wp) {
				return passed(check, fmt.Sprintf("BuildKit at %s builds it (worker %s)", e.addr, w.ID))
			}
			if s := platforms.Format(wp); !slices.Contains(have, s) {
				have = append(have, s)
			}
		}
	}
	fix := "on the daemon's machine: apt-get install qemu-user-static, then restart buildkitd"
	if q, ok := qemuArch[p.Architecture]; ok {
		fix = fmt.Sprintf("on the daemon's machine: apt-get install qemu-user-static && %s /usr/lib/binfmt.d/qemu-%s.conf, then restart buildkitd", doctorSystemdBinfmt, q)
	}
	return failed(check, fmt.Sprintf("BuildKit at %s does not build it (its workers build %s)", e.addr, strings.Join(have, ", ")), fix)
}

// binfmtHandler looks for the QEMU handler of p's architecture in
// binfmt_misc: registered, enabled, and with flag F (the interpreter
// opened at registration, so that it works inside runc's containers).
func binfmtHandler(e *doctorEnv, check string, p v1.Platform) []doctorResult {
	q, ok := qemuArch[p.Architecture]
	if !ok {
		return failed(check, fmt.Sprintf("no QEMU emulator is known for %s", p.Architecture),
			fmt.Sprintf("register a qemu-user-static emulator for %s with binfmt_misc (flag F): %s DIR/qemu-ARCH.conf", p.Architecture, doctorSystemdBinfmt))
	}
	install := fmt.Sprintf("apt-get install qemu-user-static && %s /usr/lib/binfmt.d/qemu-%s.conf", doctorSystemdBinfmt, q)
	status, err := os.ReadFile(filepath.Join(e.binfmtDir, "status"))
	if err != nil {
		return failed(check, fmt.Sprintf("binfmt_misc is not mounted at %s", e.binfmtDir),
			fmt.Sprintf("mount -t binfmt_misc binfmt_misc %s && %s", e.binfmtDir, install))
	}
	if strings.TrimSpace(string(status)) != "enabled" {
		return failed(check, "binfmt_misc is disabled", "echo 1 > "+filepath.Join(e.binfmtDir, "status"))
	}
	h, ok := findBinfmt(e.binfmtDir, q)
	if !ok {
		return failed(check, fmt.Sprintf("no binfmt_misc handler for %s (qemu-%s) in %s", p.Architecture, q, e.binfmtDir), install)
	}
	path := filepath.Join(e.binfmtDir, h.name)
	switch {
	case !h.enabled:
		return failed(check, fmt.Sprintf("the handler %s is disabled", path), "echo 1 > "+path)
	case !strings.Contains(h.flags, "F"):
		return failed(check, fmt.Sprintf("the handler %s has flags %q, without F: its interpreter %s is not found inside runc's containers", path, h.flags, h.interpreter),
			fmt.Sprintf("echo -1 > %s && %s /usr/lib/binfmt.d/qemu-%s.conf (a file with flag F)", path, doctorSystemdBinfmt, q))
	}
	return passed(check, fmt.Sprintf("emulated by %s (%s, flags %s)", h.interpreter, path, h.flags))
}

type binfmtEntry struct {
	name, interpreter, flags string
	enabled                  bool
}

func readBinfmt(dir, name string) (binfmtEntry, bool) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return binfmtEntry{}, false
	}
	h := binfmtEntry{name: name}
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case i == 0:
			h.enabled = strings.TrimSpace(line) == "enabled"
		case strings.HasPrefix(line, "interpreter "):
			h.interpreter = strings.TrimSpace(strings.TrimPrefix(line, "interpreter "))
		case strings.HasPrefix(line, "flags:"):
			h.flags = strings.TrimSpace(strings.TrimPrefix(line, "flags:"))
		}
	}
	return h, true
}

// findBinfmt finds the handler for QEMU's arch q: qemu-q (the name
// Debian's binfmt.d files and tonistiigi/binfmt register), else any
// handler whose interpreter is q's qemu (qemu-q, qemu-q-static,
// q-binfmt-P).
func findBinfmt(dir, q string) (binfmtEntry, bool) {
	if h, ok := readBinfmt(dir, "qemu-"+q); ok {
		return h, true
	}
	entries, _ := os.ReadDir(dir)
	for _, de := range entries {
		if de.Name() == "status" || de.Name() == "register" {
			continue
		}
		h, ok := readBinfmt(dir, de.Name())
		if !ok {
			continue
		}
		base := filepath.Base(h.interpreter)
		base = strings.TrimPrefix(base, "qemu-")
		for _, suffix := range []string{"-static", "-binfmt-P", "-binfmt"} {
			base = strings.TrimSuffix(base, suffix)
		}
		if base == q {
			return h, true
		}
	}
	return binfmtEntry{}, false
}
