package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

var updateDocs = flag.Bool("update", false, "rewrite docs/cli.md")

// TestCLIReference keeps docs/cli.md generated from the commands.
func TestCLIReference(t *testing.T) {
	root := newRoot(&bytes.Buffer{}, &bytes.Buffer{})
	root.DisableAutoGenTag = true
	var b bytes.Buffer
	b.WriteString("# CLI reference\n\n<!-- Generated from the cobra commands by `go test ./cmd/reprover -run TestCLIReference -update`; do not edit. -->\n\n")
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if !c.IsAvailableCommand() && c != root || c.Name() == "help" || c.Name() == "completion" {
			return
		}
		c.DisableAutoGenTag = true
		var one bytes.Buffer
		if err := doc.GenMarkdownCustom(c, &one, func(name string) string {
			return "#" + strings.TrimSuffix(strings.ReplaceAll(name, "_", "-"), ".md")
		}); err != nil {
			t.Fatal(err)
		}
		b.WriteString(one.String())
		b.WriteString("\n")
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	path := filepath.Join("..", "..", "docs", "cli.md")
	if *updateDocs {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Error("docs/cli.md is stale: go test ./cmd/reprover -run TestCLIReference -update")
	}
}
