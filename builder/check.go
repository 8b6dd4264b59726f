package builder

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/reprover/reprover/internal/hosts"

	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// Violation is one rule broken at one place of a Dockerfile.
type Violation struct {
	Rule    Rule
	File    string
	Line    int
	Message string
}

func (v Violation) Error() string {
	return fmt.Sprintf("%s:%d: %s: %s", v.File, v.Line, v.Rule.Name, v.Message)
}

// Violations is every rule a Dockerfile breaks; as an error, one line each.
type Violations []Violation

func (vs Violations) Error() string {
	lines := make([]string, len(vs))
	for i, v := range vs {
		lines[i] = v.Error()
	}
	return strings.Join(lines, "\n")
}

// Inputs are the pinned inputs a Dockerfile names: the hermeticity
// evidence of a rebuild.
type Inputs struct {
	Frontend  string     `json:"frontend,omitempty"`
	Bases     []Base     `json:"bases"`
	Downloads []Download `json:"downloads"`
}

// Base is an image a build starts from or copies from.
type Base struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest"`
}

// Download is a URL or git source that ADD fetches.
type Download struct {
	URL      string `json:"url"`
	Checksum string `json:"checksum"`
}

var (
	digestRe = regexp.MustCompile(`@sha256:[a-f0-9]{64}$`)
	commitRe = regexp.MustCompile(`^[a-f0-9]{40}([a-f0-9]{24})?$`)
)

// maxDockerfileBytes bounds the Dockerfile read (BuildKit's own limit is
// larger; a Dockerfile of more than 1 MiB is not a real one).
const maxDockerfileBytes = 1 << 20

// ReadDockerfile reads a Dockerfile from disk under the size limit Check
// applies, refusing what is not a regular file (a FIFO, /dev/zero).
func ReadDockerfile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxDockerfileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(b) > maxDockerfileBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxDockerfileBytes)
	}
	return b, nil
}

// Check applies the pinning rules to a Dockerfile, with ARGs expanded as the
// build would (defaults, overridden by buildArgs). name is used in messages
// ("Dockerfile", "sub/Dockerfile"). It returns every violation (nil when the
// Dockerfile is hermetic) and the pinned inputs; err is for a Dockerfile
// that cannot be parsed.
func Check(dockerfile []byte, name string, buildArgs map[string]string) (Violations, *Inputs, error) {
	if len(dockerfile) > maxDockerfileBytes {
		return nil, nil, fmt.Errorf("%s: %d bytes exceeds the limit of %d", name, len(dockerfile), maxDockerfileBytes)
	}
	in := &Inputs{Bases: []Base{}, Downloads: []Download{}}
	var vs Violations
	add := func(r Rule, line int, format string, args ...any) {
		vs = append(vs, Violation{Rule: r, File: name, Line: line, Message: fmt.Sprintf(format, args...)})
	}
	if syntax, _, loc, ok := parser.DetectSyntax(dockerfile); ok {
		line := 1
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		in.Frontend = syntax
		if !digestRe.MatchString(syntax) {
			add(RuleUnpinnedSyntax, line, "# syntax=%s has no @sha256: digest", syntax)
		}
	}
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	lex := shell.NewLex(res.EscapeToken)
	env := map[string]string{}
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if v, ok := buildArgs[kv.Key]; ok {
				env[kv.Key] = v
			} else if kv.Value != nil {
				env[kv.Key] = *kv.Value
			} else {
				env[kv.Key] = ""
			}
		}
	}
	envList := func(m map[string]string) []string {
		out := make([]string, 0, len(m))
		for k, v := range m {
			out = append(out, k+"="+v)
		}
		sort.Strings(out)
		return out
	}
	expand := func(word string, m map[string]string) string {
		r, _, err := lex.ProcessWord(word, shell.EnvsFromSlice(envList(m)))
		if err != nil {
			return word
		}
		return r
	}
	stageNames := map[string]bool{}
	isStage := func(ref string, before int) bool {
		if stageNames[strings.ToLower(ref)] {
			return true
		}
		if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < before {
			return true
		}
		return false
	}
	seenBase := map[string]bool{}
	addBase := func(ref string) {
		if seenBase[ref] {
			return
		}
		seenBase[ref] = true
		i := strings.LastIndex(ref, "@")
		in.Bases = append(in.Bases, Base{Ref: ref, Digest: ref[i+1:]})
	}
	for si, st := range stages {
		line := lineOf(st.Location)
		base := expand(st.BaseName, env)
		switch {
		case base == "scratch" || isStage(base, si):
		case !digestRe.MatchString(base):
			add(RuleUnpinnedFrom, line, "FROM %s has no @sha256: digest", base)
		default:
			addBase(base)
		}
		if st.Name != "" {
			stageNames[strings.ToLower(st.Name)] = true
		}
		// Stage-local ARGs see build args too.
		local := map[string]string{}
		for k, v := range env {
			local[k] = v
		}
		for _, c := range st.Commands {
			cl := lineOf(c.Location())
			switch c := c.(type) {
			case *instructions.ArgCommand:
				for _, kv := range c.Args {
					if v, ok := buildArgs[kv.Key]; ok {
						local[kv.Key] = v
					} else if kv.Value != nil {
						local[kv.Key] = expand(*kv.Value, local)
					}
				}
			case *instructions.CopyCommand:
				if c.From == "" {
					continue
				}
				from := expand(c.From, local)
				switch {
				case isStage(from, si) || from == "scratch":
				case !digestRe.MatchString(from):
					add(RuleUnpinnedCopyFrom, cl, "COPY --from=%s has no @sha256: digest", from)
				default:
					addBase(from)
				}
			case *instructions.AddCommand:
				for _, src := range c.SourcePaths {
					src = expand(src, local)
					checkAdd(src, expand(c.Checksum, local), cl, add, in)
				}
			case *instructions.RunCommand:
				if err := c.Expand(func(w string) (string, error) { return expand(w, local), nil }); err != nil {
					return nil, nil, fmt.Errorf("%s:%d: %w", name, cl, err)
				}
				if instructions.GetNetwork(c) == instructions.NetworkHost {
					add(RuleNetworkHost, cl, "RUN --network=host asks for the host network; a rebuild has none")
				}
				if instructions.GetSecurity(c) == instructions.SecurityInsecure {
					add(RuleSecurityInsecure, cl, "RUN --security=insecure asks to leave the sandbox")
				}
				for _, m := range instructions.GetMounts(c) {
					if m.From == "" || isStage(m.From, si) || m.From == "scratch" {
						continue
					}
					if !digestRe.MatchString(m.From) {
						add(RuleUnpinnedCopyFrom, cl, "RUN --mount from=%s has no @sha256: digest", m.From)
					} else {
						addBase(m.From)
					}
				}
			}
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].Line < vs[j].Line })
	return vs, in, nil
}

// checkAdd judges one ADD source.
func checkAdd(src, checksum string, line int, add func(Rule, int, string, ...any), in *Inputs) {
	if ref, isGit, err := dfgitutil.ParseGitRef(src); err == nil && isGit {
		commit := ref.Ref
		if checksum != "" {
			commit = checksum
		}
		if !commitRe.MatchString(commit) && !commitRe.MatchString(ref.Checksum) {
			add(RuleAddGitUnpinned, line, "ADD %s is not pinned to a commit (use #<40-hex commit> or --checksum=<commit>)", src)
			return
		}
		if commit == "" || !commitRe.MatchString(commit) {
			commit = ref.Checksum
		}
		in.Downloads = append(in.Downloads, Download{URL: ref.Remote, Checksum: commit})
		return
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return // a path in the context
	}
	if hosts.LocalHost(u.Hostname()) {
		add(RuleAddPrivateHost, line, "ADD %s fetches from %s, a loopback, link-local or private address", src, u.Hostname())
	}
	if checksum == "" {
		add(RuleAddURLChecksum, line, "ADD %s has no --checksum=sha256:…", src)
		return
	}
	in.Downloads = append(in.Downloads, Download{URL: src, Checksum: checksum})
}

func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}
