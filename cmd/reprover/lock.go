package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

func newLockCmd(g *globals) *cobra.Command {
	var (
		req          verify.LockRequest
		buildArgs    []string
		out          string
		buildkitAddr string
		quiet        bool
		tlsOpts      builder.TLS
		inputs       verify.InputLimits
		lim          limitFlags
	)
	cmd := &cobra.Command{
		Use:   "lock [--source DIR] [--out FILE]",
		Short: "Build once through BuildKit's capturing proxy and pin every download RUN makes",
		Long: `Build the Dockerfile once, as the release is built, with RUN reaching the network
only through BuildKit's capturing proxy (any public host; loopback, private and
link-local hosts only with --allow-download-host), and write every download it
made — URL, sha256, size, sorted — to reprover.lock.json (docs/lock.schema.json).
Commit that file: reprover verify --network proxy then checks every download of
the rebuild against it.

Exit status: 0 written, 2 could not build or a download could not be pinned.`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ba, err := parseBuildArgs(buildArgs)
			if err != nil {
				return err
			}
			req.BuildArgs = ba
			if err := lim.apply(); err != nil {
				return err
			}
			if out == "" {
				out = filepath.Join(req.Dir, pins.LockFile)
			}
			// Arguments first: nothing starts for a request that cannot run.
			if st, err := os.Stat(req.Dir); err != nil || !st.IsDir() {
				return fmt.Errorf("--source %s: not a directory", req.Dir)
			}
			if err := files.Writable(out); err != nil {
				return fmt.Errorf("writing the lock: %w", err)
			}
			ctx := cmd.Context()
			b, release, err := connectBuilder(ctx, g, buildkitAddr, tlsOpts)
			if err != nil {
				return err
			}
			defer release()
			l, _, err := verify.Lock(ctx, req, b, verify.Options{Progress: g.stderr, ProgressMode: progressMode(g, quiet), Logger: g.logger(), Inputs: inputs})
			if err != nil {
				return err
			}
			data, err := l.Marshal()
			if err != nil {
				return err
			}
			if err := files.WriteRegular(out, data, 0o644); err != nil {
				return fmt.Errorf("writing the lock: %w", err)
			}
			set, err := l.Set(out)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "wrote %s: %d download(s) from %d host(s)\n", out, len(l.Downloads), len(set.Hosts()))
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Dir, "source", ".", "the source directory (its files as they are)")
	f.StringVar(&req.Dockerfile, "dockerfile", "", "the Dockerfile, relative to the source (default CONTEXT/Dockerfile)")
	f.StringVar(&req.Context, "context", ".", "the build context, relative to the source")
	f.StringVar(&req.Target, "target", "", "the build stage, as the release uses it")
	f.StringArrayVar(&buildArgs, "build-arg", nil, "a build argument K=V, as the release uses it; repeatable")
	f.StringArrayVar(&req.Platforms, "platform", nil, "a platform to build (OS/ARCH[/VARIANT]); repeatable; default the daemon's")
	f.StringArrayVar(&req.AllowDownloadHosts, "allow-download-host", nil, "a loopback, private or link-local host downloads may come from (an internal mirror); repeatable")
	f.StringVar(&out, "out", "", "where to write the lock (default SOURCE/reprover.lock.json)")
	f.StringVar(&buildkitAddr, "buildkit-addr", "", "BuildKit daemon address (default $BUILDKIT_HOST, else a managed buildkitd)")
	f.BoolVar(&quiet, "quiet", false, "no build progress on stderr")
	tlsFlags(cmd, &tlsOpts)
	lim.register(cmd, [][]limits.Field{limitsOf("check", &inputs.Check, builder.DefaultCheckLimits)})
	return cmd
}
