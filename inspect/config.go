package inspect

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/internal/text"
)

// userFindings judge the user the image runs as.
func userFindings(user string) []Finding {
	name, _, _ := strings.Cut(strings.TrimSpace(user), ":")
	switch {
	case name == "":
		return []Finding{finding(RunsAsRoot, "", 0, "the config sets no USER: the container runs as root")}
	case name == "0" || name == "root":
		return []Finding{finding(RunsAsRoot, "", 0, fmt.Sprintf("USER %s", text.Truncate(user, 80)))}
	}
	return nil
}

// envFindings find secrets in the config's environment: by pattern in
// a value, or a value of a variable named like a secret.
func envFindings(env []string) []Finding {
	var out []Finding
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		name := "ENV " + text.Truncate(k, 80)
		for _, s := range scanValue(v) {
			out = append(out, finding(SecretInEnv, "", 0, name+": "+oneLine(s)))
		}
		if secretName(k) {
			if s := secretValue(v); s != "" && !anyPattern(v) {
				out = append(out, finding(SecretInEnv, "", 0, fmt.Sprintf("%s holds a value (%d bytes, fingerprint %s)", name, len(s), Fingerprint([]byte(s)))))
			}
		}
	}
	return out
}

// labelFindings find secrets by pattern in the labels' values.
func labelFindings(labels map[string]string) []Finding {
	var out []Finding
	for _, k := range sortedLabelKeys(labels) {
		for _, s := range scanValue(labels[k]) {
			out = append(out, finding(SecretInLabel, "", 0, "label "+text.Truncate(k, 80)+": "+oneLine(s)))
		}
	}
	return out
}

// historyFindings look at each history entry's instruction: secrets by
// pattern, secret-named build arguments with their values, a download
// piped to a shell. layerOf maps a history entry to its layer (from 1;
// 0 for an entry that made none).
func historyFindings(hist []v1.History, layerOf []int) []Finding {
	var out []Finding
	for i, h := range hist {
		at := layerOf[i]
		for _, s := range scanValue(h.CreatedBy) {
			out = append(out, finding(SecretInHistory, "", at, fmt.Sprintf("history entry %d: %s", i+1, oneLine(s))))
		}
		for _, a := range secretAssignments(h.CreatedBy) {
			out = append(out, finding(SecretInHistory, "", at, fmt.Sprintf("history entry %d records %s", i+1, a)))
		}
		if pipedToShell(h.CreatedBy) {
			out = append(out, finding(PipedDownload, "", at, fmt.Sprintf("history entry %d: %s", i+1, text.Truncate(Redact(h.CreatedBy), 200))))
		}
	}
	return out
}

// buildArgs are the build arguments BuildKit writes before a RUN's
// command ("RUN |2 A=1 B=2 /bin/sh -c …").
var buildArgs = regexp.MustCompile(`^RUN \|([0-9]{1,4}) `)

// secretAssignments are the NAME=value assignments of an instruction
// whose name says secret and value is not empty: BuildKit's build
// arguments of a RUN, an ARG's default, an ENV. Each is named with the
// value's fingerprint.
func secretAssignments(createdBy string) []string {
	s := strings.TrimSuffix(strings.TrimSpace(createdBy), " # buildkit")
	var words []string
	if m := buildArgs.FindStringSubmatch(s); m != nil {
		var n int
		fmt.Sscan(m[1], &n)
		words = strings.Fields(s[len(m[0]):])
		words = words[:min(n, len(words))]
	} else if rest, ok := cutInstruction(s, "ARG", "ENV"); ok {
		words = strings.Fields(rest)
	}
	var out []string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || !secretName(k) {
			continue
		}
		if sv := secretValue(v); sv != "" && !anyPattern(sv) {
			out = append(out, fmt.Sprintf("%s=… (%d bytes, fingerprint %s)", text.Truncate(k, 80), len(sv), Fingerprint([]byte(sv))))
		}
	}
	return out
}

func cutInstruction(s string, names ...string) (string, bool) {
	for _, n := range names {
		if rest, ok := strings.CutPrefix(s, n+" "); ok {
			return rest, true
		}
	}
	return "", false
}

// redactAssignments is s with the values of its secret-named
// assignments replaced by their fingerprints.
func redactAssignments(s string) string {
	return assignment.ReplaceAllStringFunc(s, func(w string) string {
		k, v, _ := strings.Cut(w, "=")
		if !secretName(k) || secretValue(v) == "" {
			return w
		}
		return k + "=[" + Fingerprint([]byte(secretValue(v))) + "]"
	})
}

var assignment = regexp.MustCompile(`[A-Za-z_][A-Za-z0-9_]*=[^\s"']+`)

// RedactInstruction is a history instruction made fit to show: secrets
// by pattern and the values of secret-named assignments replaced by
// fingerprints.
func RedactInstruction(s string) string { return redactAssignments(Redact(s)) }

func anyPattern(s string) bool { return len(scanValue(s)) > 0 }

func oneLine(s Secret) string { s.Line = 0; return s.String() }

func sortedLabelKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// Commands that download, and what a download may be piped to.
var (
	downloaders  = []string{"curl", "wget", "fetch"}
	interpreters = []string{"sh", "bash", "dash", "ash", "zsh", "ksh", "busybox", "python", "python3", "perl", "ruby", "node"}
	// commandSeparators split a shell line into commands; a pipe is
	// kept within one.
	commandSeparators = regexp.MustCompile(`&&|\|\||;|\n`)
	// substitution: a shell runs what a download printed
	// (sh -c "$(curl …)", bash <(wget -O- …)).
	substitution = regexp.MustCompile(`\b(?:sh|bash|dash|ash|zsh|ksh)\b[^|;&\n]*(?:\$\(|<\(|` + "`" + `)\s*(?:curl|wget)\b`)
)

// pipedToShell reports whether a shell line pipes a download into a
// shell or an interpreter.
func pipedToShell(line string) bool {
	if substitution.MatchString(line) {
		return true
	}
	for _, cmd := range commandSeparators.Split(line, -1) {
		stages := strings.Split(cmd, "|")
		for i := 0; i+1 < len(stages); i++ {
			// The download may follow RUN, BuildKit's build arguments
			// and /bin/sh -c: any word of the stage counts.
			if slices.ContainsFunc(strings.Fields(stages[i]), isDownloader) && slices.Contains(interpreters, program(stages[i+1])) {
				return true
			}
		}
	}
	return false
}

func isDownloader(w string) bool {
	w = strings.Trim(w, `"'()`)
	return slices.Contains(downloaders, w[strings.LastIndex(w, "/")+1:])
}

// program is the base name of the command a pipeline stage runs,
// past sudo, env and variable assignments.
func program(stage string) string {
	for _, w := range strings.Fields(stage) {
		w = strings.Trim(w, `"'()`)
		switch {
		case w == "sudo" || w == "env" || w == "exec" || strings.HasPrefix(w, "-"):
			continue
		case strings.Contains(w, "=") && !strings.HasPrefix(w, "/"):
			continue // an assignment
		}
		return w[strings.LastIndex(w, "/")+1:]
	}
	return ""
}

func finding(check, path string, at int, evidence string) Finding {
	c, ok := CheckNamed(check)
	if !ok {
		panic("inspect: no check " + check)
	}
	return Finding{Check: check, Severity: c.Severity, Path: path, Layer: at, Evidence: evidence, Fix: c.Fix}
}
