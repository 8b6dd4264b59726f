package compare

import (
	"fmt"
	"io"
	"strings"

	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/render"
)

// TextOptions configure the text renderers (render.TextOptions).
type TextOptions = render.TextOptions

// WriteText writes the report for people: grouped by platform, then the
// config, the layers with their instruction ("layer 2 of 3": counted from
// 1, the JSON's index 1), and the merged filesystem.
func (r *Report) WriteText(w io.Writer, o TextOptions) error {
	p := NewText(w, o)
	p.Line("%s %s", p.Bold("verdict:"), p.Verdict(r.Verdict, r.Verdict != Different))
	if r.A != nil {
		p.Line("A:         %s", r.A.String())
	}
	if r.B != nil {
		p.Line("B:         %s", r.B.String())
	}
	p.Comparison(r.Encoding, r.Hints)
	for i := range r.Platforms {
		pl := &r.Platforms[i]
		p.Platform(pl, pl.Verdict, pl.Verdict != Different)
	}
	return p.Err()
}

// Text writes a comparison's parts for people (Comparison, Platform)
// with render.Text's printer. verify's reports use it for the parts they
// share with a comparison.
type Text struct{ *render.Text }

// NewText returns a Text writing to w.
func NewText(w io.Writer, o TextOptions) *Text { return &Text{render.NewText(w, o)} }

// Comparison writes the encoding aspects that differ and the hints.
func (p *Text) Comparison(encoding, hints []string) {
	if len(encoding) > 0 {
		p.Line("encoding differs: %s", strings.Join(encoding, ", "))
	}
	for _, h := range hints {
		p.Line("%s %s", p.Yellow("hint:"), h)
	}
}

// Platform writes one platform's comparison under its verdict (a
// verification names it in its own words); good colours it green.
func (p *Text) Platform(pl *Platform, verdict string, good bool) {
	p.Line("")
	p.Line("%s %s  %s", p.Bold("platform"), p.Bold(pl.Platform), p.Verdict(verdict, good))
	if pl.Rebuilt != "" || pl.Published != "" {
		p.Line("  manifests: %s → %s", orDash(pl.Rebuilt), orDash(pl.Published))
	}
	for _, n := range pl.Notes {
		p.Line("  note: %s", n)
	}
	if len(pl.Encoding) > 0 {
		p.Line("  encoding differs: %s", strings.Join(pl.Encoding, ", "))
	}
	if len(pl.Config) > 0 {
		p.Line("  config:")
		for _, c := range pl.Config {
			p.Line("    %s", c.Field)
			p.Line("      %s %s", p.Red("-"), render.JSON(c.Rebuilt))
			p.Line("      %s %s", p.Green("+"), render.JSON(c.Published))
			if c.Cause != "" && c.Cause != causes.Unknown.ID {
				p.Line("      %s %s: %s", p.Yellow("cause"), c.Cause, c.Evidence)
			}
		}
	}
	// Layers are counted from 1, as people count (the JSON's index is
	// 0-based), out of the image's layers (the larger image's when the two
	// differ in number).
	layers := len(pl.Layers)
	for _, l := range pl.Layers {
		layers = max(layers, l.Index+1)
	}
	if s := skippedRanges(pl.Layers); s != "" {
		p.Line("  %s of %d  %s  %s in both, not read", s, layers, p.Verdict(Identical, true), SkippedSameDigest)
	}
	for _, l := range pl.Layers {
		if l.Verdict == Identical && len(l.Findings) == 0 {
			continue
		}
		p.Line("  layer %d of %d  %s  %s", l.Index+1, layers, p.Verdict(l.Verdict, l.Verdict == Identical || l.Verdict == Equivalent), l.Instruction)
		p.Line("    %s → %s", orDash(l.Rebuilt), orDash(l.Published))
		if len(l.Encoding) > 0 {
			p.Line("    encoding differs: %s", strings.Join(l.Encoding, ", "))
		}
		for _, f := range l.Findings {
			p.Line("    %s %s: %s %s", p.Yellow("finding"), f.Kind, f.Path, f.Message)
		}
		p.files("    ", l.Files)
	}
	if len(pl.Files) > 0 {
		p.Line("  merged filesystem:")
		p.files("    ", pl.Files)
	}
	for _, f := range pl.Findings {
		p.Line("  %s %s: %s %s", p.Yellow("finding"), f.Kind, f.Path, f.Message)
	}
}

// skippedRanges names the layers not read, counted from 1: "layer 1",
// "layers 1-3", "layers 1-2, 4".
func skippedRanges(ls []LayerReport) string {
	var parts []string
	n := 0
	for i := 0; i < len(ls); i++ {
		if ls[i].Skipped == "" {
			continue
		}
		j := i
		for j+1 < len(ls) && ls[j+1].Skipped != "" && ls[j+1].Index == ls[j].Index+1 {
			j++
		}
		if j == i {
			parts = append(parts, fmt.Sprint(ls[i].Index+1))
		} else {
			parts = append(parts, fmt.Sprintf("%d-%d", ls[i].Index+1, ls[j].Index+1))
		}
		n += j - i + 1
		i = j
	}
	switch n {
	case 0:
		return ""
	case 1:
		return "layer " + parts[0]
	}
	return "layers " + strings.Join(parts, ", ")
}

func (p *Text) files(indent string, fs []FileChange) {
	for i, f := range fs {
		if i == p.Options().MaxFiles {
			p.Line("%s… and %d more (see --format json)", indent, len(fs)-i)
			return
		}
		switch f.Change {
		case Added:
			p.Line("%s%s %s  %s", indent, p.Green("+"), f.Path, describe(f.Published))
		case Removed:
			p.Line("%s%s %s  %s", indent, p.Red("-"), f.Path, describe(f.Rebuilt))
		default:
			p.Line("%s%s %s  (%s)", indent, p.Yellow("~"), f.Path, strings.Join(f.Aspects, ", "))
			for _, a := range f.Aspects {
				if s := aspectValues(a, f.Rebuilt, f.Published); s != "" {
					p.Line("%s    %s: %s", indent, a, s)
				}
			}
		}
		if f.TextDiff != "" {
			for _, l := range strings.Split(strings.TrimSuffix(f.TextDiff, "\n"), "\n") {
				v := render.Styled(text.VisibleLines(l)) // a diff's tabs stay
				switch {
				case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
					v = p.Paint("32", v)
				case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
					v = p.Paint("31", v)
				}
				p.Line("%s    %s", indent, v)
			}
		}
		if f.Cause != "" {
			p.Line("%s    %s %s: %s", indent, p.Yellow("cause"), f.Cause, f.Evidence)
		}
		if f.Diffoscope != "" {
			p.Line("%s    diffoscope:", indent)
			for _, l := range strings.Split(strings.TrimSuffix(f.Diffoscope, "\n"), "\n") {
				p.Line("%s      %s", indent, render.Styled(text.VisibleLines(l)))
			}
		}
		if len(f.Inner) > 0 {
			p.Line("%s    inside it:", indent)
			p.files(indent+"      ", f.Inner)
		}
	}
}

// String shows a reference and its digest, once when the reference is
// pinned to it.
func (r *ImageRef) String() string {
	if strings.HasSuffix(r.Ref, "@"+r.Digest) {
		return r.Ref
	}
	return fmt.Sprintf("%s (%s)", r.Ref, r.Digest)
}

func describe(m *FileMeta) string {
	if m == nil {
		return ""
	}
	s := fmt.Sprintf("%s %s %d:%d", m.Type, m.Mode, m.UID, m.GID)
	if m.Type == "file" {
		s += fmt.Sprintf(" %d bytes", m.Size)
	}
	if m.Linkname != "" {
		s += " → " + m.Linkname
	}
	return s
}

func aspectValues(a string, x, y *FileMeta) string {
	if x == nil || y == nil {
		return ""
	}
	switch a {
	case AspContent:
		return shortDigest(x.Digest) + " → " + shortDigest(y.Digest)
	case AspSize:
		return fmt.Sprintf("%d → %d", x.Size, y.Size)
	case AspMode:
		return x.Mode + " → " + y.Mode
	case AspUID:
		return fmt.Sprintf("%d → %d", x.UID, y.UID)
	case AspGID:
		return fmt.Sprintf("%d → %d", x.GID, y.GID)
	case AspType:
		return x.Type + " → " + y.Type
	case AspLinkname:
		return x.Linkname + " → " + y.Linkname
	case AspXattrs:
		return fmt.Sprintf("%s → %s", render.JSON(x.Xattrs), render.JSON(y.Xattrs))
	case AspMtime:
		return x.ModTime.Format("2006-01-02T15:04:05.999999999Z") + " → " + y.ModTime.Format("2006-01-02T15:04:05.999999999Z")
	case AspDevnum:
		return fmt.Sprintf("%d,%d → %d,%d", x.DevMajor, x.DevMinor, y.DevMajor, y.DevMinor)
	case AspCount:
		return fmt.Sprintf("%d → %d entries for this path", max(x.Occurrences, 1), max(y.Occurrences, 1))
	}
	return ""
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	if d == "" {
		return "-"
	}
	return d
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
