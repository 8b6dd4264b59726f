package inspect

import (
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/inspect.md")

// TestInspectDoc keeps docs/inspect.md generated from Checks.
func TestInspectDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "inspect.md")
	got := Markdown()
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Errorf("docs/inspect.md is stale: run go test ./inspect -run TestInspectDoc -update")
	}
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
