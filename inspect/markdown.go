package inspect

import (
	"fmt"
	"strings"
)

// peer is one check a peer tool has, and what reprover inspect does
// about it.
type peer struct {
	Tool, ID, What string
	Here           string // the reprover check, or "—" and why not
}

// peers are Dockle's checkpoints (CIS Docker Benchmark "CIS-DI-*" and
// its own "DKL-*") and trivy's image scanners, compared with Checks.
var peers = []peer{
	{"Dockle", "CIS-DI-0001", "create a user for the container", "`runsAsRoot`"},
	{"Dockle", "CIS-DI-0005", "enable Content trust (Notary v1 signatures)", "— Notary v1 is not read; reprover verdicts and other referrers are listed under \"who vouches\""},
	{"Dockle", "CIS-DI-0006", "add `HEALTHCHECK`", "— not checked: an orchestrator's probe usually does the job"},
	{"Dockle", "CIS-DI-0007", "`apt-get update` alone in a `RUN`", "— not checked (a Dockerfile rule; `reprover check` judges Dockerfiles)"},
	{"Dockle", "CIS-DI-0008", "setuid and setgid files", "`setuidFile`, `setgidFile`"},
	{"Dockle", "CIS-DI-0009", "`COPY` instead of `ADD`", "— not checked here; `reprover check` refuses an `ADD` of a URL without a checksum"},
	{"Dockle", "CIS-DI-0010", "secrets in environment variables and credential files", "`secretInEnv`, `credentialsFile`, `secretInFile` (every layer, deleted files too)"},
	{"Dockle", "DKL-DI-0001", "`sudo` in the history", "— not checked"},
	{"Dockle", "DKL-DI-0002", "sensitive directories as volumes", "— not checked"},
	{"Dockle", "DKL-DI-0003", "`apt-get upgrade`/`dist-upgrade` in the history", "— not checked (it makes a rebuild differ; `reprover verify` shows it)"},
	{"Dockle", "DKL-DI-0004", "`apk add` without `--no-cache`", "`packageCache` (the cache left, with its size, whatever made it)"},
	{"Dockle", "DKL-DI-0005", "apt caches not cleared", "`packageCache`"},
	{"Dockle", "DKL-DI-0006", "the `latest` tag", "— not checked: reprover reads an image by digest"},
	{"Dockle", "DKL-LI-0001", "empty passwords in `/etc/shadow`", "— not checked"},
	{"Dockle", "DKL-LI-0002", "duplicate UIDs and GIDs", "— not checked"},
	{"Dockle", "DKL-LI-0003", "unneeded files (`.git`, `.DS_Store`, …)", "— not checked; `hiddenByDeletion` shows what a later layer tried to remove"},
	{"trivy", "secret", "secrets by pattern in the files of the final filesystem (about 80 rules)", "`secretInFile`, `credentialsFile` with fewer rules (private keys, AWS, GCP, GitHub, GitLab, Slack), in every layer, deleted files included; and in ENV, labels and history"},
	{"trivy", "misconfig", "Dockerfile checks on the image config (root user, `HEALTHCHECK`, `ADD`, `latest`, …)", "`runsAsRoot`, `pipedDownload`; the others are not checked"},
	{"trivy", "vuln", "known vulnerabilities of OS and language packages", "— not checked: reprover has no vulnerability database"},
	{"trivy", "license", "licences of packages", "— not checked"},
	{"neither", "", "provenance, the layer each instruction made, signed rebuild verdicts (k-of-n keys), hidden content, setuid copies, downloads piped to a shell", "`noProvenance`, `hiddenByDeletion`, `hiddenByOverwrite`, `pipedDownload`, `worldWritableDir`, the verdicts"},
}

// Markdown renders docs/inspect.md from Checks and peers.
func Markdown() string {
	var b strings.Builder
	b.WriteString("# reprover inspect: its checks\n\n")
	b.WriteString("<!-- Generated from inspect.Checks by `go test ./inspect -run TestInspectDoc -update`; do not edit. -->\n\n")
	b.WriteString("`reprover inspect IMAGE` reads one published image, every layer once, and reports where it came from\n")
	b.WriteString("(its provenance, each layer with the instruction that made it), who vouches for it (reprover verdicts\n")
	b.WriteString("attached to it, checked with `--key`, k-of-n with `--threshold`; other referrers by type; a kit) and\n")
	b.WriteString("what it holds, as findings of the checks below. A finding names its check, severity, path, the layer\n")
	b.WriteString("(counted from 1), evidence and fix. A secret is named and fingerprinted (the first 12 hex digits of the\n")
	b.WriteString("sha256 of what matched), never shown whole. Exit status: 0 when no finding reaches `--fail-on`\n")
	b.WriteString("(default `high`), 1 when one does, 2 when the image could not be inspected.\n\n")
	b.WriteString("File contents are scanned for secrets when they are text (valid UTF-8, no NUL byte) and within the\n")
	b.WriteString("per-file limit, and only until the image's scan budget is spent; what was not scanned is counted in a\n")
	b.WriteString("`notScanned` finding. The expressions are Go's RE2 (time linear in the input, no backtracking).\n\n")
	b.WriteString("| check | severity | what it means | fix |\n| --- | --- | --- | --- |\n")
	for _, c := range Checks {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", c.Name, strings.ToLower(c.Name), c.Severity, cell(c.What), cell(c.Fix))
	}
	for _, c := range Checks {
		fmt.Fprintf(&b, "\n## %s\n\n%s (`%s`). Fix: %s.\n", c.Name, upperFirst(c.What), c.Severity, c.Fix)
	}
	b.WriteString("\n## Secrets looked for\n\n| secret | looked for |\n| --- | --- |\n")
	for _, p := range patterns {
		fmt.Fprintf(&b, "| %s | `%s` |\n", p.Name, cell(p.Doc))
	}
	for _, f := range credentialFiles {
		fmt.Fprintf(&b, "| %s | %s |\n", f.Name, cell(f.Doc))
	}
	b.WriteString("\n## Compared with Dockle and trivy\n\n")
	b.WriteString("What Dockle's checkpoints and trivy's image scanners look for, and which check of reprover's does the\n")
	b.WriteString("same (— when none does).\n\n| tool | check | what | reprover inspect |\n| --- | --- | --- | --- |\n")
	for _, p := range peers {
		id := p.ID
		if id != "" {
			id = "`" + id + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", p.Tool, id, cell(p.What), cell(p.Here))
	}
	return b.String()
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
