package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/verify"
)

func newCheckCmd(g *globals) *cobra.Command {
	var source, dockerfile, format, network, bakeFile, bakeTarget, target string
	var buildArgs, platforms []string
	var bakeVars map[string]string
	var inputs verify.InputLimits
	var lim limitFlags
	cmd := &cobra.Command{
		Use:   "check [--source DIR] [--dockerfile PATH | --bake FILE]",
		Short: "Apply the hermetic-rebuild rules to a Dockerfile, without building",
		Long: `Apply the pinning rules of docs/rules.md to a Dockerfile (ARGs expanded as
the build would) and report every violation as Dockerfile:LINE: rule: message.

Exit status: 0 hermetic, 2 not (or the Dockerfile cannot be read).`,
		Args: withUsage(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			args, err := parseBuildArgs(buildArgs)
			if err != nil {
				return err
			}
			if err := lim.apply(); err != nil {
				return err
			}
			res, err := verify.Check(cmd.Context(), verify.CheckRequest{Dir: source, Dockerfile: dockerfile, BuildArgs: args, Network: network,
				Bake: bakeFile, BakeTarget: bakeTarget, BakeVars: bakeVars, Platforms: platforms, Target: target, Limits: inputs})
			if err != nil {
				return err
			}
			vs, in, path := res.Violations, res.Inputs, filepath.Join(source, res.Dockerfile)
			if format == "json" {
				type violation struct {
					File    string `json:"file"`
					Line    int    `json:"line"`
					Rule    string `json:"rule"`
					Message string `json:"message"`
					URL     string `json:"url"`
				}
				out := struct {
					Hermetic   bool            `json:"hermetic"`
					Violations []violation     `json:"violations"`
					Inputs     *builder.Inputs `json:"inputs"`
				}{Hermetic: len(vs) == 0, Violations: []violation{}, Inputs: in}
				for _, v := range vs {
					out.Violations = append(out.Violations, violation{v.File, v.Line, v.Rule.Name, v.Message, v.Rule.URL})
				}
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(out); err != nil {
					return err
				}
			}
			for _, w := range in.Warnings {
				fmt.Fprintf(g.stderr, "warning: %s:%d: %s: %s\n", text.Visible(w.File), w.Line, w.Rule, text.Visible(w.Message))
			}
			if len(vs) > 0 {
				for _, v := range vs {
					fmt.Fprintln(g.stderr, text.VisibleLines(v.Error()))
				}
				fmt.Fprintf(g.stderr, "reprover: %s is not hermetic: %d violation(s); see docs/rules.md\n", path, len(vs))
				return exitCode(exitError)
			}
			if format != "json" {
				fmt.Fprintf(g.stdout, "%s is hermetic: %d base image(s) and %d download(s), all pinned\n", path, len(in.Bases), len(in.Downloads))
				for _, r := range in.RunDownloads {
					fmt.Fprintf(g.stdout, "%s:%d: RUN downloads (%s): with --network proxy, each download must equal a pin\n", text.Visible(r.File), r.Line, text.Visible(strings.Join(r.Tools, ", ")))
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&source, "source", ".", "the source directory")
	cmd.Flags().StringVar(&dockerfile, "dockerfile", "", "the Dockerfile, relative to --source (default the bake target's, else Dockerfile)")
	cmd.Flags().StringArrayVar(&buildArgs, "build-arg", nil, "a build argument K=V, as the release used it; repeatable")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	cmd.Flags().StringVar(&bakeFile, "bake", "", "the project's bake file (docker-bake.hcl), relative to --source: its target's Dockerfile and args count as flags")
	cmd.Flags().StringVar(&bakeTarget, "bake-target", "", "the bake file's target (default \"default\")")
	cmd.Flags().StringArrayVar(&platforms, "platform", nil, "a platform the release is built for (OS/ARCH[/VARIANT]; repeatable): BuildKit's automatic platform ARGs take its values (default: the bake target's, else linux/amd64, and a word that depends on them is refused)")
	cmd.Flags().StringVar(&target, "target", "", "the stage the release builds (default: the bake target's, else the last)")
	cmd.Flags().StringToStringVar(&bakeVars, "bake-var", nil, "a value for one of the bake file's variables, as the release's environment sets it (NAME=VALUE; repeatable); reprover's own environment is never read")
	cmd.Flags().StringVar(&network, "network", "none", "the rebuild's network: none, or proxy (downloads in RUN captured and checked against pins)")
	lim.register(cmd, inputLimits(&inputs)[:2])
	return cmd
}

func parseBuildArgs(kvs []string) (map[string]string, error) {
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--build-arg %q: want KEY=VALUE", kv)
		}
		m[k] = v
	}
	return m, nil
}
