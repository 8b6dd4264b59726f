package compare_test

import (
	"encoding/xml"
	"fmt"
	"html"
	"io"
	"strings"
	"testing"
	"time"
)

// The bars of the plot: a run, its label and its colour.
var plotRuns = []struct{ run, label, colour string }{
	{"floor-go", "floor (Go gunzip + sha256)", "#b0b0b0"},
	{"floor-igzip", "floor (igzip -dc + sha256)", "#808080"},
	{"go", "reprover --decompressor go", "#4e79a7"},
	{"igzip", "reprover --decompressor igzip", "#f28e2b"},
	{"auto", "reprover (auto, the default)", "#59a14f"},
	{"diffoci", "diffoci --semantic", "#e15759"},
}

// realPlot is an SVG bar chart of the seconds (wall time, best of the
// rounds) each run took on each pair, one group of bars per pair;
// measuredDiffoci says whether diffoci ran (else the plot says it did not).
func realPlot(rs []realResult, measuredDiffoci bool) string {
	const (
		width, left, right = 760, 230, 70
		bar, gap, head     = 18, 4, 34
	)
	var top time.Duration
	rows := 0
	for _, r := range rs {
		rows += len(plotRuns)
		for _, c := range r.costs {
			top = max(top, c.wall)
		}
	}
	height := 30 + len(rs)*head + rows*(bar+gap) + 30
	scale := float64(width-left-right) / max(top.Seconds(), 1e-9)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">Seconds per pair (wall time, best of the rounds; shorter is better)</text>`+"\n")
	y := 30
	for _, r := range rs {
		y += head
		fmt.Fprintf(&b, `<text x="10" y="%d" font-weight="bold">%s: %s, %.0f MiB uncompressed read</text>`+"\n", y-10, html.EscapeString(r.pair), html.EscapeString(r.what), r.mib)
		for _, p := range plotRuns {
			c, ok := r.costs[p.run]
			fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`+"\n", left-6, y+bar-5, html.EscapeString(p.label))
			switch {
			case ok:
				w := c.wall.Seconds() * scale
				fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>`+"\n", left, y, w, bar, p.colour)
				fmt.Fprintf(&b, `<text x="%.1f" y="%d">%.2f s</text>`+"\n", float64(left)+w+4, y+bar-5, c.wall.Seconds())
			case p.run == "diffoci" && !measuredDiffoci:
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#666">not measured: no diffoci binary (REPROVER_DIFFOCI)</text>`+"\n", left+4, y+bar-5)
			default:
				fmt.Fprintf(&b, `<text x="%d" y="%d" fill="#666">not measured</text>`+"\n", left+4, y+bar-5)
			}
			y += bar + gap
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// TestRealPlot: the plot is well-formed XML with a bar per run measured,
// says what was not measured, and escapes what it prints.
func TestRealPlot(t *testing.T) {
	rs := []realResult{
		{pair: "regzipped", what: "re-gzipped <level 9>", mib: 1906, costs: map[string]cost{
			"floor-go": {wall: 4 * time.Second}, "floor-igzip": {wall: 3 * time.Second},
			"go": {wall: 5 * time.Second}, "igzip": {wall: 3500 * time.Millisecond}, "auto": {wall: 3400 * time.Millisecond}}},
		{pair: "one-changed", what: "one changed file", mib: 1210, costs: map[string]cost{
			"floor-go": {wall: 2 * time.Second}, "go": {wall: 3 * time.Second}}},
	}
	svg := realPlot(rs, false)
	d := xml.NewDecoder(strings.NewReader(svg))
	rects := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rect" {
			rects++
		}
	}
	if want := 1 + 5 + 2; rects != want { // the background, then a bar per cost
		t.Errorf("%d rects, want %d", rects, want)
	}
	for _, s := range []string{"3.50 s", "re-gzipped &lt;level 9&gt;", "not measured: no diffoci binary", "not measured</text>"} {
		if !strings.Contains(svg, s) {
			t.Errorf("the plot does not show %q", s)
		}
	}
}
