package builder

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/moby/buildkit/client"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
	"github.com/moby/buildkit/solver/errdefs"
	spb "github.com/moby/buildkit/sourcepolicy/pb"
	"github.com/moby/buildkit/util/progress/progressui"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/tonistiigi/fsutil"
	"golang.org/x/sync/errgroup"

	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/pins"
)

// Spec is a hermetic rebuild: what the release used, and the encoding to
// copy from the published image.
type Spec struct {
	// ContextDir is the build context: a clean export of the commit's tree.
	ContextDir string
	// DockerfilePath is the Dockerfile's path on disk; DockerfileName how
	// messages name it ("Dockerfile", "sub/Dockerfile").
	DockerfilePath string
	DockerfileName string
	Target         string
	// BuildArgs are checked against Params (CheckBuildArgs): a refused or
	// unpinned one fails the build; ignored and replaced ones are dropped.
	BuildArgs map[string]string
	// Attrs are other frontend attributes the release used that Params
	// passes (hostname, label:*, multi-platform); any other is refused.
	Attrs map[string]string
	// Platforms are OS/ARCH[/VARIANT]; empty means the daemon's.
	Platforms []string
	// SourceDateEpoch is passed as the build arg and timestamps are
	// rewritten to it; negative means neither (how a careless publisher
	// builds: for the test world, never for a rebuild).
	SourceDateEpoch int64
	// Provenance attaches a BuildKit provenance attestation (mode=min, or
	// ProvenanceMode), as a publisher may; a rebuild does not. The image is
	// then exported under Name (default publishedName), as a pushed
	// release is: BuildKit's statement names no subject without a name.
	Provenance     bool
	ProvenanceMode string
	Name           string
	// VCS are the version-control attributes buildx records for a build
	// from a local checkout (vcs:source, vcs:revision), for publishing
	// the test world's releases as buildx does; a rebuild sets none.
	VCS map[string]string
	// Encoding copied from the published image.
	OCIMediaTypes bool
	Compression   string // gzip, zstd or uncompressed
	// OutputDir receives the rebuilt image as an OCI layout.
	OutputDir string
	// Network is NetworkNone (the default: every RUN offline) or
	// NetworkProxy: RUN reaches the outside only through BuildKit's
	// capturing proxy, and only ProxyHosts (host[:port]); every other
	// http(s) request, ADD's too, gets a 403.
	Network    string
	ProxyHosts []string
	// ProxyAnyHost lets the proxy reach any host but local addresses,
	// and ProxyHosts among those (reprover lock: the pins are being made).
	ProxyAnyHost bool
	// Replay, with Network NetworkProxy, serves every download a RUN asks
	// for from a kit: no request reaches any server (ProxyHosts and
	// ProxyAnyHost do not apply). Build serves the Replay's blobs over HTTP
	// at ReplayAddr for the build's time, and its source policy converts
	// each proxied GET of a URL the Replay holds to its blob, and any other
	// to an answer 404 that names it (the step sees the kit lacks it). The
	// captures name the URLs the step asked for, FromKit when served from
	// the kit; a blob whose bytes are not its pin's is cut short, and Build
	// returns a *ReplayError naming its URL.
	Replay Replay
	// ReplayAddr is where the Replay's server listens: host:port (port 0
	// for any) of this machine that the daemon's proxy reaches. Empty: the
	// bridge of a daemon reprover started (Daemon.Connect); a daemon of a
	// pool needs it (an address on the network between them).
	ReplayAddr string
	// Bases, when set, serves the base images it holds to the build from
	// this machine (a kit's), instead of their registries: each blob
	// checked as it is copied before the build, then read by the daemon
	// through the client's session (bases.go). Only still decides which
	// images the build may use; a base Bases lacks comes from its registry.
	Bases Bases
	// Only is every image, git remote and ADD URL the build may fetch
	// (AllowedOf the inputs Check found); anything else fails the build,
	// naming it. A rebuild always sets it; nil lets a build fetch what its
	// Dockerfile says (the test world's publishers).
	Only *Allowed
}

// publishedName is the name a build with provenance is exported under
// when Spec.Name gives none.
const publishedName = "localhost/release"

// Result is a finished rebuild.
type Result struct {
	// Digest is the top-level digest of the rebuilt image (an index when
	// several platforms were built).
	Digest   string
	Dir      string // the OCI layout
	BuildKit string // the daemon's version
	Frontend string
	// Captures are the requests RUN steps made through the proxy, with
	// the digest of each download it captured whole (NetworkProxy only).
	Captures []pins.Capture
	// BasesServed are the base images (digests) the build took from
	// Spec.Bases instead of their registries.
	BasesServed []string
}

// Client is a connection to a buildkitd.
type Client struct {
	c      *client.Client
	addr   string
	logger *slog.Logger
	// gateway is the bridge address of a daemon reprover started
	// (Daemon.Connect): where a replay listens by default.
	gateway string
}

// Connect dials a buildkitd (unix://…, tcp://…) without TLS.
func Connect(ctx context.Context, addr string, logger *slog.Logger) (*Client, error) {
	return ConnectTLS(ctx, addr, TLS{}, logger)
}

// TLS is how to reach a buildkitd over mutual TLS, as buildctl's
// --tlscacert, --tlscert, --tlskey and --tlsservername say it.
type TLS struct {
	CACert     string // the CA the daemon's certificate must chain to
	Cert, Key  string // the client certificate the daemon checks
	ServerName string // default: the address's host
}

// Enabled says whether any TLS setting is given.
func (t TLS) Enabled() bool { return t != TLS{} }

// ConnectTLS dials a buildkitd, over TLS when t is set: never falling back
// to plaintext, and refusing a half-given configuration.
func ConnectTLS(ctx context.Context, addr string, t TLS, logger *slog.Logger) (*Client, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	var opts []client.ClientOpt
	if t.Enabled() {
		if !strings.HasPrefix(addr, "tcp://") {
			return nil, fmt.Errorf("buildkit at %s: TLS settings need a tcp:// address", addr)
		}
		if t.CACert == "" {
			return nil, fmt.Errorf("buildkit at %s: TLS needs the CA certificate (--tlscacert)", addr)
		}
		if (t.Cert == "") != (t.Key == "") {
			return nil, fmt.Errorf("buildkit at %s: a client certificate needs both --tlscert and --tlskey", addr)
		}
		for _, f := range []string{t.CACert, t.Cert, t.Key} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return nil, fmt.Errorf("buildkit at %s: %w", addr, err)
			}
		}
		if t.Cert != "" {
			if err := checkClientCert(t.Cert, t.Key); err != nil {
				return nil, fmt.Errorf("buildkit at %s: %w", addr, err)
			}
		}
		name := t.ServerName
		if name == "" {
			host := strings.TrimPrefix(addr, "tcp://")
			if h, _, err := net.SplitHostPort(host); err == nil {
				host = h
			}
			name = host
		}
		opts = append(opts, client.WithServerConfig(name, t.CACert))
		if t.Cert != "" {
			opts = append(opts, client.WithCredentials(t.Cert, t.Key))
		}
	}
	c, err := client.New(ctx, addr, opts...)
	if err != nil {
		return nil, fmt.Errorf("buildkit at %s: %w", addr, err)
	}
	return &Client{c: c, addr: addr, logger: logger}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.c.Close() }

// Version is the daemon's BuildKit version.
func (c *Client) Version(ctx context.Context) (string, error) {
	info, err := c.c.Info(ctx)
	if err != nil {
		return "", fmt.Errorf("buildkit at %s: %w", c.addr, err)
	}
	return info.BuildkitVersion.Version, nil
}

// BuildError is a failed build step: the Dockerfile line that ran it and
// the tail of its log.
type BuildError struct {
	File     string
	Line     int
	Err      error
	ExitCode int
	LogTail  []string
}

func (e *BuildError) Error() string {
	var b strings.Builder
	if e.File != "" {
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	}
	fmt.Fprintf(&b, "build failed: %v", e.Err)
	if len(e.LogTail) > 0 {
		b.WriteString("\nlast lines of its log:\n  ")
		b.WriteString(strings.Join(e.LogTail, "\n  "))
	}
	return b.String()
}

func (e *BuildError) Unwrap() error { return e.Err }

// Build runs the rebuild: the dockerfile.v0 frontend with no network for
// any RUN (or, with Spec.Network NetworkProxy, only BuildKit's capturing
// proxy to Spec.ProxyHosts), no cache, no entitlements, only the build
// parameters builder.Params passes, SOURCE_DATE_EPOCH with rewritten
// timestamps, exported as an OCI layout. progress receives BuildKit's own
// display (mode plain, tty, auto or quiet).
func (c *Client) Build(ctx context.Context, s Spec, progress io.Writer, mode string) (*Result, error) {
	rp, err := c.replayOf(ctx, s)
	if err != nil {
		return nil, err
	}
	if rp != nil {
		defer rp.close()
	}
	opt, err := c.solveOpt(ctx, s, rp)
	if err != nil {
		return nil, err
	}
	bs, err := basesOf(ctx, s, &opt)
	if err != nil {
		return nil, err
	}
	defer bs.close()
	res, logs, plog, err := c.solve(ctx, opt, progress, mode)
	if err != nil {
		if ctx.Err() != nil {
			return nil, stoppedError(ctx.Err(), s, logs)
		}
		err = buildError(err, s, logs)
		if rp != nil {
			// A blob the kit could not serve is why the step failed; a
			// URL it lacks may be (or a probe the step got past).
			rp.close()
			err = errors.Join(rp.failed(), err, rp.lacked())
		}
		return nil, err
	}
	r := &Result{Dir: s.OutputDir, Digest: res.ExporterResponse["containerimage.digest"]}
	if r.Digest == "" {
		return nil, errors.New("buildkit returned no image digest")
	}
	r.BasesServed = bs.served()
	if opt.ProxyNetwork {
		if r.Captures, err = c.captures(ctx, opt.Ref, plog); err != nil {
			return nil, err
		}
	}
	if rp != nil {
		rp.close()
		if err := rp.failed(); err != nil {
			return nil, err
		}
		if r.Captures, err = rp.restore(r.Captures); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// CanReplay says whether a Spec.Replay can be served with no ReplayAddr:
// the client reaches a daemon reprover started, whose bridge it knows.
func (c *Client) CanReplay() bool { return c.gateway != "" }

// replayOf starts the server of a Spec's Replay (nil when it has none),
// where the daemon's proxy reaches it.
func (c *Client) replayOf(ctx context.Context, s Spec) (*replay, error) {
	if s.Replay == nil {
		return nil, nil
	}
	if s.Network != NetworkProxy || s.ProxyAnyHost {
		return nil, fmt.Errorf("a replay needs network %s, without any host allowed (network %q)", NetworkProxy, s.Network)
	}
	addr := s.ReplayAddr
	if addr == "" {
		if c.gateway == "" {
			return nil, fmt.Errorf("buildkit at %s is not a daemon reprover started: a replay needs the address its proxy reaches this machine at (ReplayAddr)", c.addr)
		}
		addr = net.JoinHostPort(c.gateway, "0")
	}
	return startReplay(ctx, s.Replay, addr, c.logger)
}

// solveOpt is the solve a Spec asks for: its local mounts, frontend
// attributes, export, network and source policy.
func (c *Client) solveOpt(ctx context.Context, s Spec, rp *replay) (client.SolveOpt, error) {
	mounts, err := localMounts(s)
	if err != nil {
		return client.SolveOpt{}, err
	}
	attrs, err := frontendAttrs(s)
	if err != nil {
		return client.SolveOpt{}, err
	}
	if err := os.MkdirAll(s.OutputDir, 0o755); err != nil {
		return client.SolveOpt{}, err
	}
	proxied := s.Network == NetworkProxy
	if proxied {
		if err := c.checkCanProxy(ctx); err != nil {
			return client.SolveOpt{}, err
		}
		// force-network-mode=none would keep every RUN offline.
		delete(attrs, "force-network-mode")
	} else if s.Network != "" && s.Network != NetworkNone {
		return client.SolveOpt{}, fmt.Errorf("network %q: want %s or %s", s.Network, NetworkNone, NetworkProxy)
	}
	opt := client.SolveOpt{
		Ref:           newRef(),
		ProxyNetwork:  proxied,
		Frontend:      "dockerfile.v0",
		FrontendAttrs: attrs,
		LocalMounts:   mounts,
		Exports:       []client.ExportEntry{exportEntry(s)},
		// No entitlements: RUN --network=host and --security=insecure fail.
		AllowedEntitlements: nil,
	}
	var net *spb.Policy
	switch {
	case proxied && rp != nil:
		net = &spb.Policy{Version: 1, Rules: rp.rules()}
	case proxied && s.ProxyAnyHost:
		net = lockPolicy(s.ProxyHosts)
	case proxied:
		net = proxyPolicy(s.ProxyHosts)
	}
	opt.SourcePolicy = policy(s.Only, net)
	return opt, nil
}

// localMounts are the build context and the Dockerfile's directory.
func localMounts(s Spec) (map[string]fsutil.FS, error) {
	ctxFS, err := fsutil.NewFS(s.ContextDir)
	if err != nil {
		return nil, fmt.Errorf("build context %s: %w", s.ContextDir, err)
	}
	dfDir := filepath.Dir(s.DockerfilePath)
	dfFS, err := fsutil.NewFS(dfDir)
	if err != nil {
		return nil, fmt.Errorf("dockerfile directory %s: %w", dfDir, err)
	}
	return map[string]fsutil.FS{"context": ctxFS, "dockerfile": dfFS}, nil
}

// frontendAttrs are the Dockerfile frontend's attributes for a Spec: no
// cache whatever the Spec says, no network for RUN (solveOpt lifts it for
// the proxy network alone), its build arguments and attributes as
// builder.Params allows, SOURCE_DATE_EPOCH last.
func frontendAttrs(s Spec) (map[string]string, error) {
	attrs := map[string]string{
		"filename": filepath.Base(s.DockerfilePath),
		// Without it a daemon without CNI gives RUN the host network.
		"force-network-mode": "none",
		// Empty: no stage may come from the cache (a cache filled by the
		// publisher's build would make anything look reproducible).
		"no-cache": "",
	}
	if s.Provenance {
		attrs["attest:provenance"] = "mode=" + cmp.Or(s.ProvenanceMode, "min")
	}
	for k, v := range s.VCS {
		attrs["vcs:"+k] = v
	}
	if s.Target != "" {
		attrs["target"] = s.Target
	}
	args, err := rebuildArgs(s.BuildArgs)
	if err != nil {
		return nil, err
	}
	maps.Copy(attrs, args)
	for k, v := range s.Attrs {
		if p := Lookup(k); p.Action != Passed || strings.HasPrefix(k, buildArgPrefix) || k == "target" || k == "filename" {
			return nil, &ParamError{Key: k, Value: v, Reason: "not a frontend attribute a rebuild passes"}
		}
		attrs[k] = v
	}
	if s.SourceDateEpoch >= 0 {
		attrs["build-arg:SOURCE_DATE_EPOCH"] = strconv.FormatInt(s.SourceDateEpoch, 10)
	}
	if len(s.Platforms) > 0 {
		attrs["platform"] = strings.Join(s.Platforms, ",")
	}
	return attrs, nil
}

// exportEntry writes the image as an OCI layout in the published
// encoding, timestamps rewritten to SOURCE_DATE_EPOCH.
func exportEntry(s Spec) client.ExportEntry {
	attrs := map[string]string{
		"tar":               "false",
		"oci-mediatypes":    strconv.FormatBool(s.OCIMediaTypes),
		"rewrite-timestamp": strconv.FormatBool(s.SourceDateEpoch >= 0),
		// Layers the build makes get the published compression;
		// base layers keep their blobs, as a release build does.
		"compression": cmp.Or(s.Compression, "gzip"),
	}
	if s.Name != "" || s.Provenance {
		attrs["name"] = cmp.Or(s.Name, publishedName)
	}
	return client.ExportEntry{Type: client.ExporterOCI, Attrs: attrs, OutputDir: s.OutputDir}
}

// solve runs the solve with BuildKit's progress display, keeping the
// tail of each step's log (for a failure) and the proxy's request lists.
func (c *Client) solve(ctx context.Context, opt client.SolveOpt, progress io.Writer, mode string) (*client.SolveResponse, *logTail, *proxyLog, error) {
	logs, plog := newLogTail(20), newProxyLog()
	disp, err := progressui.NewDisplay(progress, progressui.DisplayMode(cmp.Or(mode, string(progressui.PlainMode))))
	if err != nil {
		return nil, logs, plog, err
	}
	ch := make(chan *client.SolveStatus)
	dch := make(chan *client.SolveStatus)
	var res *client.SolveResponse
	eg, ectx := errgroup.WithContext(ctx)
	eg.Go(func() error {
		var err error
		res, err = c.c.Solve(ectx, nil, opt, ch)
		return err
	})
	eg.Go(func() error {
		defer close(dch)
		for st := range ch {
			logs.add(st)
			plog.add(st)
			dch <- shown(st)
		}
		return nil
	})
	eg.Go(func() error {
		_, err := disp.UpdateFrom(context.WithoutCancel(ectx), dch)
		return err
	})
	return res, logs, plog, eg.Wait()
}

// shown is a status as BuildKit's display may show it: a step's output
// and names come from the build (a RUN may print terminal escapes that
// set the window title or clear the screen), so their control characters
// are made visible, whatever the display mode. The status kept for the
// logs and the proxy's lists is the one BuildKit sent.
func shown(st *client.SolveStatus) *client.SolveStatus {
	out := &client.SolveStatus{}
	for _, v := range st.Vertexes {
		c := *v
		c.Name, c.Error = text.Visible(v.Name), text.Visible(v.Error)
		out.Vertexes = append(out.Vertexes, &c)
	}
	for _, v := range st.Statuses {
		c := *v
		c.ID, c.Name = text.Visible(v.ID), text.Visible(v.Name)
		out.Statuses = append(out.Statuses, &c)
	}
	for _, l := range st.Logs {
		c := *l
		c.Data = []byte(text.VisibleLines(string(l.Data)))
		out.Logs = append(out.Logs, &c)
	}
	for _, w := range st.Warnings {
		c := *w
		c.Short = []byte(text.Visible(string(w.Short)))
		c.Detail = make([][]byte, len(w.Detail))
		for i, d := range w.Detail {
			c.Detail[i] = []byte(text.VisibleLines(string(d)))
		}
		out.Warnings = append(out.Warnings, &c)
	}
	return out
}

// captures are the downloads of a proxied build: from its provenance in
// the daemon's history, which the steps cannot write; the step logs'
// request lists are only checked against it.
func (c *Client) captures(ctx context.Context, ref string, plog *proxyLog) ([]pins.Capture, error) {
	prov, err := c.historyProvenance(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("reading what the proxy captured: %w", err)
	}
	logged, err := plog.requests()
	if err != nil {
		return nil, err
	}
	caps, err := mergeCaptures(logged, prov)
	if err != nil {
		return nil, err
	}
	if len(caps) > 0 && prov.mode != "proxy" {
		return nil, fmt.Errorf("%w: buildkit at %s ran the build with network %q, not the proxy", ErrCannotProxy, c.addr, prov.mode)
	}
	return caps, nil
}

// buildError locates a failed step in the Dockerfile.
func buildError(err error, s Spec, logs *logTail) error {
	be := &BuildError{Err: err, LogTail: logs.failed()}
	var ee *gatewaypb.ExitError
	if errors.As(err, &ee) {
		be.ExitCode = int(ee.ExitCode)
	}
	for _, src := range errdefs.Sources(err) {
		if src.Info == nil || len(src.Ranges) == 0 {
			continue
		}
		be.File = s.DockerfileName
		be.Line = int(src.Ranges[0].Start.Line)
		break
	}
	if be.File == "" {
		if df, rerr := os.ReadFile(s.DockerfilePath); rerr == nil {
			if line := stepLine(string(df), logs.failedName()); line > 0 {
				be.File, be.Line = s.DockerfileName, line
			}
		}
	}
	return be
}

// stoppedError is a build the context stopped (the job's deadline, a
// cancel): it names the steps still running then, with the Dockerfile
// line of the first and the tail of its log: what hung (a download that
// never answered, a step that never ends).
func stoppedError(err error, s Spec, logs *logTail) error {
	running := logs.stillRunning()
	be := &BuildError{Err: err}
	if len(running) == 0 {
		return be
	}
	be.Err = fmt.Errorf("%w: still running: %s", err, strings.Join(running, "; "))
	be.LogTail = logs.tailOf(running[0])
	if df, rerr := os.ReadFile(s.DockerfilePath); rerr == nil {
		if line := stepLine(string(df), running[0]); line > 0 {
			be.File, be.Line = s.DockerfileName, line
		}
	}
	return be
}

// logTail keeps the last lines of each vertex's log, which vertices
// failed, and which are running.
type logTail struct {
	mu       sync.Mutex
	n        int
	lines    map[string][]string
	failedVx []string
	names    map[string]string // vertex → its name ("[2/3] RUN …")
	running  []string          // vertices started and not completed, in start order
}

func newLogTail(n int) *logTail {
	return &logTail{n: n, lines: map[string][]string{}, names: map[string]string{}}
}

// stillRunning names the vertices started and not completed.
func (l *logTail) stillRunning() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, k := range l.running {
		if n := l.names[k]; n != "" {
			out = append(out, n)
		}
	}
	return out
}

// tailOf is the log tail of the vertex of that name.
func (l *logTail) tailOf(name string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for k, n := range l.names {
		if n == name {
			return l.lines[k]
		}
	}
	return nil
}

func (l *logTail) add(st *client.SolveStatus) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, lg := range st.Logs {
		k := lg.Vertex.String()
		l.lines[k] = append(l.lines[k], strings.Split(strings.TrimRight(string(lg.Data), "\n"), "\n")...)
		if len(l.lines[k]) > l.n {
			l.lines[k] = l.lines[k][len(l.lines[k])-l.n:]
		}
	}
	for _, v := range st.Vertexes {
		k := v.Digest.String()
		if v.Error != "" {
			l.failedVx = append(l.failedVx, k)
		}
		if v.Name != "" {
			l.names[k] = v.Name
		}
		// A step the context stopped is completed with that error: it
		// was still running (what hung, for stoppedError).
		stopped := strings.Contains(v.Error, context.Canceled.Error()) || strings.Contains(v.Error, context.DeadlineExceeded.Error())
		switch i := slices.Index(l.running, k); {
		case v.Completed != nil && i >= 0 && !stopped:
			l.running = slices.Delete(l.running, i, i+1)
		case v.Completed == nil && v.Started != nil && i < 0:
			l.running = append(l.running, k)
		}
	}
}

// failedName is the name of the first failed vertex ("" when none).
func (l *logTail) failedName() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.failedVx {
		if n := l.names[k]; n != "" {
			return n
		}
	}
	return ""
}

// stepLine finds the Dockerfile line of a failed step by its vertex name
// ("[2/3] RUN apt-get …"): BuildKit v0.34 loses the source location of a
// step run with the proxy network (it re-digests the step and looks the
// location up under the old digest).
func stepLine(dockerfile, name string) int {
	if i := strings.Index(name, "] "); strings.HasPrefix(name, "[") && i > 0 {
		name = name[i+2:]
	}
	name = strings.Join(strings.Fields(name), " ")
	if name == "" {
		return 0
	}
	found := 0
	for i, line := range strings.Split(dockerfile, "\n") {
		l := strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimSpace(line), "\\")), " ")
		if l != "" && strings.HasPrefix(name, l) {
			if found != 0 {
				return 0 // two candidates: better no line than a wrong one
			}
			found = i + 1
		}
	}
	return found
}

// failed returns the log tail of the first failed vertex that logged.
func (l *logTail) failed() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range l.failedVx {
		if len(l.lines[k]) > 0 {
			return l.lines[k]
		}
	}
	return nil
}

// Worker is one of a daemon's workers, as reprover doctor shows it.
type Worker struct {
	ID string
	// Network is the worker's network mode ("cni" for a bridge of its
	// own, which the proxy network needs; "host").
	Network   string
	Platforms []ocispecs.Platform
}

// Workers lists the daemon's workers.
func (c *Client) Workers(ctx context.Context) ([]Worker, error) {
	ws, err := c.c.ListWorkers(ctx)
	if err != nil {
		return nil, fmt.Errorf("buildkit at %s: %w", c.addr, err)
	}
	out := make([]Worker, 0, len(ws))
	for _, w := range ws {
		out = append(out, Worker{ID: w.ID, Network: w.Labels["org.mobyproject.buildkit.worker.network"], Platforms: w.Platforms})
	}
	return out, nil
}

// checkClientCert refuses a client certificate the daemon would refuse
// with no reason given (an expired one ends in "broken pipe"): unreadable,
// not matching its key, or outside its validity.
func checkClientCert(certFile, keyFile string) error {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return fmt.Errorf("client certificate %s: %w", certFile, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return fmt.Errorf("client certificate %s: %w", certFile, err)
	}
	now := time.Now()
	switch {
	case now.After(leaf.NotAfter):
		return fmt.Errorf("client certificate %s expired on %s", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("client certificate %s is not valid before %s", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}
