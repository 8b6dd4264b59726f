package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"golang.org/x/term"
)

// globals are the flags every command shares.
type globals struct {
	v        *viper.Viper
	stdout   io.Writer
	stderr   io.Writer
	logLevel string
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{v: viper.New(), stdout: stdout, stderr: stderr}
	g.v.SetEnvPrefix("REPROVER")
	g.v.SetEnvKeyReplacer(strings.NewReplacer("-", "_", ".", "_"))
	g.v.AutomaticEnv()
	root := &cobra.Command{
		Use:           "reprover",
		Short:         "Rebuild container images from source and prove what they hold",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "warn", "log level on stderr: debug, info, warn, error")
	root.AddCommand(newDiffCmd(g), newCheckCmd(g), newVerifyCmd(g), newTwiceCmd(g), newLockCmd(g), newKitCmd(g), newKeygenCmd(g), newAttestCmd(g), newServeCmd(g), newDoctorCmd(g))
	root.AddCommand(newInspectCmd(g))
	return root
}

var version = "dev"

func (g *globals) logger() *slog.Logger {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(g.logLevel)); err != nil {
		lvl = slog.LevelWarn
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: lvl}))
}

// isTerminal reports whether w is a terminal (colour only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == ""
}

// withUsage adds the command's usage line to an argument-count error, so
// the person sees what the command takes.
func withUsage(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w\nusage: %s", err, cmd.UseLine())
		}
		return nil
	}
}
