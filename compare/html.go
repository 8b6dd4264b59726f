package compare

import (
	"encoding/json"
	"html/template"
	"io"
	"strings"

	"github.com/reprover/reprover/internal/text"
)

// htmlPage is the self-contained report page. Every string it shows is
// passed through visible (or visibleLines, for a diff), as the text
// report's are (text.Visible). Its "summary" block says
// what was compared; a verification's page (verify.Report.WriteHTML)
// redefines it and reuses the rest, which reads only fields both reports
// have (Verdict, Encoding, Hints, Platforms).
var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"join": func(s []string) string { return strings.Join(s, ", ") },
	"json": compactJSON,
	"inc":  func(i int) int { return i + 1 }, // layers counted from 1
	"indent": func(v any) string {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return ""
		}
		return string(b)
	},
}).Funcs(text.TemplateFuncs()).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reprover: {{.Verdict | visible}}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:80em}pre{background:#f6f6f6;padding:.5em;overflow:auto}
.v-identical,.v-reproducible,.v-equivalent{color:#17692b}.v-different,.v-mismatch,.v-error,.v-added,.v-removed{color:#b00020}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}</style></head>
<body><h1>verdict: <span class="v-{{.Verdict | visible}}">{{.Verdict | visible}}</span></h1>
{{range $p := .Platforms}}{{with $p.Causes}}<h2>why: the causes of the differences{{if gt (len $.Platforms) 1}} ({{$p.Platform | visible}}){{end}}</h2>
<table><tr><th>cause</th><th>differences</th><th>for example</th><th>fix</th></tr>
{{range .}}<tr><td><a href="{{.Doc | visible}}">{{.Title | visible}}</a></td><td>{{.Count}}</td><td>{{range .Paths}}<code>{{. | visible}}</code> {{end}}</td><td>{{.Fix | visible}}</td></tr>{{end}}</table>{{end}}{{end}}
{{block "summary" .}}{{with .A}}<p>A: {{.Ref | visible}} <code>{{.Digest | visible}}</code></p>{{end}}{{with .B}}<p>B: {{.Ref | visible}} <code>{{.Digest | visible}}</code></p>{{end}}
{{end}}{{with .Hints}}<ul>{{range .}}<li>{{. | visible}}</li>{{end}}</ul>{{end}}
{{range .Platforms}}<h2>{{.Platform | visible}} <span class="v-{{.Verdict | visible}}">{{.Verdict | visible}}</span></h2>
{{with .Encoding}}<p>encoding differs: {{join . | visible}}</p>{{end}}
{{with .Config}}<h3>config</h3><table><tr><th>field</th><th>rebuilt / A</th><th>published / B</th></tr>
{{range .}}<tr><td>{{.Field | visible}}</td><td><code>{{json .Rebuilt | visible}}</code></td><td><code>{{json .Published | visible}}</code></td></tr>{{end}}</table>{{end}}
<h3>layers</h3><table><tr><th>layer</th><th>verdict</th><th>instruction</th><th>changes</th></tr>
{{range .Layers}}<tr><td title="index {{.Index}}">{{inc .Index}}</td><td class="v-{{.Verdict | visible}}">{{.Verdict | visible}}{{with .Skipped}} ({{. | visible}}, not read){{end}}</td><td><code>{{.Instruction | visible}}</code></td>
<td>{{range .Files}}<div>{{.Change | visible}} <code>{{.Path | visible}}</code> {{join .Aspects | visible}}{{with .Cause}} <em>cause: {{. | visible}}</em>{{end}}</div>{{end}}{{range .Findings}}<div>finding {{.Kind | visible}} <code>{{.Path | visible}}</code>: {{.Message | visible}}</div>{{end}}</td></tr>{{end}}</table>
{{with .Files}}<h3>merged filesystem</h3>{{range .}}{{template "file" .}}{{end}}{{end}}
{{end}}</body></html>
{{define "file"}}<h4>{{.Change | visible}} <code>{{.Path | visible}}</code> {{join .Aspects | visible}}</h4>{{with .Cause}}<p>cause <a href="https://github.com/reprover/reprover/blob/main/docs/causes.md#{{. | visible}}">{{. | visible}}</a>: {{$.Evidence | visible}}</p>{{end}}{{with .TextDiff}}<pre>{{. | visibleLines}}</pre>{{end}}{{with .Diffoscope}}<p>diffoscope:</p><pre>{{. | visibleLines}}</pre>{{end}}{{with .Inner}}<div style="margin-left:2em"><p>inside it:</p>{{range .}}{{template "file" .}}{{end}}</div>{{end}}{{end}}
`))

// WriteHTML writes the report as one self-contained page.
func (r *Report) WriteHTML(w io.Writer) error { return htmlPage.Execute(w, r) }

// HTMLPage is the report page with its "summary" block (what was
// compared, under the verdict) defined by summary, for reports that hold
// a comparison: data given to it needs Verdict, Hints and Platforms, each
// platform a Verdict and the fields of a Platform. The summary shows its
// strings through visible and visibleLines, as the page does.
func HTMLPage(summary string) (*template.Template, error) {
	t, err := htmlPage.Clone()
	if err != nil {
		return nil, err
	}
	if _, err := t.New("summary").Parse(summary); err != nil {
		return nil, err
	}
	return t, nil
}
