package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/verify"
)

func newVerifyCmd(g *globals) *cobra.Command {
	var (
		req     verify.Request
		build   buildFlags
		strict  bool
		imgf    imageFlags
		out     outputFlags
		attFile string
		keyFile string
		pushAtt bool
	)
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if err := build.apply(&req); err != nil {
				return err
			}
			req.Platforms = imgf.platforms
			if err := req.Check(); err != nil {
				return err
			}
			iopts, err := imgf.options()
			if err != nil {
				return err
			}
			iopts.Platforms = nil // verify.Run applies req.Platforms
			copts, err := imgf.compareOptions(g, "rebuilt", "published")
			if err != nil {
				return err
			}
			var key *attest.PrivateKey
			if attFile != "" || pushAtt {
				if keyFile == "" {
					return errors.New("--attestation and --push-attestation need --key")
				}
				if key, err = attest.LoadPrivateKey(keyFile); err != nil {
					return err
				}
			}
			if pushAtt && !isRegistryRef(req.Image) {
				return errors.New("--push-attestation needs a registry image, not " + req.Image)
			}
			ctx := cmd.Context()
			b, release, err := build.connect(ctx, g)
			if err != nil {
				return err
			}
			defer release()
			opts := build.options(g, copts)
			opts.Image = iopts
			rep, verr := verify.Run(ctx, req, b, opts)
			if err := out.write(g, rep); err != nil {
				return err
			}
			if key != nil {
				if err := writeAttestations(ctx, g, rep, req, key, strict, attFile, pushAtt, imgf.insecure); err != nil {
					return err
				}
			}
			switch {
			case verr != nil:
				fmt.Fprintf(g.stderr, "reprover: could not verify: %s\n", text.VisibleLines(verr.Error()))
				return exitCode(exitError)
			case rep.Verdict == verify.Mismatch:
				return exitCode(exitDifferent)
			case strict && rep.Verdict != verify.Reproducible:
				fmt.Fprintf(g.stderr, "reprover: --strict: the verdict is %s, not reproducible\n", rep.Verdict)
				return exitCode(exitDifferent)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Source, "source", "", "the source: a local git repository or a git URL (default: the published image's provenance, else its org.opencontainers.image.source label)")
	f.StringVar(&req.Commit, "commit", "", "the full commit id the release was built from (default: the provenance's, else the org.opencontainers.image.revision label)")
	f.StringVar(&req.Image, "image", "", "the published image: HOST/REPO@sha256:…, HOST/REPO:TAG, oci:DIR[…], oci-archive:FILE")
	f.StringArrayVar(&req.AllowSourceHosts, "allow-source-host", nil, "a loopback, private or link-local host (or a local directory) that a source named only by the published image may be cloned from; repeatable")
	f.BoolVar(&strict, "strict", false, "pass only a reproducible (bit-identical) rebuild")
	f.StringVar(&attFile, "attestation", "", "write the signed verdict (DSSE envelopes, JSON Lines) to this file; needs --key")
	f.StringVar(&keyFile, "key", "", "the signing key (PKCS#8 PEM, Ed25519 or ECDSA P-256)")
	f.BoolVar(&pushAtt, "push-attestation", false, "attach the signed verdict to the published image (OCI referrer and cosign's .att tag)")
	build.register(cmd, &req, nil)
	imgf.register(cmd)
	out.register(cmd)
	return cmd
}

// buildFlags are the flags that say how to build and where, bound to a
// verify.Request: verify's, shared by twice.
type buildFlags struct {
	buildArgs    []string
	bakeVars     map[string]string
	buildkitAddr string
	quiet        bool
	tls          builder.TLS
}

// options are the pipeline's options these flags and the comparison's
// make: the bake environment, BuildKit's progress on stderr, the logger.
func (b *buildFlags) options(g *globals, c compare.Options) verify.Options {
	return verify.Options{Compare: c, BakeEnv: b.bakeVars, Progress: g.stderr, ProgressMode: progressMode(g, b.quiet), Logger: g.logger()}
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
	f.StringVar(&req.Network, "network", "none", help("network", "RUN's network: none, or proxy (only the pinned hosts, through BuildKit's capturing proxy; every download must equal a pin)"))
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

// connect connects to the BuildKit the flags name (connectBuilder).
func (b *buildFlags) connect(ctx context.Context, g *globals) (verify.Builder, func(), error) {
	return connectBuilder(ctx, g, b.buildkitAddr, b.tls)
}

// writeAttestations signs the outcome, writes it to file and/or pushes it
// next to the published image.
func writeAttestations(ctx context.Context, g *globals, rep *verify.Report, req verify.Request, key *attest.PrivateKey, strict bool, file string, push bool, insecure []string) error {
	envs, err := verify.Attestations(ctx, rep, req, key, verify.AttestOptions{Strict: strict})
	if err != nil {
		return err
	}
	if file != "" {
		var b []byte
		for _, e := range envs {
			b = append(append(b, e...), '\n')
		}
		if err := files.WriteRegular(file, b, 0o644); err != nil {
			return fmt.Errorf("writing the attestation: %w", err)
		}
	}
	if push {
		if rep.Published == nil || rep.Published.Digest == "" {
			return errors.New("--push-attestation: the published image was not resolved")
		}
		ref, err := image.ParseReference(req.Image)
		if err != nil {
			return err
		}
		repo := ref.Name
		if err := attest.Push(ctx, repo+"@"+rep.Published.Digest, envs, attest.RegistryOptions{Transport: image.GuardedTransport(nil, insecure)}); err != nil {
			return err
		}
		fmt.Fprintf(g.stderr, "reprover: attached %d attestation(s) to %s@%s\n", len(envs), repo, rep.Published.Digest)
	}
	return nil
}

func isRegistryRef(s string) bool {
	return !strings.HasPrefix(s, "oci:") && !strings.HasPrefix(s, "oci-archive:")
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
