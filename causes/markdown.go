package causes

import (
	"fmt"
	"strings"
)

// Markdown is docs/causes.md: the causes, most specific first, and the
// table of known paths.
func Markdown() string {
	var b strings.Builder
	b.WriteString(`# Causes of differences

<!-- Generated from package causes (go test ./causes -run TestCausesDoc -update). Do not edit. -->

When a rebuild is a ` + "`mismatch`" + `, every differing file (in the merged filesystem and in each layer)
gets a ` + "`cause`" + ` with its ` + "`evidence`" + ` in the report, and the report's hints count the differences by
cause. The causes are listed most specific first. A file only in one image is judged by its path alone;
otherwise a difference only in metadata is ` + "`metadata-only`" + `, then the evidence in the two contents is weighed
(Python bytecode headers, gzip headers, archive members), then the known paths, then times, ids and order
inside the contents; ` + "`unknown`" + ` when nothing fits.
A cause explains a difference: it never excuses it, and a ` + "`mismatch`" + ` stays a ` + "`mismatch`" + `.

Times found inside content are judged against the builds' window: from the release's
SOURCE_DATE_EPOCH (or commit time) to the end of the rebuild.

`)
	for _, c := range Table {
		fmt.Fprintf(&b, "## %s\n\n**%s.** %s.\n\nFix: %s.\n\n", c.ID, upperFirst(c.Title), upperFirst(c.Why), c.Fix)
		if rules := pathsOf(c); len(rules) > 0 {
			b.WriteString("| path | what |\n| --- | --- |\n")
			for _, r := range rules {
				fmt.Fprintf(&b, "| `%s` | %s |\n", r.Pattern, r.What)
			}
			b.WriteString("\n")
		}
	}
	return strings.TrimRight(b.String(), "\n") + "\n"
}

func pathsOf(c Cause) []PathRule {
	var out []PathRule
	for _, r := range Paths {
		if r.Cause.ID == c.ID {
			out = append(out, r)
		}
	}
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
