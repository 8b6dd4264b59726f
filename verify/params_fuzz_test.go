package verify

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/provenance"
)

// FuzzProvenanceParams: whatever a publisher writes in its provenance, what
// reaches a rebuild from it is only what builder.Params passes: no refused
// or ignored build argument, no frontend chosen by the provenance, no
// attribute but a passed one. Seeded with BuildKit's own statements.
func FuzzProvenanceParams(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "provenance", "testdata", "*.json"))
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"externalParameters":{"request":{"frontend":"dockerfile.v0","args":{"build-arg:BUILDKIT_SYNTAX":"evil:latest","context:x":"docker-image://evil","label:a":"b","build-arg:BUILDKIT_CACHE_MOUNT_NS":"x","build-arg:TARGETOS":"x"},"secrets":[{"id":"s"}],"inputs":{"x":{}}}}}}}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := provenance.Read(raw)
		if err != nil {
			return
		}
		j, err := judgeProvenance(b)
		if err != nil {
			return
		}
		for k := range j.Attrs {
			if p := builder.Lookup(k); p.Action != builder.Passed || strings.HasPrefix(k, "build-arg:") {
				t.Fatalf("attribute %q passed, its row is %+v", k, p)
			}
		}
		if _, err := builder.CheckBuildArgs(j.BuildArgs, FromProvenance); err != nil {
			return // refused where the rebuild would use them (Check, Build)
		}
		for name := range j.BuildArgs {
			if a := builder.BuildArgParam(name).Action; a != builder.Passed && a != builder.Pinned {
				t.Fatalf("build arg %q kept for the rebuild, its action is %s", name, a)
			}
		}
	})
}
