package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/inspect"
	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/limits"
)

func newInspectCmd(g *globals) *cobra.Command {
	var (
		platforms    []string
		insecure     []string
		ilim         image.Limits
		lim          inspect.Limits
		parallel     int
		decompressor string
		keys         []string
		threshold    int
		failOn       string
		out          outputFlags
		limf         limitFlags
	)
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "Can I trust this image? Its provenance, who vouches for it, and what it holds",
		Long: `Inspect one published image, before any rebuild and without its source:
where it came from (its SLSA provenance: builder, source, commit, Dockerfile,
target, build arguments, bases and downloads; each layer with the instruction
that made it), who vouches for it (the reprover verdicts attached to it,
checked with --key, k of n with --threshold; other referrers by type; a kit),
and what it holds: secrets in any layer's files (deleted or overwritten later
or not) and in ENV, labels and history, named and fingerprinted, never shown;
the user it runs as; setuid/setgid files; world-writable directories; downloads
piped to a shell; content later layers hide; package caches. The checks are
listed in docs/inspect.md. IMAGE is HOST[:PORT]/REPO[:TAG|@sha256:HEX],
oci:DIR[@sha256:HEX|:TAG] or oci-archive:FILE[@sha256:HEX].

Exit status: 0 no finding reaches --fail-on, 1 one does, 2 the image could
not be inspected.`,
		Args: withUsage(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.check(); err != nil {
				return err
			}
			if err := limf.apply(); err != nil {
				return err
			}
			fail, ok := inspect.ParseSeverity(failOn)
			if !ok {
				return fmt.Errorf("--fail-on %q: want high, medium, low, info or none", failOn)
			}
			var pubs []*attest.PublicKey
			for _, k := range keys {
				p, err := attest.LoadPublicKey(k)
				if err != nil {
					return err
				}
				pubs = append(pubs, p)
			}
			io := image.Options{InsecureRegistries: insecure, Limits: ilim}
			for _, s := range platforms {
				p, err := image.ParsePlatform(s)
				if err != nil {
					return err
				}
				io.Platforms = append(io.Platforms, p)
			}
			ctx := cmd.Context()
			r, err := image.Open(ctx, args[0], io)
			if err != nil {
				return err
			}
			defer r.Close()
			rep, err := inspect.Image(ctx, r, inspect.Options{Limits: lim, ImageLimits: ilim, Parallelism: parallel, Decompressor: decompressor,
				Logger: g.logger(), Keys: pubs, Threshold: threshold,
				Registry: attest.RegistryOptions{Transport: image.GuardedTransport(nil, insecure)}})
			if err != nil {
				return err
			}
			if err := writeInspect(g, out, rep); err != nil {
				return err
			}
			if rep.Reaches(fail) {
				return exitCode(exitDifferent)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&platforms, "platform", nil, "inspect only this platform (OS/ARCH[/VARIANT]); repeatable")
	fl.StringArrayVar(&insecure, "insecure-registry", nil, "registry host reached over plain HTTP (loopback always is); repeatable")
	fl.StringArrayVar(&keys, "key", nil, "a trusted public key (PEM or DER) to check attached reprover verdicts with; repeatable")
	fl.IntVar(&threshold, "threshold", 1, "distinct keys that must have signed a PASSED verdict for the image to be vouched for")
	fl.StringVar(&failOn, "fail-on", "high", "exit 1 when a finding is at least this severe: high, medium, low, info or none")
	fl.Int64Var(&ilim.MaxManifestBytes, "max-manifest-bytes", image.DefaultLimits.MaxManifestBytes, "largest index or manifest accepted")
	fl.Int64Var(&ilim.MaxConfigBytes, "max-config-bytes", image.DefaultLimits.MaxConfigBytes, "largest image config accepted")
	fl.IntVar(&ilim.MaxLayers, "max-layers", image.DefaultLimits.MaxLayers, "most layers accepted in an image")
	fl.Int64Var(&lim.MaxLayerBytes, "max-layer-bytes", inspect.DefaultLimits.MaxLayerBytes, "most uncompressed bytes accepted in one layer")
	fl.Int64Var(&lim.MaxTotalBytes, "max-total-bytes", inspect.DefaultLimits.MaxTotalBytes, "most uncompressed bytes read by one inspection")
	fl.IntVar(&lim.MaxEntries, "max-entries", inspect.DefaultLimits.MaxEntries, "most tar entries accepted in one layer")
	fl.Int64Var(&lim.MaxScanFileBytes, "max-scan-file-bytes", inspect.DefaultLimits.MaxScanFileBytes, "largest file scanned for secrets")
	fl.Int64Var(&lim.MaxScanBytes, "max-scan-bytes", inspect.DefaultLimits.MaxScanBytes, "most bytes of file contents scanned for secrets in one image")
	fl.IntVar(&lim.MaxFindingsPerCheck, "max-findings", inspect.DefaultLimits.MaxFindingsPerCheck, "most findings listed per check and platform (the rest are counted)")
	fl.IntVar(&parallel, "parallel", 4, "layers read at once")
	fl.StringVar(&decompressor, "decompressor", inspect.DecompressAuto, "how gzip layers are decompressed: auto (ISA-L's igzip for gzip layers of 1 MiB or more when installed, else Go: docs/performance.md), go, or igzip")
	out.register(cmd)
	limf.register(cmd, inspectLimits(&ilim, &lim))
	return cmd
}

// inspectLimits are the limits of opening and inspecting an image.
func inspectLimits(i *image.Limits, l *inspect.Limits) [][]limits.Field {
	return [][]limits.Field{limitsOf("image", i, image.DefaultLimits), limitsOf("inspect", l, inspect.DefaultLimits)}
}

// writeInspect writes the report file and the report on stdout.
func writeInspect(g *globals, out outputFlags, rep *inspect.Report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if out.report != "" {
		if err := files.WriteRegular(out.report, b, 0o644); err != nil {
			return fmt.Errorf("writing report: %w", err)
		}
	}
	switch out.format {
	case "json":
		_, err = g.stdout.Write(b)
		return err
	case "html":
		return rep.WriteHTML(g.stdout)
	}
	return rep.WriteText(g.stdout, inspect.TextOptions{Color: isTerminal(g.stdout)})
}
