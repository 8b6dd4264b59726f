package compare_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/reprover/reprover/compare"
)

// TestHTMLSides: the config table's columns are named as the report names
// its sides ("A" and "B" for a comparison, what HTMLPage is given for
// others), and long values in its cells may wrap (a rootfs.diff_ids row
// once ran off the page's right edge).
func TestHTMLSides(t *testing.T) {
	ids := json.RawMessage(`["sha256:` + strings.Repeat("0", 64) + `"]`)
	rep := &compare.Report{Verdict: compare.Different, Platforms: []compare.Platform{{Platform: "linux/amd64", Verdict: compare.Different,
		Config: []compare.FieldChange{{Field: "rootfs.diff_ids", Rebuilt: ids, Published: ids}}}}}
	verifyPage, err := compare.HTMLPage(`<p>what was verified</p>`, "rebuilt", "published")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer) error
		want  string
	}{
		{"comparison", func(b *bytes.Buffer) error { return rep.WriteHTML(b) }, "<th>field</th><th>A</th><th>B</th>"},
		{"verification", func(b *bytes.Buffer) error { return verifyPage.Execute(b, rep) }, "<th>field</th><th>rebuilt</th><th>published</th>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var page bytes.Buffer
			if err := tc.write(&page); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{tc.want, "td code{overflow-wrap:anywhere}"} {
				if !strings.Contains(page.String(), want) {
					t.Errorf("the page lacks %q:\n%s", want, page.String())
				}
			}
		})
	}
}
