package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/image"
)

// Where the checks look on this machine (the same places as the builder
// package and scripts/tools.sh).
const (
	// doctorCNIDir holds Debian's CNI plugins (containernetworking-plugins),
	// which the managed buildkitd's bridge network needs.
	doctorCNIDir = "/usr/lib/cni"
	// doctorBinfmtDir is where the kernel lists its binfmt_misc handlers.
	doctorBinfmtDir = "/proc/sys/fs/binfmt_misc"
	// doctorSystemdBinfmt registers a handler from its binfmt.d file.
	doctorSystemdBinfmt = "/lib/systemd/systemd-binfmt"
)

// doctorCNIPlugins are the plugins of the managed buildkitd's bridge
// network (verify --network proxy).
var doctorCNIPlugins = []string{"bridge", "host-local", "loopback", "firewall"}

// doctorResult is the outcome of one check; it is also the JSON form.
type doctorResult struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

func passed(check, detail string) []doctorResult {
	return []doctorResult{{Check: check, OK: true, Detail: detail}}
}

func failed(check, detail, fix string) []doctorResult {
	return []doctorResult{{Check: check, Detail: detail, Fix: fix}}
}

// doctorEnv is what the checks look at: the command's arguments, the
// places on this machine, and what earlier checks found.
type doctorEnv struct {
	tls       builder.TLS     // how to reach the daemon at addr
	addr      string          // BuildKit's address; "" means a managed buildkitd
	image     string          // --image; "" means no registry is contacted
	ref       image.Reference // --image, parsed
	platforms []v1.Platform   // --platform
	insecure  []string
	cacheDir  string
	timeout   time.Duration
	buildkit  string // the BuildKit version reprover is built with; "" unknown
	euid      int
	hostArch  string
	cniDir    string
	binfmtDir string

	// Found by earlier checks.
	workers    []builder.Worker // of the daemon at addr
	workersErr error            // why e.workers are unknown
	published  []v1.Platform    // the platform images of --image
}

// doctorCheck is one row of the table: when it applies and what it does.
type doctorCheck struct {
	name string
	when func(e *doctorEnv) bool // nil: always
	run  func(ctx context.Context, e *doctorEnv) []doctorResult
}

// doctorChecks run in this order: binfmt comes after image, whose
// platforms are verify's default.
var doctorChecks = []doctorCheck{
	{name: "user", run: checkUser},
	{name: "runc", run: checkRunc},
	{name: "buildkitd", run: checkBuildkitd},
	{name: "cni", run: checkCNI},
	{name: "cache-dir", run: checkCacheDir},
	{name: "credentials", when: func(e *doctorEnv) bool { return e.image != "" && e.ref.Transport == image.Registry }, run: checkCredentials},
	{name: "image", when: func(e *doctorEnv) bool { return e.image != "" }, run: checkImage},
	{name: "binfmt", run: checkBinfmt},
}

func newDoctorCmd(g *globals) *cobra.Command {
	var f doctorFlags
	cmd := &cobra.Command{
		Use:   "doctor [--image IMAGE] [--platform OS/ARCH]... [--buildkit-addr ADDR]",
		Short: "Check that this machine has what verify needs, and say how to fix what it lacks",
		Long: `Check what reprover verify needs on this machine and print one line per check:
"ok   CHECK: DETAIL", or "FAIL CHECK: WHAT IS WRONG — fix: COMMAND".

With a managed buildkitd (no --buildkit-addr nor $BUILDKIT_HOST): root; runc in
PATH; buildkitd (at $REPROVER_BUILDKITD, next to reprover, else in PATH) at the
BuildKit version reprover is built with; the CNI plugins of the proxy network
(verify --network proxy); a binfmt_misc handler (QEMU, flag F) for each platform
this machine cannot run natively. With --buildkit-addr or $BUILDKIT_HOST: the
daemon answers at that version, its workers' network (cni for the proxy) and
platforms. Always: a file can be written in the scratch directory.

With --image only: the registry's credentials (anonymous is fine for a public
image) and whether the image can be read; its platforms are then the ones
checked when no --platform is given. Without --image no registry is contacted.

Exit status: 0 every check passed, 1 something is missing, 2 bad arguments.`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd.Context(), g) },
	}
	f.register(cmd)
	return cmd
}

// doctorFlags are doctor's flags.
type doctorFlags struct {
	imageRef     string
	plats        []string
	buildkitAddr string
	tlsOpts      builder.TLS
	configFile   string
	cacheDir     string
	insecure     []string
	format       string
	timeout      time.Duration
}

func (d *doctorFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&d.imageRef, "image", "", "also check the registry credentials for this image and that it can be read (HOST/REPO[:TAG|@sha256:…], oci:DIR, oci-archive:FILE)")
	f.StringArrayVar(&d.plats, "platform", nil, "a platform verify will rebuild (OS/ARCH[/VARIANT]); repeatable (default: the --image's platforms)")
	f.StringVar(&d.buildkitAddr, "buildkit-addr", "", "check the BuildKit daemon at this address instead of a managed buildkitd (default $BUILDKIT_HOST)")
	tlsFlags(cmd, &d.tlsOpts)
	f.StringVar(&d.configFile, "config", "", "check every BuildKit daemon of this reprover serve config (buildkit.addrs, with their TLS settings)")
	f.StringVar(&d.cacheDir, "cache-dir", "", "the scratch directory to check for write access (default $TMPDIR, else /tmp)")
	f.StringArrayVar(&d.insecure, "insecure-registry", nil, "registry host reached over plain HTTP (loopback always is); repeatable")
	f.StringVar(&d.format, "format", "text", "stdout format: text or json (an array of {check, ok, detail, fix})")
	f.DurationVar(&d.timeout, "timeout", 20*time.Second, "how long to wait for the registry and for BuildKit")
}

// run reads the flags, runs the checks (for each daemon of a serve config,
// or the one the flags name) and writes them: exit 1 when one failed.
func (d *doctorFlags) run(ctx context.Context, g *globals) error {
	e, err := d.env()
	if err != nil {
		return err
	}
	var results []doctorResult
	if d.configFile != "" {
		if results, err = doctorPool(ctx, e, d.configFile); err != nil {
			return err
		}
	} else {
		results = runDoctor(ctx, e)
	}
	if err := writeDoctor(g.stdout, d.format, results); err != nil {
		return err
	}
	for _, r := range results {
		if !r.OK {
			return exitCode(1)
		}
	}
	return nil
}

// env is what the checks look at, from the flags and this machine; an
// error names every flag that is wrong.
func (d *doctorFlags) env() (*doctorEnv, error) {
	e := &doctorEnv{addr: d.buildkitAddr, tls: d.tlsOpts, image: d.imageRef, insecure: d.insecure, cacheDir: d.cacheDir,
		timeout: d.timeout, buildkit: buildkitVersion(), euid: os.Geteuid(), hostArch: runtime.GOARCH,
		cniDir: doctorCNIDir, binfmtDir: doctorBinfmtDir}
	var bad []string
	if d.format != "text" && d.format != "json" {
		bad = append(bad, fmt.Sprintf("--format %q: want text or json", d.format))
	}
	if d.timeout <= 0 {
		bad = append(bad, fmt.Sprintf("--timeout %v: want a positive duration", d.timeout))
	}
	for _, s := range d.plats {
		p, err := image.ParsePlatform(s)
		if err != nil {
			bad = append(bad, "--platform: "+err.Error())
			continue
		}
		e.platforms = append(e.platforms, p)
	}
	if d.imageRef != "" {
		r, err := image.ParseReference(d.imageRef)
		if err != nil {
			bad = append(bad, "--image: "+err.Error())
		}
		e.ref = r
	}
	if len(bad) > 0 {
		return nil, errors.New(strings.Join(bad, "\n"))
	}
	if e.addr == "" {
		e.addr = os.Getenv("BUILDKIT_HOST")
	}
	if e.cacheDir == "" {
		e.cacheDir = os.TempDir()
	}
	return e, nil
}

// doctorPool runs the checks for every member of a service config's
// BuildKit pool (each with its TLS settings), the daemon's checks named
// with the member's address; a config without members checks the managed
// buildkitd serve would start.
func doctorPool(ctx context.Context, e *doctorEnv, file string) ([]doctorResult, error) {
	g := &globals{v: viper.New(), stdout: io.Discard, stderr: io.Discard}
	newServeCmd(g) // the config's defaults, as serve has them
	cfg, err := loadServeConfig(g.v, file)
	if err != nil {
		return nil, err
	}
	daemons := cfg.Daemons()
	if len(daemons) == 0 {
		return runDoctor(ctx, e), nil
	}
	var out []doctorResult
	for i, d := range daemons {
		m := *e
		m.addr, m.tls = d.Addr, d.TLS
		for _, r := range runDoctor(ctx, &m) {
			perDaemon := r.Check == "buildkitd" || r.Check == "cni" || strings.HasPrefix(r.Check, "binfmt") || r.Check == "user" || r.Check == "runc"
			if !perDaemon && i > 0 {
				continue // the machine's own checks, once
			}
			if perDaemon {
				r.Check += " " + d.Addr
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// runDoctor runs the checks that apply, in order.
func runDoctor(ctx context.Context, e *doctorEnv) []doctorResult {
	var out []doctorResult
	for _, c := range doctorChecks {
		if c.when != nil && !c.when(e) {
			continue
		}
		for _, r := range c.run(ctx, e) {
			r.Detail, r.Fix = oneLine(r.Detail), oneLine(r.Fix)
			out = append(out, r)
		}
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func writeDoctor(w io.Writer, format string, results []doctorResult) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false) // fixes are shell commands: && stays &&
		return enc.Encode(results)
	}
	var b strings.Builder
	for _, r := range results {
		if r.OK {
			fmt.Fprintf(&b, "ok   %s: %s\n", r.Check, r.Detail)
			continue
		}
		fmt.Fprintf(&b, "FAIL %s: %s", r.Check, r.Detail)
		if r.Fix != "" {
			fmt.Fprintf(&b, " — fix: %s", r.Fix)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// buildkitVersion is the BuildKit module reprover is built with.
func buildkitVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/moby/buildkit" {
			if d.Replace != nil && d.Replace.Version != "" {
				return d.Replace.Version
			}
			return d.Version
		}
	}
	return ""
}
