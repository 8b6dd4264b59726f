package verify_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/verify"
)

// TestCheckBakeParams: what the project's bake file gives a build is judged
// by builder.Params as a provenance's request is: an unpinned
// BUILDKIT_SYNTAX is the rule build-parameter (check once called it
// hermetic), a pinned one names the frontend, and a named context is
// refused.
func TestCheckBakeParams(t *testing.T) {
	const pinned = "registry.example/frontend@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct {
		name, bake string
		violation  string // a part of the one violation; "" for none
		frontend   string
		err        string // a part of the error; "" for none
	}{
		{name: "unpinned frontend", bake: `target "default" {
  args = { BUILDKIT_SYNTAX = "registry.example/evil-frontend:latest" }
}
`, violation: "build-parameter: build arg BUILDKIT_SYNTAX", frontend: "registry.example/evil-frontend:latest"},
		{name: "pinned frontend", bake: `target "default" {
  args = { BUILDKIT_SYNTAX = "` + pinned + `" }
}
`, frontend: pinned},
		{name: "unknown reserved argument", bake: `target "default" {
  args = { BUILDKIT_FUTURE = "1" }
}
`, violation: "build-parameter: build arg BUILDKIT_FUTURE"},
		{name: "named context", bake: `target "default" {
  contexts = { base = "docker-image://registry.example/evil:latest" }
}
`, err: `build parameter context:base="docker-image://registry.example/evil:latest" (from the bake file docker-bake.hcl, target default): a named context replaces`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range map[string]string{"Dockerfile": "FROM scratch\nCOPY app.txt /app/\n", "app.txt": "x\n", "docker-bake.hcl": c.bake} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			res, err := verify.Check(t.Context(), verify.CheckRequest{Dir: dir, Bake: "docker-bake.hcl"})
			if c.err != "" {
				var pe *builder.ParamError
				if err == nil || !strings.Contains(err.Error(), c.err) || !errors.As(err, &pe) {
					t.Fatalf("error %v, want a ParamError with %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if len(res.Violations) > 0 {
				got = res.Violations.Error()
			}
			if (c.violation == "") != (got == "") || !strings.Contains(got, c.violation) {
				t.Errorf("violations %q, want %q", got, c.violation)
			}
			if res.Inputs.Frontend != c.frontend {
				t.Errorf("frontend %q, want %q", res.Inputs.Frontend, c.frontend)
			}
		})
	}
}
