package compare

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/internal/text"
)

// TextOptions configure the text renderers.
type TextOptions struct {
	Color bool // ANSI colours, for a terminal
	// MaxFiles caps the files listed per section (0: 200).
	MaxFiles int
}

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

// Text writes reports for people, line by line; the first write error
// stops it and is kept for Err. verify's report uses it for the parts it
// shares with a comparison.
type Text struct {
	w     io.Writer
	o     TextOptions
	color bool
	err   error
}

// NewText returns a Text writing to w.
func NewText(w io.Writer, o TextOptions) *Text {
	if o.MaxFiles == 0 {
		o.MaxFiles = 200
	}
	return &Text{w: w, o: o, color: o.Color}
}

// Err is the first write error.
func (p *Text) Err() error { return p.err }

// Styled is text ready for the terminal: made visible and perhaps
// coloured. Line writes it as it is.
type Styled string

// Line writes one line. The format is the program's; the arguments are
// data, from an image, a provenance or a repository: each string among
// them (a string, an error, a Stringer) is made visible (text.Visible),
// so that it can neither act on the terminal nor start a line, except a
// Styled one.
func (p *Text) Line(format string, args ...any) {
	if p.err != nil {
		return
	}
	vs := make([]any, len(args))
	for i, a := range args {
		vs[i] = visibleArg(a)
	}
	_, p.err = fmt.Fprintf(p.w, format+"\n", vs...)
}

func visibleArg(a any) any {
	switch v := a.(type) {
	case Styled:
		return string(v)
	case string:
		return text.Visible(v)
	case error:
		return text.Visible(v.Error())
	case fmt.Stringer:
		return text.Visible(v.String())
	}
	if v := reflect.ValueOf(a); v.Kind() == reflect.String { // a named string type
		return text.Visible(v.String())
	}
	return a
}

// Comparison writes the encoding aspects that differ and the hints.
func (p *Text) Comparison(encoding, hints []string) {
	if len(encoding) > 0 {
		p.Line("encoding differs: %s", strings.Join(encoding, ", "))
	}
	for _, h := range hints {
		p.Line("%s %s", p.yellow("hint:"), h)
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
			p.Line("      %s %s", p.red("-"), compactJSON(c.Rebuilt))
			p.Line("      %s %s", p.green("+"), compactJSON(c.Published))
			if c.Cause != "" && c.Cause != causes.Unknown.ID {
				p.Line("      %s %s: %s", p.yellow("cause"), c.Cause, c.Evidence)
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
			p.Line("    %s %s: %s %s", p.yellow("finding"), f.Kind, f.Path, f.Message)
		}
		p.files("    ", l.Files)
	}
	if len(pl.Files) > 0 {
		p.Line("  merged filesystem:")
		p.files("    ", pl.Files)
	}
	for _, f := range pl.Findings {
		p.Line("  %s %s: %s %s", p.yellow("finding"), f.Kind, f.Path, f.Message)
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
		if i == p.o.MaxFiles {
			p.Line("%s… and %d more (see --format json)", indent, len(fs)-i)
			return
		}
		switch f.Change {
		case Added:
			p.Line("%s%s %s  %s", indent, p.green("+"), f.Path, describe(f.Published))
		case Removed:
			p.Line("%s%s %s  %s", indent, p.red("-"), f.Path, describe(f.Rebuilt))
		default:
			p.Line("%s%s %s  (%s)", indent, p.yellow("~"), f.Path, strings.Join(f.Aspects, ", "))
			for _, a := range f.Aspects {
				if s := aspectValues(a, f.Rebuilt, f.Published); s != "" {
					p.Line("%s    %s: %s", indent, a, s)
				}
			}
		}
		if f.TextDiff != "" {
			for _, l := range strings.Split(strings.TrimSuffix(f.TextDiff, "\n"), "\n") {
				v := Styled(text.VisibleLines(l)) // a diff's tabs stay
				switch {
				case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
					v = p.paint("32", v)
				case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
					v = p.paint("31", v)
				}
				p.Line("%s    %s", indent, v)
			}
		}
		if f.Cause != "" {
			p.Line("%s    %s %s: %s", indent, p.yellow("cause"), f.Cause, f.Evidence)
		}
		if f.Diffoscope != "" {
			p.Line("%s    diffoscope:", indent)
			for _, l := range strings.Split(strings.TrimSuffix(f.Diffoscope, "\n"), "\n") {
				p.Line("%s      %s", indent, Styled(text.VisibleLines(l)))
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
		return fmt.Sprintf("%s → %s", compactJSON(x.Xattrs), compactJSON(y.Xattrs))
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

// paint colours s with the SGR code.
func (p *Text) paint(code string, s Styled) Styled {
	if !p.color {
		return s
	}
	return "\x1b[" + Styled(code) + "m" + s + "\x1b[0m"
}

// wrap is s made visible and coloured.
func (p *Text) wrap(code, s string) Styled { return p.paint(code, Styled(text.Visible(s))) }

// Bold is s in bold.
func (p *Text) Bold(s string) Styled   { return p.wrap("1", s) }
func (p *Text) red(s string) Styled    { return p.wrap("31", s) }
func (p *Text) green(s string) Styled  { return p.wrap("32", s) }
func (p *Text) yellow(s string) Styled { return p.wrap("33", s) }

// Verdict is a verdict in green (good) or red.
func (p *Text) Verdict(v string, good bool) Styled {
	if good {
		return p.wrap("1;32", v)
	}
	return p.wrap("1;31", v)
}
