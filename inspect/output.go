package inspect

import (
	"html/template"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/reprover/reprover/render"
)

// TextOptions configure WriteText.
type TextOptions = render.TextOptions

// WriteText writes the report for people: where the image came from,
// who vouches for it, and what each platform holds, most serious first.
func (r *Report) WriteText(w io.Writer, o render.TextOptions) error {
	p := render.NewText(w, o)
	p.Line("%s %s", p.Bold("image"), r.Image)
	p.Line("digest %s", r.Digest)
	p.Line("")
	p.Line("%s", p.Bold("where it came from"))
	if pv := r.Provenance; pv == nil {
		p.Line("  no provenance")
	} else {
		p.Line("  provenance %s (mode=%s)", pv.PredicateType, pv.Mode)
		if pv.NotAbout != "" {
			p.Line("  %s %s", p.Red("not about this image:"), pv.NotAbout)
		}
		for _, kv := range [][2]string{{"builder", pv.Builder}, {"source", pv.Source}, {"commit", pv.Commit}, {"dockerfile", pv.Dockerfile}, {"target", pv.Target}} {
			if kv[1] != "" {
				p.Line("  %s %s", kv[0], kv[1])
			}
		}
		for _, k := range sortedLabelKeys(pv.Args) {
			p.Line("  build-arg %s=%s", k, pv.Args[k])
		}
		for _, b := range pv.Bases {
			p.Line("  base %s %s", b.Name, b.Digest)
		}
		for _, d := range pv.Downloads {
			pin := p.Green("pinned")
			if !d.Pinned {
				pin = p.Yellow("not pinned")
			}
			p.Line("  download %s %s", d.URL, pin)
		}
	}
	p.Line("")
	p.Line("%s", p.Bold("who vouches"))
	if len(r.Verdicts) == 0 {
		p.Line("  no reprover verdict attached")
	}
	for _, v := range r.Verdicts {
		state := "not checked"
		if v.Checked {
			state = "checked"
		}
		line := p.Verdict(v.Result, v.Result == "PASSED")
		if v.Why != "" {
			p.Line("  %s %s, key %s: %s", line, state, v.Key, v.Why)
		} else {
			p.Line("  %s %s, key %s", line, state, v.Key)
		}
	}
	if v := r.Vouched; v != nil {
		p.Line("  %s %s", p.Verdict(map[bool]string{true: "VOUCHED", false: "NOT VOUCHED"}[v.Passed], v.Passed), v.Reason)
	}
	for _, ref := range r.Referrers {
		p.Line("  %s %s (%s)", ref.ArtifactType, ref.Digest, ref.Where)
	}
	if r.Kit != "" {
		p.Line("  kit %s", r.Kit)
	}
	for _, n := range r.Notes {
		p.Line("  %s", n)
	}
	for _, pl := range r.Platforms {
		p.Line("")
		user := pl.User
		if user == "" {
			user = "root (no USER)"
		}
		p.Line("%s %s, user %s", p.Bold("platform"), pl.Platform, user)
		for i, l := range pl.Layers {
			at := ""
			if l.Dockerfile != "" {
				at = " (" + l.Dockerfile + ")"
			}
			p.Line("  layer %d %s %d bytes, %d files: %s%s", i+1, l.Digest, l.Size, l.Files, l.Instruction, at)
		}
		if len(pl.Findings) == 0 {
			p.Line("  %s", p.Green("no findings"))
		}
		for _, f := range pl.Findings {
			where := f.Path
			if f.Layer > 0 {
				where = strings.TrimSpace(where + " (layer " + itoa(f.Layer) + ")")
			}
			if where != "" {
				where = " " + where
			}
			p.Line("  %s %s%s: %s", severityStyled(p, f.Severity), f.Check, where, f.Evidence)
			p.Line("      fix: %s", f.Fix)
		}
		s := pl.Scanned
		p.Line("  scanned for secrets: %d files, %d bytes; not scanned: %d too large, %d over budget, %d not text", s.Files, s.Bytes, s.TooLarge, s.OverBudget, s.Binary)
	}
	return p.Err()
}

func severityStyled(p *render.Text, s Severity) render.Styled {
	switch s {
	case High:
		return p.Red(string(s))
	case Medium:
		return p.Yellow(string(s))
	}
	return p.Bold(string(s))
}

func itoa(n int) string {
	var b []byte
	for n > 0 || len(b) == 0 {
		b = append(b, byte('0'+n%10))
		n /= 10
	}
	slices.Reverse(b)
	return string(b)
}

var pageOnce = sync.OnceValues(func() (*template.Template, error) { return render.Page("inspect", pageDefs) })

// WriteHTML writes the report as a self-contained page.
func (r *Report) WriteHTML(w io.Writer) error {
	t, err := pageOnce()
	if err != nil {
		return err
	}
	return t.Execute(w, r)
}

// WriteHTMLSection writes the report as a part of a page (its sections,
// without the page's head): for a page that shows it among other things
// (the service's image page).
func (r *Report) WriteHTMLSection(w io.Writer) error {
	t, err := pageOnce()
	if err != nil {
		return err
	}
	return t.ExecuteTemplate(w, "report", r)
}

const pageDefs = `{{define "title"}}inspect {{visible .Image}}{{end}}
{{define "body"}}<h1>Can I trust {{visible .Image}}?</h1>{{template "report" .}}{{end}}
{{define "report"}}<p>digest <code>{{visible .Digest}}</code></p>
<h2>Where it came from</h2>
{{with .Provenance}}<table>
<tr><th>provenance</th><td>{{visible .PredicateType}} (mode={{visible .Mode}})</td></tr>
{{if .NotAbout}}<tr><th>not about this image</th><td class="v-error">{{visible .NotAbout}}</td></tr>{{end}}
{{if .Builder}}<tr><th>builder</th><td><code>{{visible .Builder}}</code></td></tr>{{end}}
{{if .Source}}<tr><th>source</th><td><code>{{visible .Source}}</code></td></tr>{{end}}
{{if .Commit}}<tr><th>commit</th><td><code>{{visible .Commit}}</code></td></tr>{{end}}
{{if .Dockerfile}}<tr><th>Dockerfile</th><td><code>{{visible .Dockerfile}}</code></td></tr>{{end}}
{{if .Target}}<tr><th>target</th><td><code>{{visible .Target}}</code></td></tr>{{end}}
{{range $k, $v := .Args}}<tr><th>build-arg {{visible $k}}</th><td><code>{{visible $v}}</code></td></tr>{{end}}
{{range .Bases}}<tr><th>base</th><td><code>{{visible .Name}}</code> {{visible .Digest}}</td></tr>{{end}}
{{range .Downloads}}<tr><th>download</th><td><code>{{visible .URL}}</code> {{if .Pinned}}pinned{{else}}<span class="v-different">not pinned</span>{{end}}</td></tr>{{end}}
</table>{{else}}<p class="v-different">No provenance.</p>{{end}}
<h2>Who vouches</h2>
{{if not .Verdicts}}<p>No reprover verdict attached.</p>{{end}}
<ul>{{range .Verdicts}}<li><b class="{{if eq .Result "PASSED"}}v-identical{{else}}v-different{{end}}">{{visible .Result}}</b> {{if .Checked}}checked{{else}}not checked{{end}}, key <code>{{visible .Key}}</code>{{if .Why}}: {{visible .Why}}{{end}}</li>{{end}}
{{with .Vouched}}<li><b class="{{if .Passed}}v-identical{{else}}v-different{{end}}">{{if .Passed}}VOUCHED{{else}}NOT VOUCHED{{end}}</b> {{visible .Reason}}</li>{{end}}
{{range .Referrers}}<li>{{visible .ArtifactType}} <code>{{visible .Digest}}</code> ({{visible .Where}})</li>{{end}}
{{if .Kit}}<li>kit <code>{{visible .Kit}}</code></li>{{end}}
{{range .Notes}}<li>{{visible .}}</li>{{end}}</ul>
{{range .Platforms}}<h2>{{visible .Platform}}: user {{if .User}}{{visible .User}}{{else}}root (no USER){{end}}</h2>
<table><tr><th>severity</th><th>check</th><th>path</th><th>layer</th><th>evidence</th><th>fix</th></tr>
{{range .Findings}}<tr><td>{{visible (print .Severity)}}</td><td>{{visible .Check}}</td><td><code>{{visible .Path}}</code></td><td>{{if .Layer}}{{.Layer}}{{end}}</td><td>{{visible .Evidence}}</td><td>{{visible .Fix}}</td></tr>{{end}}
</table>
<h3>Layers</h3><table><tr><th>#</th><th>digest</th><th>size</th><th>files</th><th>instruction</th></tr>
{{range $i, $l := .Layers}}<tr><td>{{inc $i}}</td><td><code>{{visible $l.Digest}}</code></td><td>{{$l.Size}}</td><td>{{$l.Files}}</td><td><code>{{visible $l.Instruction}}</code>{{with $l.Dockerfile}} ({{visible .}}){{end}}</td></tr>{{end}}
</table>{{end}}{{end}}
`
