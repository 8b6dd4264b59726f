package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/bake"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/inspect"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

// limitFlags is --limit NAME=VALUE, repeatable: any limit of the packages
// a command reads untrusted input through, named as docs/cli.md's table
// of limits names it (package.Field). Every limit is overridable this
// way; the --max-* flags of diff and verify are the common few by name.
type limitFlags struct {
	given  []string
	fields []limits.Field
}

// limitsOf are the limits of one package's Limits struct, bound to *l.
// A Limits field without a `limit` tag is a bug TestLimitsDoc catches.
func limitsOf[L any](pkg string, l *L, d L) []limits.Field {
	fs, err := limits.Fields(pkg, l, d)
	if err != nil {
		panic(err)
	}
	return fs
}

// inputLimits are the limits of what verify reads from the source.
func inputLimits(l *verify.InputLimits) [][]limits.Field {
	return [][]limits.Field{
		limitsOf("bake", &l.Bake, bake.DefaultLimits),
		limitsOf("check", &l.Check, builder.DefaultCheckLimits),
		limitsOf("lock", &l.Lock, pins.DefaultLimits),
	}
}

// imageLimits are the limits of opening and comparing images.
func imageLimits(f *imageFlags) [][]limits.Field {
	return [][]limits.Field{
		limitsOf("image", &f.limits, image.DefaultLimits),
		limitsOf("compare", &f.climits, compare.DefaultLimits),
	}
}

// kitLimits are the limits of making and reading kits.
func kitLimits(l *kit.Limits) [][]limits.Field {
	return [][]limits.Field{limitsOf("kit", l, kit.DefaultLimits)}
}

// attestLimits are the limits of reading envelopes.
func attestLimits(l *attest.Limits) [][]limits.Field {
	return [][]limits.Field{limitsOf("attest", l, attest.DefaultLimits)}
}

func (f *limitFlags) register(cmd *cobra.Command, groups ...[][]limits.Field) {
	for _, g := range groups {
		for _, fs := range g {
			f.fields = append(f.fields, fs...)
		}
	}
	var names []string
	for _, fs := range f.fields {
		if p, _, _ := strings.Cut(fs.Name, "."); !slices.Contains(names, p) {
			names = append(names, p)
		}
	}
	cmd.Flags().StringArrayVar(&f.given, "limit", nil, "set a limit, NAME=VALUE (e.g. bake.MaxDepth=64, compare.MaxLayerBytes=64GiB, check.AddLookupDeadline=30s); this command's are those of "+strings.Join(names, ", ")+" in docs/cli.md's table of limits; repeatable")
}

// apply sets each limit given, after the other flags (a --limit wins over
// a --max-* flag of the same limit).
func (f *limitFlags) apply() error {
	for _, g := range f.given {
		name, value, ok := strings.Cut(g, "=")
		if !ok {
			return fmt.Errorf("--limit %q: want NAME=VALUE", g)
		}
		i := slices.IndexFunc(f.fields, func(fs limits.Field) bool { return fs.Name == name })
		if i < 0 {
			return fmt.Errorf("--limit %s: not a limit of this command (see docs/cli.md's table of limits)", name)
		}
		if err := f.fields[i].Set(value); err != nil {
			return fmt.Errorf("--limit: %w", err)
		}
	}
	return nil
}

// allLimits are every limit a command takes, in the order docs/cli.md's
// table lists them (bound to throwaway values: for the docs only).
func allLimits() [][]limits.Field {
	var f imageFlags
	var in verify.InputLimits
	var a attest.Limits
	var k kit.Limits
	var il inspect.Limits
	return slices.Concat(imageLimits(&f), inputLimits(&in), attestLimits(&a), kitLimits(&k), inspectLimits(&f.limits, &il)[1:])
}

// limitsDoc is docs/cli.md's table of limits: every limit, its default
// and what it bounds, as the code's own Limits structs say.
func limitsDoc() string {
	var b strings.Builder
	b.WriteString("## Limits\n\nEvery input reprover reads may be hostile, so every read is bounded by a named limit. A command's\n`--limit NAME=VALUE` (repeatable) sets any of the limits of the packages it reads through (its help\nnames them); a whole number takes a KiB, MiB or GiB suffix, a time a Go duration (`30s`). A limit\nexceeded is an error naming it (exit 2).\n\n| limit | default | what it bounds |\n| --- | --- | --- |\n")
	for _, g := range allLimits() {
		for _, f := range g {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f.Name, f.Default, f.Doc)
		}
	}
	return b.String()
}
