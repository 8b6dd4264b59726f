package verify_test

import (
	"bytes"
	"io"
	"regexp"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/internal/text/texttest"
	"github.com/reprover/reprover/verify"
)

// TestWritersShowVisible fills every string of a verification's and a
// build-twice's report (the request, the provenance, the build evidence,
// the comparison) with escape sequences, C1 and bidi controls and a
// newline: the text, coloured or not, and the page hold none of them
// (issue 25).
func TestWritersShowVisible(t *testing.T) {
	sgr := regexp.MustCompile(`\x1b\[[0-9;]*m`) // the text's own colours
	for _, c := range []struct {
		name   string
		report interface {
			WriteText(io.Writer, compare.TextOptions) error
			WriteHTML(io.Writer) error
		}
	}{
		{"verification", filled(&verify.Report{})},
		{"twice", filled(&verify.TwiceReport{})},
	} {
		t.Run(c.name, func(t *testing.T) {
			var plain, colour, page bytes.Buffer
			if err := c.report.WriteText(&plain, compare.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := c.report.WriteText(&colour, compare.TextOptions{Color: true}); err != nil {
				t.Fatal(err)
			}
			if err := c.report.WriteHTML(&page); err != nil {
				t.Fatal(err)
			}
			for _, out := range []struct{ name, s string }{
				{"text", plain.String()}, {"coloured text", sgr.ReplaceAllString(colour.String(), "")}, {"page", page.String()},
			} {
				if i := texttest.Hidden(out.s); i >= 0 {
					t.Errorf("the %s holds %q: %s", out.name, out.s[i:i+1], texttest.Around(out.s, i))
				}
			}
		})
	}
}

// filled is r with every string hostile, four types deep (a file
// inside a file inside a file).
func filled[T any](r *T) *T {
	texttest.Fill(r, texttest.Hostile, 8)
	return r
}
