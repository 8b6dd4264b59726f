package main

import (
	"bytes"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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
	b.WriteString(limitsDoc())
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

// TestLimitFlag: --limit sets any limit of the packages a command reads
// through, and the command then applies it: a bake file deeper than a
// lowered bake.MaxDepth, a Dockerfile larger than a lowered
// check.MaxDockerfileBytes, each refused naming the limit; a name the
// command does not take and a value that is not a number are refused
// before anything is read.
func TestLimitFlag(t *testing.T) {
	dir := t.TempDir()
	df := "FROM busybox@sha256:" + strings.Repeat("a", 64) + "\nRUN true\n"
	bakeFile := "target \"default\" {\n  dockerfile = \"Dockerfile\"\n  args = { A = \"1\" }\n}\n"
	for name, body := range map[string]string{"Dockerfile": df, "docker-bake.hcl": bakeFile} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		args []string
		code int
		say  string
	}{
		{"defaults: hermetic", []string{"check", "--source", dir}, 0, ""},
		{"bake file deeper than bake.MaxDepth", []string{"check", "--source", dir, "--bake", "docker-bake.hcl", "--limit", "bake.MaxDepth=1"}, 2, "deeper than 1"},
		{"Dockerfile larger than check.MaxDockerfileBytes", []string{"check", "--source", dir, "--limit", "check.MaxDockerfileBytes=10"}, 2, "exceeds limit MaxDockerfileBytes=10"},
		{"a limit of another command", []string{"check", "--source", dir, "--limit", "compare.MaxEntries=5"}, 2, "--limit compare.MaxEntries: not a limit of this command"},
		{"not a number", []string{"check", "--source", dir, "--limit", "check.MaxAddHosts=lots"}, 2, `check.MaxAddHosts: "lots" is not a positive whole number`},
		{"no value", []string{"check", "--source", dir, "--limit", "check.MaxAddHosts"}, 2, "want NAME=VALUE"},
		{"diff takes compare's", []string{"diff", "oci:" + dir + "/none-a", "oci:" + dir + "/none-b", "--limit", "bake.MaxDepth=3"}, 2, "--limit bake.MaxDepth: not a limit of this command"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := cli(t, c.args...)
			if code != c.code || !strings.Contains(stderr, c.say) {
				t.Fatalf("exit %d, stderr %q; want exit %d saying %q", code, stderr, c.code, c.say)
			}
		})
	}
}

// TestLimitsCovered: every package's Limits struct is in docs/cli.md's
// table (allLimits), or is named here with the table's rows that carry
// its fields, so a new package's limits cannot be left out.
func TestLimitsCovered(t *testing.T) {
	carried := map[string]string{
		"layer.Limits":        "compare.Limits (compare passes them to each walk)",
		"archive.Limits":      "compare.Limits (the MaxArchive* rows)",
		"verify.InputLimits":  "bake.Limits, builder.CheckLimits, pins.Limits and kit.Limits (the bake., check., lock. and kit. rows)",
		"builder.CheckLimits": "the check. rows",
		"image.Limits":        "the image. rows",
		"compare.Limits":      "the compare. rows",
		"bake.Limits":         "the bake. rows",
		"pins.Limits":         "the lock. rows",
		"attest.Limits":       "the attest. rows",
		"kit.Limits":          "the kit. rows",
		"inspect.Limits":      "the inspect. rows",
		"pkgdb.Limits":        "compare.Limits (the MaxPackage* rows)",
	}
	re := regexp.MustCompile(`(?m)^type ((?:[A-Z]\w*)?Limits) struct`)
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "fixtures" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			name := filepath.Base(filepath.Dir(path)) + "." + m[1]
			if _, ok := carried[name]; !ok {
				t.Errorf("%s (%s) is in no row of docs/cli.md's table of limits: add it to allLimits, with a `limit` tag on each field", name, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
