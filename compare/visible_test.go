package compare_test

import (
	"bytes"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/internal/text/texttest"
)

// TestWritersShowVisible fills every string of a comparison's report
// with escape sequences, C1 and bidi controls and a newline: the text,
// coloured or not, and the page hold none of them (issue 25). The
// hostile case terminal-escapes does the same from an image.
func TestWritersShowVisible(t *testing.T) {
	var rep compare.Report
	texttest.Fill(&rep, texttest.Hostile, 8)
	var plain, colour, page bytes.Buffer
	if err := rep.WriteText(&plain, compare.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteText(&colour, compare.TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	for _, out := range []struct{ name, s string }{
		{"text", plain.String()}, {"coloured text", sgr.ReplaceAllString(colour.String(), "")}, {"page", page.String()},
	} {
		if i := texttest.Hidden(out.s); i >= 0 {
			t.Errorf("the %s holds %q: %s", out.name, out.s[i:i+1], texttest.Around(out.s, i))
		}
	}
}
