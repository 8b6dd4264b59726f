package builder

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/reprover/reprover/internal/golden"
)

var update = flag.Bool("update", false, "rewrite docs/rules.md")

// TestRulesDoc keeps docs/rules.md generated from Rules.
func TestRulesDoc(t *testing.T) {
	golden.File(t, filepath.Join("..", "docs", "rules.md"), RulesMarkdown(), *update, "go test ./builder -run TestRulesDoc")
}
