package compare

import (
	"html/template"
	"io"
	"strconv"

	"github.com/reprover/reprover/render"
)

// htmlPage is the self-contained report page (render.Page). Every string
// it shows is passed through visible (or visibleLines, for a diff), as
// the text report's are (text.Visible). Its "summary" block says what was
// compared and "sideA" and "sideB" name the sides; a verification's page
// (verify.Report.WriteHTML) redefines them (HTMLPage) and reuses the
// rest, which reads only fields both reports have (Verdict, Encoding,
// Hints, Platforms).
var htmlPage = template.Must(newPage())

// newPage parses the page: HTMLPage makes a page of its own, which it
// may do after htmlPage ran (a template cannot be cloned then).
func newPage() (*template.Template, error) {
	return render.Page("report", `{{define "title"}}reprover: {{.Verdict | visible}}{{end}}
{{define "sideA"}}A{{end}}{{define "sideB"}}B{{end}}
{{define "body"}}<h1>verdict: <span class="v-{{.Verdict | visible}}">{{.Verdict | visible}}</span></h1>
{{range $p := .Platforms}}{{with $p.Packages}}<h2>packages changed{{if gt (len $.Platforms) 1}} ({{$p.Platform | visible}}){{end}}</h2>
<table><tr><th>package</th><th>{{template "sideA"}}</th><th>{{template "sideB"}}</th><th>download</th></tr>
{{range .}}<tr><td><code>{{.Name | visible}}</code> ({{.Ecosystem | visible}}{{with .Arch}}, {{. | visible}}{{end}}{{with .Where}}, in <code>{{. | visible}}</code>{{end}})</td><td>{{.Rebuilt | visible}}</td><td>{{.Published | visible}}</td><td>{{range .Downloads}}<div><a href="{{.URL | visible}}">{{.URL | visible}}</a> {{.State | visible}}{{with .SHA256}}: <code>sha256:{{. | visible}}</code>{{end}}{{with .Pinned}}, the release got <code>sha256:{{. | visible}}</code>{{end}}</div>{{end}}</td></tr>{{end}}</table>
{{end}}{{end}}{{range $p := .Platforms}}{{with $p.Causes}}<h2>why: the causes of the differences{{if gt (len $.Platforms) 1}} ({{$p.Platform | visible}}){{end}}</h2>
<table><tr><th>cause</th><th>differences</th><th>for example</th><th>fix</th></tr>
{{range .}}<tr><td><a href="{{.Doc | visible}}">{{.Title | visible}}</a></td><td>{{.Count}}</td><td>{{range .Paths}}<code>{{. | visible}}</code> {{end}}</td><td>{{.Fix | visible}}</td></tr>{{end}}</table>{{end}}{{end}}
{{block "summary" .}}{{with .A}}<p>A: {{.Ref | visible}} <code>{{.Digest | visible}}</code></p>{{end}}{{with .B}}<p>B: {{.Ref | visible}} <code>{{.Digest | visible}}</code></p>{{end}}
{{end}}{{with .Hints}}<ul>{{range .}}<li>{{. | visible}}</li>{{end}}</ul>{{end}}
{{range .Platforms}}<h2>{{.Platform | visible}} <span class="v-{{.Verdict | visible}}">{{.Verdict | visible}}</span></h2>
{{with .Encoding}}<p>encoding differs: {{join . | visible}}</p>{{end}}
{{with .Config}}<h3>config</h3><table><tr><th>field</th><th>{{template "sideA"}}</th><th>{{template "sideB"}}</th></tr>
{{range .}}<tr><td>{{.Field | visible}}</td><td><code>{{json .Rebuilt | visible}}</code></td><td><code>{{json .Published | visible}}</code></td></tr>{{end}}</table>{{end}}
<h3>layers</h3><table><tr><th>layer</th><th>verdict</th><th>instruction</th><th>changes</th></tr>
{{range .Layers}}<tr><td title="index {{.Index}}">{{inc .Index}}</td><td class="v-{{.Verdict | visible}}">{{.Verdict | visible}}{{with .Skipped}} ({{. | visible}}, not read){{end}}</td><td><code>{{.Instruction | visible}}</code></td>
<td>{{range .Files}}<div>{{.Change | visible}} <code>{{.Path | visible}}</code> {{join .Aspects | visible}}{{with .Cause}} <em>cause: {{. | visible}}</em>{{end}}</div>{{end}}{{range .Findings}}<div>finding {{.Kind | visible}} <code>{{.Path | visible}}</code>: {{.Message | visible}}</div>{{end}}</td></tr>{{end}}</table>
{{with .Files}}<h3>merged filesystem</h3>{{range .}}{{template "file" .}}{{end}}{{end}}
{{end}}{{end}}
{{define "file"}}<h4>{{.Change | visible}} <code>{{.Path | visible}}</code> {{join .Aspects | visible}}</h4>{{with .Cause}}<p>cause <a href="https://github.com/reprover/reprover/blob/main/docs/causes.md#{{. | visible}}">{{. | visible}}</a>: {{$.Evidence | visible}}</p>{{end}}{{with .TextDiff}}<pre>{{. | visibleLines}}</pre>{{end}}{{with .Diffoscope}}<p>diffoscope:</p><pre>{{. | visibleLines}}</pre>{{end}}{{with .Inner}}<div style="margin-left:2em"><p>inside it:</p>{{range .}}{{template "file" .}}{{end}}</div>{{end}}{{end}}
`)
}

// WriteHTML writes the report as one self-contained page.
func (r *Report) WriteHTML(w io.Writer) error { return htmlPage.Execute(w, r) }

// HTMLPage is the report page with its "summary" block (what was
// compared, under the verdict) defined by summary, and its sides named
// nameA and nameB (as the report names them: "rebuilt" and "published"),
// for reports that hold a comparison: data given to it needs Verdict,
// Hints and Platforms, each platform a Verdict and the fields of a
// Platform. The summary shows its strings through visible and
// visibleLines, as the page does.
func HTMLPage(summary, nameA, nameB string) (*template.Template, error) {
	t, err := newPage()
	if err != nil {
		return nil, err
	}
	for _, d := range []struct{ name, text string }{
		{"summary", summary},
		{"sideA", "{{" + strconv.Quote(nameA) + "}}"},
		{"sideB", "{{" + strconv.Quote(nameB) + "}}"},
	} {
		if _, err := t.New(d.name).Parse(d.text); err != nil {
			return nil, err
		}
	}
	return t, nil
}
