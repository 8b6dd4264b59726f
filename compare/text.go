package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// TextOptions configure WriteText.
type TextOptions struct {
	Color bool // ANSI colours, for a terminal
	// MaxFiles caps the files listed per section (0: 200).
	MaxFiles int
}

// WriteText writes the report for people: grouped by platform, then the
// config, the layers with their instruction, and the merged filesystem.
func (r *Report) WriteText(w io.Writer, o TextOptions) error {
	if o.MaxFiles == 0 {
		o.MaxFiles = 200
	}
	p := &printer{w: w, color: o.Color}
	p.line("%s %s", p.bold("verdict:"), p.verdict(r.Verdict))
	if r.Error != "" {
		p.line("error: %s", r.Error)
	}
	if r.Source != nil {
		p.line("source:    %s @ %s", r.Source.URI, r.Source.Commit)
	}
	if r.A != nil {
		p.line("A:         %s", refLine(r.A))
	}
	if r.B != nil {
		p.line("B:         %s", refLine(r.B))
	}
	if r.Published != nil {
		p.line("published: %s", refLine(r.Published))
	}
	if r.Rebuilt != nil {
		p.line("rebuilt:   %s", r.Rebuilt.Digest)
	}
	if r.SourceDateEpoch != nil {
		p.line("SOURCE_DATE_EPOCH: %d (%s)", *r.SourceDateEpoch, time.Unix(*r.SourceDateEpoch, 0).UTC().Format(time.RFC3339))
	}
	p.build(r.Build)
	if len(r.Encoding) > 0 {
		p.line("encoding differs: %s", strings.Join(r.Encoding, ", "))
	}
	for _, h := range r.Hints {
		p.line("%s %s", p.yellow("hint:"), h)
	}
	for _, pl := range r.Platforms {
		p.line("")
		p.line("%s %s  %s", p.bold("platform"), p.bold(pl.Platform), p.verdict(pl.Verdict))
		if pl.Rebuilt != "" || pl.Published != "" {
			p.line("  manifests: %s → %s", orDash(pl.Rebuilt), orDash(pl.Published))
		}
		for _, n := range pl.Notes {
			p.line("  note: %s", n)
		}
		if len(pl.Encoding) > 0 {
			p.line("  encoding differs: %s", strings.Join(pl.Encoding, ", "))
		}
		if len(pl.Config) > 0 {
			p.line("  config:")
			for _, c := range pl.Config {
				p.line("    %s", c.Field)
				p.line("      %s %s", p.red("-"), compactJSON(c.Rebuilt))
				p.line("      %s %s", p.green("+"), compactJSON(c.Published))
			}
		}
		for _, l := range pl.Layers {
			if l.Verdict == Identical && len(l.Findings) == 0 {
				continue
			}
			p.line("  layer %d  %s  %s", l.Index, p.verdict(l.Verdict), l.Instruction)
			p.line("    %s → %s", orDash(l.Rebuilt), orDash(l.Published))
			if len(l.Encoding) > 0 {
				p.line("    encoding differs: %s", strings.Join(l.Encoding, ", "))
			}
			for _, f := range l.Findings {
				p.line("    %s %s: %s %s", p.yellow("finding"), f.Kind, f.Path, f.Message)
			}
			p.files("    ", l.Files, o.MaxFiles)
		}
		if len(pl.Files) > 0 {
			p.line("  merged filesystem:")
			p.files("    ", pl.Files, o.MaxFiles)
		}
		for _, f := range pl.Findings {
			p.line("  %s %s: %s %s", p.yellow("finding"), f.Kind, f.Path, f.Message)
		}
	}
	return p.err
}

// build prints the hermeticity evidence of a verify report.
func (p *printer) build(b any) {
	if b == nil {
		return
	}
	raw, err := json.Marshal(b)
	if err != nil {
		return
	}
	var m struct {
		BuildKit  string                           `json:"buildkit"`
		Network   string                           `json:"network"`
		Target    string                           `json:"target"`
		BuildArgs map[string]string                `json:"buildArgs"`
		Platforms []string                         `json:"platforms"`
		Bases     []struct{ Ref string }           `json:"bases"`
		Downloads []struct{ URL, Checksum string } `json:"downloads"`
	}
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	p.line("build:     BuildKit %s, network %s, no cache, platforms %s", m.BuildKit, m.Network, strings.Join(m.Platforms, ", "))
	if m.Target != "" {
		p.line("           target %s", m.Target)
	}
	for _, k := range slices.Sorted(maps.Keys(m.BuildArgs)) {
		p.line("           build arg %s=%s", k, m.BuildArgs[k])
	}
	for _, b := range m.Bases {
		p.line("           base %s", b.Ref)
	}
	for _, d := range m.Downloads {
		p.line("           download %s (%s)", d.URL, d.Checksum)
	}
}

type printer struct {
	w     io.Writer
	color bool
	err   error
}

func (p *printer) line(format string, args ...any) {
	if p.err != nil {
		return
	}
	_, p.err = fmt.Fprintf(p.w, format+"\n", args...)
}

func (p *printer) files(indent string, fs []FileChange, maxFiles int) {
	for i, f := range fs {
		if i == maxFiles {
			p.line("%s… and %d more (see --format json)", indent, len(fs)-i)
			return
		}
		switch f.Change {
		case Added:
			p.line("%s%s %s  %s", indent, p.green("+"), f.Path, describe(f.Published))
		case Removed:
			p.line("%s%s %s  %s", indent, p.red("-"), f.Path, describe(f.Rebuilt))
		default:
			p.line("%s%s %s  (%s)", indent, p.yellow("~"), f.Path, strings.Join(f.Aspects, ", "))
			for _, a := range f.Aspects {
				if s := aspectValues(a, f.Rebuilt, f.Published); s != "" {
					p.line("%s    %s: %s", indent, a, s)
				}
			}
		}
		if f.TextDiff != "" {
			for _, l := range strings.Split(strings.TrimSuffix(f.TextDiff, "\n"), "\n") {
				switch {
				case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
					l = p.green(l)
				case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
					l = p.red(l)
				}
				p.line("%s    %s", indent, l)
			}
		}
	}
}

// refLine shows a reference and its digest, once when the reference is
// pinned to it.
func refLine(r *ImageRef) string {
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

func (p *printer) wrap(code, s string) string {
	if !p.color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
func (p *printer) bold(s string) string   { return p.wrap("1", s) }
func (p *printer) red(s string) string    { return p.wrap("31", s) }
func (p *printer) green(s string) string  { return p.wrap("32", s) }
func (p *printer) yellow(s string) string { return p.wrap("33", s) }
func (p *printer) verdict(v string) string {
	switch v {
	case Identical, Reproducible, Equivalent:
		return p.wrap("1;32", v)
	case Different, Mismatch, Error, Added, Removed:
		return p.wrap("1;31", v)
	}
	return v
}
