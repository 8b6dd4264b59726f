package render

import (
	"encoding/json"
	"fmt"
	"html/template"
	"strings"

	"github.com/reprover/reprover/internal/text"
)

// style is every page's: long values wrap where they must (a cell holds
// a digest list or a command line without spaces), preformatted text
// scrolls.
const style = `body{font:14px system-ui,sans-serif;margin:2em;max-width:80em}pre{background:#f6f6f6;padding:.5em;overflow:auto}
.v-identical,.v-reproducible,.v-equivalent{color:#17692b}.v-different,.v-mismatch,.v-error,.v-added,.v-removed{color:#b00020}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .5em;text-align:left;vertical-align:top}td code{overflow-wrap:anywhere}`

// Funcs are the functions of every page's templates: visible and
// visibleLines (every string a page shows passes through one of them,
// text.TemplateFuncs), join (", "), json (compact, JSON), inc (layers are
// counted from 1) and indent (indented JSON).
func Funcs() template.FuncMap {
	f := template.FuncMap{
		"join": func(s []string) string { return strings.Join(s, ", ") },
		"json": JSON,
		"inc":  func(i int) int { return i + 1 },
		"indent": func(v any) string {
			b, err := json.MarshalIndent(v, "", "  ")
			if err != nil {
				return ""
			}
			return string(b)
		},
	}
	for k, v := range text.TemplateFuncs() {
		f[k] = v
	}
	return f
}

// Page is a self-contained report page named name: the head every report
// shares, its title the template "title" and its body the template
// "body", both defined by defs (with any other templates they use).
func Page(name, defs string) (*template.Template, error) {
	t, err := template.New(name).Funcs(Funcs()).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{template "title" .}}</title>
<style>` + style + `</style></head>
<body>{{template "body" .}}</body></html>
`)
	if err != nil {
		return nil, err
	}
	return t.Parse(defs)
}

// JSON is v as compact JSON, or as fmt.Sprint shows it when it is not
// JSON.
func JSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
