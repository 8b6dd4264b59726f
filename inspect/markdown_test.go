package inspect

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/reprover/reprover/internal/golden"
)

var update = flag.Bool("update", false, "rewrite docs/inspect.md")

// TestInspectDoc keeps docs/inspect.md generated from Checks.
func TestInspectDoc(t *testing.T) {
	golden.File(t, filepath.Join("..", "docs", "inspect.md"), Markdown(), *update, "go test ./inspect -run TestInspectDoc")
}

// TestChecksTable: every check has a unique name, a known severity, a
// meaning and a fix.
func TestChecksTable(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Checks {
		if seen[c.Name] {
			t.Errorf("check %s twice", c.Name)
		}
		seen[c.Name] = true
		if c.Severity.Rank() == 0 || c.What == "" || c.Fix == "" {
			t.Errorf("check %s: severity %q, what %q, fix %q", c.Name, c.Severity, c.What, c.Fix)
		}
	}
}
