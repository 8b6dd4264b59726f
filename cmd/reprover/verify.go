package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify --image IMAGE [--source DIR|GIT-URL] [--commit SHA]",
		Short: "Rebuild an image hermetically from source and compare it with the published one",
		Long: `Rebuild the Dockerfile of a source at a commit in a hermetic BuildKit sandbox
(every input pinned, no network in RUN, no cache, SOURCE_DATE_EPOCH) and compare
the result with the published image, platform by platform, file by file.

BuildKit: --buildkit-addr, else $BUILDKIT_HOST, else a buildkitd reprover starts
and stops itself, found at $REPROVER_BUILDKITD, else next to reprover's own
executable (make install puts them side by side), else in PATH.

Exit status: 0 verified (reproducible, or equivalent: only the encoding differs;
with --strict only reproducible), 1 mismatch, 2 could not verify (bad or
unpinned input, build failure, unreachable image).`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error { return f.run(cmd.Context(), g) },
	}
	f.register(cmd)
	return cmd
}

// verifyFlags are verify's flags: the request, how to build, the images,
// the output and the signed verdict.
type verifyFlags struct {
	req    verify.Request
	build  buildFlags
	strict bool
	imgf   imageFlags
	out    outputFlags
	att    attestFlags
	lim    limitFlags
	// replayAddr is where a remote daemon's proxy reaches this machine.
	replayAddr string
	keep       keptKit
}

func (f *verifyFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.req.Source, "source", "", "the source: a local git repository, a git URL, or kit (the commit's git objects in --kit) (default: the published image's provenance, else its org.opencontainers.image.source label; its kit's when that cannot be cloned)")
	fl.StringVar(&f.req.Commit, "commit", "", "the full commit id the release was built from (default: the provenance's, else the org.opencontainers.image.revision label)")
	fl.StringVar(&f.req.Image, "image", "", "the published image: HOST/REPO@sha256:…, HOST/REPO:TAG, oci:DIR[…], oci-archive:FILE")
	fl.StringArrayVar(&f.req.AllowSourceHosts, "allow-source-host", nil, "a loopback, private or link-local host (or a local directory) that a source named only by the published image may be cloned from; repeatable")
	fl.BoolVar(&f.strict, "strict", false, "pass only a reproducible (bit-identical) rebuild whose downloads all equal their pins")
	fl.StringVar(&f.req.Kit, "kit", kit.Auto, "the release's kit (docs/kit.md), every download of a --network proxy rebuild served from it and none from upstream: auto (the image's referrer, when it has one), none, or the kit's reference (HOST/REPO…, oci:DIR, oci-archive:FILE)")
	fl.StringVar(&f.keep.out, "kit-out", "", "when every download matched its pin, keep them as the release's kit: write it to oci:DIR or oci-archive:FILE (each fetched again and checked against its pin; docs/kit.md)")
	fl.BoolVar(&f.keep.push, "push-kit", false, "when every download matched its pin, push the release's kit to the image's repository as a referrer, where the next verification finds it")
	fl.StringVar(&f.replayAddr, "kit-serve-addr", "", "HOST:PORT where --buildkit-addr's daemon reaches this machine, to serve the kit's downloads (default: the bridge of the buildkitd reprover starts)")
	fl.BoolVar(&f.req.AllowUnpinnedDownloads, "allow-unpinned-downloads", false, "with --network proxy: compare a rebuild whose downloads nothing pins (no lock file, no provenance materials); every download is then new, and the attestation's levels say the inputs were unpinned")
	f.att.register(cmd)
	f.build.register(cmd, &f.req, nil)
	f.imgf.register(cmd)
	f.out.register(cmd)
	f.lim.register(cmd, imageLimits(&f.imgf), inputLimits(&f.build.inputs), kitLimits(&f.build.inputs.Kit))
}

// run reads the flags, makes the one call (verify.Run, which checks the
// request first; BuildKit is reached only when the build needs it), and
// writes what it returned.
func (f *verifyFlags) run(ctx context.Context, g *globals) error {
	opts, att, err := f.options(g)
	if err != nil {
		return err
	}
	b := f.build.builder(g)
	defer b.Close()
	rep, verr := verify.Run(ctx, f.req, b, opts)
	if err := refused(verr); err != nil {
		return err
	}
	if verr != nil {
		rep.Error = say(verr)
	}
	if err := f.out.write(g, rep); err != nil {
		return err
	}
	if att.Key != nil {
		if err := writeAttestations(ctx, g, rep, f.req, att); err != nil {
			return err
		}
	}
	if f.keep.wanted() && verr == nil {
		if err := f.keep.keep(ctx, g, rep, f.req, opts); err != nil {
			fmt.Fprintf(g.stderr, "reprover: %s\n", text.VisibleLines(say(err)))
		}
	}
	switch {
	case verr != nil:
		fmt.Fprintf(g.stderr, "reprover: could not verify: %s\n", text.VisibleLines(say(verr)))
		return exitCode(exitError)
	case rep.Verdict == verify.Mismatch:
		return exitCode(exitDifferent)
	case f.strict && rep.Verdict != verify.Reproducible:
		fmt.Fprintf(g.stderr, "reprover: --strict: the verdict is %s, not reproducible\n", rep.Verdict)
		return exitCode(exitDifferent)
	case f.strict && !rep.InputsAsReleased():
		fmt.Fprintf(g.stderr, "reprover: --strict: not every download was as the release got it: %s\n", text.Visible(inputsLine(rep)))
		return exitCode(exitDifferent)
	}
	return nil
}

// options are what the flags say beyond the request: the pipeline's
// options and the signed verdict's.
func (f *verifyFlags) options(g *globals) (verify.Options, attestOptions, error) {
	if err := f.out.check(); err != nil {
		return verify.Options{}, attestOptions{}, err
	}
	if err := f.build.apply(&f.req); err != nil {
		return verify.Options{}, attestOptions{}, err
	}
	if err := f.lim.apply(); err != nil {
		return verify.Options{}, attestOptions{}, err
	}
	f.req.Platforms = f.imgf.platforms
	copts, err := f.imgf.compareOptions(g, "rebuilt", "published")
	if err != nil {
		return verify.Options{}, attestOptions{}, err
	}
	att, err := f.att.options(f.req.Image, f.strict, f.imgf.insecure)
	if err != nil {
		return verify.Options{}, attestOptions{}, err
	}
	opts := f.build.options(g, copts)
	opts.Image = f.imgf.openOptions() // verify.Run applies req.Platforms
	opts.ReplayAddr = f.replayAddr
	return opts, att, nil
}

// refused is the error a command prints alone, without a report: a
// request verify refused before starting (*verify.RequestError), or a
// BuildKit that could not be reached (*connectError). Nil otherwise.
func refused(err error) error {
	var re *verify.RequestError
	if errors.As(err, &re) {
		return err
	}
	var ce *connectError
	if errors.As(err, &ce) {
		return ce.err
	}
	return nil
}

// attestFlags are verify's flags for the signed verdict.
type attestFlags struct {
	file    string
	keyFile string
	push    bool
}

func (a *attestFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&a.file, "attestation", "", "write the signed verdict (DSSE envelopes, JSON Lines) to this file; needs --key")
	f.StringVar(&a.keyFile, "key", "", "the signing key (PKCS#8 PEM, Ed25519 or ECDSA P-256)")
	f.BoolVar(&a.push, "push-attestation", false, "attach the signed verdict to the published image (OCI referrer and cosign's .att tag)")
}

// options loads the key when the verdict is to be signed (none: Key nil),
// and refuses --push-attestation for an image outside a registry.
func (a *attestFlags) options(img string, strict bool, insecure []string) (attestOptions, error) {
	if a.file == "" && !a.push {
		return attestOptions{}, nil
	}
	if a.keyFile == "" {
		return attestOptions{}, errors.New("--attestation and --push-attestation need --key")
	}
	key, err := attest.LoadPrivateKey(a.keyFile)
	if err != nil {
		return attestOptions{}, err
	}
	if ref, err := image.ParseReference(img); a.push && err == nil && ref.Transport != image.Registry {
		return attestOptions{}, errors.New("--push-attestation needs a registry image, not " + img)
	}
	return attestOptions{Key: key, Strict: strict, File: a.file, Push: a.push, Insecure: insecure}, nil
}

// buildFlags are the flags that say how to build and where, bound to a
// verify.Request: verify's, shared by twice.
type buildFlags struct {
	buildArgs    []string
	bakeVars     map[string]string
	buildkitAddr string
	quiet        bool
	tls          builder.TLS
	// inputs bound what is read from the source (--limit bake.…, check.…,
	// lock.…).
	inputs verify.InputLimits
}

// options are the pipeline's options these flags and the comparison's
// make: the bake environment, BuildKit's progress on stderr, the logger.
func (b *buildFlags) options(g *globals, c compare.Options) verify.Options {
	return verify.Options{Compare: c, Inputs: b.inputs, BakeEnv: b.bakeVars, Progress: g.stderr, ProgressMode: progressMode(g, b.quiet), Logger: g.logger(), Words: flagName}
}

// register defines the build flags on cmd, bound to req; usage replaces
// the help of the flags (by name) whose defaults differ from verify's.
func (b *buildFlags) register(cmd *cobra.Command, req *verify.Request, usage map[string]string) {
	help := func(name, s string) string {
		if u, ok := usage[name]; ok {
			return u
		}
		return s
	}
	f := cmd.Flags()
	f.StringVar(&req.Dockerfile, "dockerfile", "", help("dockerfile", "the Dockerfile, relative to the source root (default CONTEXT/Dockerfile)"))
	f.StringVar(&req.Context, "context", "", help("context", "the build context, relative to the source root (default: the provenance's, else .)"))
	f.StringVar(&req.Target, "target", "", help("target", "the build stage, as the release used it"))
	f.StringArrayVar(&b.buildArgs, "build-arg", nil, help("build-arg", "a build argument K=V, as the release used it; repeatable"))
	f.StringVar(&req.SourceDateEpoch, "source-date-epoch", "auto", help("source-date-epoch", "auto (the provenance's SOURCE_DATE_EPOCH, else the published config's created time, else the commit time) or seconds"))
	f.StringVar(&req.Bake, "bake", "", help("bake", "the project's bake file (docker-bake.hcl), relative to the source root, read from the commit: its target's context, Dockerfile, target and args count as flags"))
	f.StringVar(&req.BakeTarget, "bake-target", "", help("bake-target", "the bake file's target (default \"default\")"))
	f.StringToStringVar(&b.bakeVars, "bake-var", nil, help("bake-var", "a value for one of the bake file's variables, as the release's environment set it (NAME=VALUE; repeatable). The verifier's own environment is never read: a bake file could name a secret"))
	f.StringVar(&req.Network, "network", builder.NetworkNone, help("network", "RUN's network: none, or proxy (only the pinned hosts, through BuildKit's capturing proxy; every download must equal a pin)"))
	f.StringVar(&req.Lock, "lock", "", help("lock", "with --network proxy: the lock file, relative to the source root (default reprover.lock.json when the commit has it, else the published image's provenance)"))
	f.StringArrayVar(&req.AllowDownloadHosts, "allow-download-host", nil, help("allow-download-host", "a loopback, private or link-local host that downloads may come from (an internal mirror); repeatable"))
	f.StringVar(&b.buildkitAddr, "buildkit-addr", "", help("buildkit-addr", "BuildKit daemon address (default $BUILDKIT_HOST, else a managed buildkitd)"))
	f.BoolVar(&b.quiet, "quiet", false, help("quiet", "no build progress on stderr"))
	tlsFlags(cmd, &b.tls)
}

// apply puts what the flags say outside the request into it.
func (b *buildFlags) apply(req *verify.Request) error {
	ba, err := parseBuildArgs(b.buildArgs)
	if err != nil {
		return err
	}
	req.BuildArgs = ba
	return nil
}

// builder is the BuildKit the flags name (connectBuilder), reached when
// the pipeline first asks for it.
func (b *buildFlags) builder(g *globals) *lazyBuilder {
	return &lazyBuilder{connect: func(ctx context.Context) (verify.Builder, func(), error) {
		return connectBuilder(ctx, g, b.buildkitAddr, b.tls)
	}}
}

// lazyBuilder connects on the first Build or Version, so that a request
// verify refuses, or an image it cannot read, starts no buildkitd.
type lazyBuilder struct {
	connect func(context.Context) (verify.Builder, func(), error)
	once    sync.Once
	b       verify.Builder
	release func()
	err     error
}

// connectError is a BuildKit that could not be reached.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

func (l *lazyBuilder) get(ctx context.Context) (verify.Builder, error) {
	l.once.Do(func() { l.b, l.release, l.err = l.connect(ctx) })
	if l.err != nil {
		return nil, &connectError{l.err}
	}
	return l.b, nil
}

func (l *lazyBuilder) Build(ctx context.Context, s builder.Spec, progress io.Writer, mode string) (*builder.Result, error) {
	b, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return b.Build(ctx, s, progress, mode)
}

func (l *lazyBuilder) Version(ctx context.Context) (string, error) {
	b, err := l.get(ctx)
	if err != nil {
		return "", err
	}
	return b.Version(ctx)
}

// CanReplay passes on whether the daemon can serve a kit by itself
// (verify.Replayer), once connected.
func (l *lazyBuilder) CanReplay() bool {
	r, ok := l.b.(verify.Replayer)
	return ok && r.CanReplay()
}

// Close releases the connection, and stops a buildkitd started for it.
func (l *lazyBuilder) Close() {
	if l.release != nil {
		l.release()
	}
}

// attestOptions say what to do with the signed verdict.
type attestOptions struct {
	Key      *attest.PrivateKey // nil: the verdict is not signed
	Strict   bool               // --strict: the summary passes only a reproducible rebuild
	File     string             // "": not written to a file
	Push     bool               // attach it to the published image
	Insecure []string           // registries reached over plain HTTP
}

// writeAttestations signs the outcome, writes it to a file and/or pushes
// it next to the published image.
func writeAttestations(ctx context.Context, g *globals, rep *verify.Report, req verify.Request, o attestOptions) error {
	envs, err := verify.Attestations(ctx, rep, req, o.Key, verify.AttestOptions{Strict: o.Strict})
	if err != nil {
		return err
	}
	if o.File != "" {
		var b []byte
		for _, e := range envs {
			b = append(append(b, e...), '\n')
		}
		if err := files.WriteRegular(o.File, b, 0o644); err != nil {
			return fmt.Errorf("writing the attestation: %w", err)
		}
	}
	if !o.Push {
		return nil
	}
	if rep.Published == nil || rep.Published.Digest == "" {
		return errors.New("--push-attestation: the published image was not resolved")
	}
	ref, err := image.ParseReference(req.Image)
	if err != nil {
		return err
	}
	subject := ref.Name + "@" + rep.Published.Digest
	if err := attest.Push(ctx, subject, envs, attest.RegistryOptions{Transport: image.GuardedTransport(nil, o.Insecure)}); err != nil {
		return err
	}
	fmt.Fprintf(g.stderr, "reprover: attached %d attestation(s) to %s\n", len(envs), subject)
	return nil
}

// connectBuilder connects to --buildkit-addr, else $BUILDKIT_HOST, else a
// managed buildkitd that release stops.
func connectBuilder(ctx context.Context, g *globals, addr string, t builder.TLS) (verify.Builder, func(), error) {
	if addr == "" {
		addr = os.Getenv("BUILDKIT_HOST")
	}
	var daemons []verify.Daemon
	if addr != "" {
		daemons = []verify.Daemon{{Addr: addr, TLS: t}}
	} else if t.Enabled() {
		return nil, nil, errors.New("--tlscacert, --tlscert, --tlskey and --tlsservername need --buildkit-addr tcp://… (or $BUILDKIT_HOST)")
	}
	builders := verify.NewDaemonBuilders(daemons, g.logger())
	b, release, err := builders.Get(ctx)
	if err != nil {
		builders.Close()
		return nil, nil, err
	}
	return b, func() { release(); builders.Close() }, nil
}

// progressMode is BuildKit's display: plain in CI or when stderr is not a
// terminal, none with --quiet.
func progressMode(g *globals, quiet bool) string {
	switch {
	case quiet:
		return "quiet"
	case os.Getenv("CI") != "" || !isTerminal(g.stderr):
		return "plain"
	}
	return "auto"
}

// tlsFlags are buildctl's TLS flags for a daemon reached over tcp://.
func tlsFlags(cmd *cobra.Command, t *builder.TLS) {
	f := cmd.Flags()
	f.StringVar(&t.CACert, "tlscacert", "", "with a tcp:// --buildkit-addr: the CA the daemon's certificate must chain to")
	f.StringVar(&t.Cert, "tlscert", "", "with a tcp:// --buildkit-addr: the client certificate (mutual TLS)")
	f.StringVar(&t.Key, "tlskey", "", "with a tcp:// --buildkit-addr: the client certificate's key")
	f.StringVar(&t.ServerName, "tlsservername", "", "with a tcp:// --buildkit-addr: the name the daemon's certificate must carry (default: the address's host)")
}

// inputsLine says how a proxied rebuild's downloads stood against the pins.
func inputsLine(rep *verify.Report) string {
	if rep.Build == nil || rep.Build.Inputs == nil {
		return "no downloads were checked"
	}
	if rep.Build.Pins != nil && rep.Build.Pins.From == pins.FromNone {
		return "nothing pinned them (--allow-unpinned-downloads)"
	}
	return rep.Build.Inputs.String()
}
