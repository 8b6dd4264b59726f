package pkgdb

import (
	"fmt"

	"github.com/reprover/reprover/internal/strictjson"
)

// parsePackageJSON reads an npm package.json for its name and version: a
// JSON object, nested at most maxDepth deep, whose keys are spelled once
// and exactly (internal/strictjson: two "version" keys are an error, not
// a choice). One without a name or a version names no package ("", nil).
func parsePackageJSON(name string, b []byte, maxDepth int) (pkg, version string, err error) {
	var m struct {
		Name    string `json:"name"`
		Version string `json:"version"`
	}
	if err := strictjson.Unmarshal(b, &m, maxDepth); err != nil {
		return "", "", fmt.Errorf("%s: %w", name, err)
	}
	if m.Name == "" || m.Version == "" {
		return "", "", nil // a workspace's own package.json, say
	}
	return m.Name, m.Version, nil
}
