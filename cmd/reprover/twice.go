package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/verify"
)

func newTwiceCmd(g *globals) *cobra.Command {
	var (
		req        verify.Request
		build      buildFlags
		out        outputFlags
		diffoscope bool
		lim        limitFlags
	)
	cmd := &cobra.Command{
		Use:   "twice --source DIR --commit SHA",
		Short: "Build a commit twice and compare the builds: is the Dockerfile reproducible, before a release?",
		Long: `Build the Dockerfile of a source at a commit twice on the same BuildKit daemon,
as verify rebuilds (the commit's tree, the pinning rules of docs/rules.md, no
network in RUN, no cache), the second build starting in a later second than the
first finished, with the same SOURCE_DATE_EPOCH (default: the commit time), and
compare the two images as verify compares a rebuild with a release: platform by
platform, file by file. Anything that depends on when or how often the build
runs (a date, random bytes, a download that moves) shows up as a difference.

With --network proxy, RUN downloads through BuildKit's capturing proxy: held to
the commit's lock file when it has one (as verify), else the first build may
reach any public host and its downloads pin the second's; a download that
served the second build other bytes is named, with both digests, and makes the
builds not reproducible even when the images are identical.

Exit status: 0 reproducible (the builds are bit-identical), 1 not reproducible
(they differ, or only their encoding does: equivalent), 2 could not build (bad
or unpinned input, build failure).`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if err := build.apply(&req); err != nil {
				return err
			}
			if err := lim.apply(); err != nil {
				return err
			}
			copts, err := diffoscopeOptions(g, diffoscope)
			if err != nil {
				return err
			}
			b := build.builder(g)
			defer b.Close()
			rep, terr := verify.Twice(cmd.Context(), req, b, build.options(g, copts))
			if err := refused(terr); err != nil {
				return err
			}
			return twiceVerdict(g, out, rep, terr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Source, "source", "", "the source: a local git repository or a git URL (required)")
	f.StringVar(&req.Commit, "commit", "", "the full commit id to build (required)")
	f.StringArrayVar(&req.Platforms, "platform", nil, "a platform to build (OS/ARCH[/VARIANT]); repeatable; default the daemon's")
	build.register(cmd, &req, map[string]string{
		"context":           "the build context, relative to the source root (default .)",
		"target":            "the build stage, as the release will use it",
		"build-arg":         "a build argument K=V, as the release will use it; repeatable",
		"source-date-epoch": "auto (the commit time) or seconds; the same for both builds",
		"bake-var":          "a value for one of the bake file's variables, as the release's environment will set it (NAME=VALUE; repeatable). reprover's own environment is never read: a bake file could name a secret",
		"network":           "RUN's network: none, or proxy (through BuildKit's capturing proxy: the lock file's hosts and pins when the commit has one, else any public host, the first build's downloads pinning the second's)",
		"lock":              "with --network proxy: the lock file, relative to the source root (default reprover.lock.json when the commit has it, else the first build's downloads pin the second's)",
	})
	out.register(cmd)
	lim.register(cmd, inputLimits(&build.inputs))
	f.BoolVar(&diffoscope, "diffoscope", false, "look inside each differing file with Debian's diffoscope (bounded, without network) and put its text in the report")
	return cmd
}

// twiceVerdict writes the report, and says why the builds could not be
// made or are not reproducible (exit 2 or 1).
func twiceVerdict(g *globals, out outputFlags, rep *verify.TwiceReport, terr error) error {
	if terr != nil {
		rep.Error = say(terr)
	}
	if err := out.write(g, rep); err != nil {
		return err
	}
	switch {
	case terr != nil:
		fmt.Fprintf(g.stderr, "reprover: could not build: %s\n", text.VisibleLines(say(terr)))
		return exitCode(exitError)
	case rep.Verdict != verify.Reproducible:
		fmt.Fprintf(g.stderr, "reprover: not reproducible: %s\n", notReproducible(rep))
		return exitCode(exitDifferent)
	}
	return nil
}

// notReproducible says in a sentence why a verdict other than
// reproducible fails twice.
func notReproducible(rep *verify.TwiceReport) string {
	var parts []string
	if n := len(rep.DownloadChanges); n > 0 {
		parts = append(parts, fmt.Sprintf("%d download(s) served the two builds different bytes", n))
	}
	switch rep.Verdict {
	case verify.Equivalent:
		parts = append(parts, fmt.Sprintf("the two builds hold the same files and config, but their encoding differs (%s), so they are not bit-identical", strings.Join(rep.Encoding, ", ")))
	case verify.Mismatch:
		files := 0
		for _, p := range rep.Platforms {
			files += len(p.Files)
			if p.Verdict != verify.Reproducible && len(p.Files) == 0 {
				parts = append(parts, fmt.Sprintf("the %s images differ (see the report)", p.Platform))
			}
		}
		if files > 0 {
			parts = append(parts, fmt.Sprintf("%d file(s) differ between the two builds", files))
		}
	}
	return strings.Join(parts, "; ")
}
