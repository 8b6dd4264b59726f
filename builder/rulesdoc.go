package builder

import (
	"fmt"
	"strings"
)

// RulesMarkdown renders docs/rules.md from Rules.
func RulesMarkdown() string {
	var b strings.Builder
	b.WriteString("# Hermetic rebuild rules\n\n")
	b.WriteString("<!-- Generated from builder.Rules by `go test ./builder -update`; do not edit. -->\n\n")
	b.WriteString("`reprover check` and `reprover verify` refuse a Dockerfile that breaks any of these rules, before\n")
	b.WriteString("building, with exit status 2 and one line per violation: `Dockerfile:LINE: rule: message`; the rules marked\n")
	b.WriteString("\"refused with --network none\" only when the rebuild has no network, and warnings are reported and\n")
	b.WriteString("recorded in the build evidence, never refused.\n")
	b.WriteString("ARGs are expanded as the build would (defaults, then `--build-arg`) before judging.\n\n")
	b.WriteString("Whatever the Dockerfile says, every `RUN` of a rebuild has no network (`force-network-mode=none`),\n")
	b.WriteString("or only BuildKit's capturing proxy with `--network proxy`; no entitlement is granted, and no build\n")
	b.WriteString("cache is reused.\n\n")
	b.WriteString("| rule | what | when | why |\n| --- | --- | --- | --- |\n")
	for _, r := range Rules {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", r.Name, r.Name, r.Description, r.When, r.Why)
	}
	for _, r := range Rules {
		fmt.Fprintf(&b, "\n## %s\n\n%s: %s. %s.\n", r.Name, r.Description, r.When, upperFirst(r.Why))
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// The markers around the table of build parameters in
// docs/threat-model.md.
const (
	paramsBegin = "<!-- params:begin (generated from builder.Params by `go test ./builder -run TestParamsDoc -update`) -->"
	paramsEnd   = "<!-- params:end -->"
)

// ReplaceParamsTable puts the table of Params between its markers in doc.
func ReplaceParamsTable(doc string) (string, error) {
	i, j := strings.Index(doc, paramsBegin), strings.Index(doc, paramsEnd)
	if i < 0 || j < i {
		return "", fmt.Errorf("the markers %s and %s are missing", paramsBegin, paramsEnd)
	}
	var b strings.Builder
	b.WriteString(paramsBegin + "\n\n| parameter | a rebuild | why |\n| --- | --- | --- |\n")
	for _, p := range Params {
		action := string(p.Action)
		if p.Routine {
			action += " (routine: in the report, not in the hints)"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", p.Key, action, strings.ReplaceAll(p.Why, "|", "\\|"))
	}
	b.WriteString("\n")
	return doc[:i] + b.String() + doc[j:], nil
}
