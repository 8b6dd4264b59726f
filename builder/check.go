package builder

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/dfgitutil"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/hosts"
)

// Violation is one rule broken at one place of a Dockerfile.
type Violation struct {
	Rule    Rule
	File    string
	Line    int
	Message string
}

func (v Violation) Error() string {
	if v.Line == 0 { // a build parameter, not a line
		return fmt.Sprintf("%s: %s: %s", v.File, v.Rule.Name, v.Message)
	}
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
	// RunDownloads are the RUN steps that fetch from the network.
	RunDownloads []RunDownload `json:"runDownloads,omitempty"`
	// Warnings are the rules broken that are reported, never refused.
	Warnings []Note `json:"warnings,omitempty"`
	// Args are the ARGs the Dockerfile declares, sorted (BuildKit's own
	// platform and proxy ARGs and SOURCE_DATE_EPOCH left out): what a
	// build argument of the release could have set.
	Args []string `json:"args,omitempty"`
}

// automaticArgs are set by BuildKit itself, never by the release.
var automaticArgs = []string{"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
	"SOURCE_DATE_EPOCH", "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"}

// declareArg records an ARG the Dockerfile declares.
func (c *checker) declareArg(name string) {
	if slices.Contains(automaticArgs, name) || strings.HasPrefix(name, "BUILDKIT_") || slices.Contains(c.in.Args, name) {
		return
	}
	c.in.Args = append(c.in.Args, name)
	slices.Sort(c.in.Args)
}

// RunDownload is a RUN step that fetches, and the tools it fetches with.
type RunDownload struct {
	File  string   `json:"file"`
	Line  int      `json:"line"`
	Tools []string `json:"tools"`
}

// Note is a rule broken at one place, as evidence.
type Note struct {
	Rule    string `json:"rule"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	Message string `json:"message"`
}

// CheckOptions say how the rebuild will run.
type CheckOptions struct {
	BuildArgs map[string]string
	// Network is the rebuild's network: "none" (the default) or "proxy".
	Network string
	// AllowHosts are loopback, private or link-local hosts that ADD may
	// fetch from (an internal mirror), by name as written in the URL.
	AllowHosts []string
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

var digestRe = regexp.MustCompile(`@sha256:[a-f0-9]{64}$`)

// maxDockerfileBytes bounds the Dockerfile read (BuildKit's own limit is
// larger; a Dockerfile of more than 1 MiB is not a real one).
const maxDockerfileBytes = 1 << 20

// ReadDockerfile reads a Dockerfile from disk under the size limit Check
// applies, refusing what is not a regular file (a FIFO, /dev/zero).
func ReadDockerfile(path string) ([]byte, error) {
	return files.ReadRegular(path, path, maxDockerfileBytes, "maxDockerfileBytes")
}

// Check applies the pinning rules to a Dockerfile, with ARGs expanded as the
// build would (defaults, overridden by o.BuildArgs), for a rebuild on
// o.Network. name is used in messages
// ("Dockerfile", "sub/Dockerfile"). It returns every violation (nil when the
// Dockerfile is hermetic) and the pinned inputs; err is for a Dockerfile
// that cannot be parsed.
func Check(dockerfile []byte, name string, o CheckOptions) (Violations, *Inputs, error) {
	buildArgs := o.BuildArgs
	if len(dockerfile) > maxDockerfileBytes {
		return nil, nil, fmt.Errorf("%s: %d bytes exceeds the limit of %d", name, len(dockerfile), maxDockerfileBytes)
	}
	c := &checker{name: name, offline: o.Network != "proxy", allowHosts: o.AllowHosts, in: &Inputs{Bases: []Base{}, Downloads: []Download{}},
		stageNames: map[string]int{}, seenBase: map[string]bool{}}
	c.checkSyntax(dockerfile, buildArgs)
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	lex := shell.NewLex(res.EscapeToken)
	meta := newArgScope(lex, buildArgs, nil)
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			meta.declare(kv)
			c.declareArg(kv.Key)
		}
	}
	for i, st := range stages {
		s := stage{index: i, args: newArgScope(lex, buildArgs, meta)}
		c.checkFrom(st, s, meta)
		c.scopes = append(c.scopes, s.args)
		for _, cmd := range st.Commands {
			if err := c.checkCommand(cmd, s); err != nil {
				return nil, nil, err
			}
		}
	}
	sort.SliceStable(c.vs, func(i, j int) bool { return c.vs[i].Line < c.vs[j].Line })
	return c.vs, c.in, nil
}

// checker gathers what Check finds across a Dockerfile.
type checker struct {
	name       string
	offline    bool // the rebuild has no network
	allowHosts []string
	in         *Inputs
	vs         Violations
	stageNames map[string]int // lower-cased, as BuildKit matches them
	seenBase   map[string]bool
	scopes     []*argScope // each stage's, by index
}

// stage is where a command sits: its stage's index and ARGs.
type stage struct {
	index int
	args  *argScope
}

// report records a broken rule: a violation when the rule refuses the
// rebuild, else a warning in the evidence.
func (c *checker) report(r Rule, line int, msg string) {
	if r.When == Warning || (r.When == Offline && !c.offline) {
		if r.When == Warning {
			c.in.Warnings = append(c.in.Warnings, Note{Rule: r.Name, File: c.name, Line: line, Message: msg})
		}
		return
	}
	c.vs = append(c.vs, Violation{Rule: r, File: c.name, Line: line, Message: msg})
}

// isStage reports whether ref names a stage defined before stage index before.
func (c *checker) isStage(ref string, before int) bool {
	_, ok := c.stageOf(ref, before)
	return ok
}

// stageOf is the index of the stage ref names, among those before before.
func (c *checker) stageOf(ref string, before int) (int, bool) {
	if i, ok := c.stageNames[strings.ToLower(ref)]; ok {
		return i, true
	}
	n, err := strconv.Atoi(ref)
	return n, err == nil && n >= 0 && n < before
}

func (c *checker) addBase(ref string) {
	if c.seenBase[ref] {
		return
	}
	c.seenBase[ref] = true
	i := strings.LastIndex(ref, "@")
	c.in.Bases = append(c.in.Bases, Base{Ref: ref, Digest: ref[i+1:]})
}

// checkImage judges an image a command copies or mounts from.
func (c *checker) checkImage(ref string, s stage, line int, mount bool) {
	switch {
	case ref == "scratch" || c.isStage(ref, s.index):
	case !digestRe.MatchString(ref):
		c.report(RuleUnpinnedCopyFrom.Rule, line, RuleUnpinnedCopyFrom.Format(ref, mount))
	default:
		c.addBase(ref)
	}
}

// checkSyntax judges what picks the frontend: the build arg
// BUILDKIT_SYNTAX, which BuildKit's Dockerfile frontend obeys before the
// # syntax= directive, and that directive; and every other build arg by
// Params.
func (c *checker) checkSyntax(dockerfile []byte, buildArgs map[string]string) {
	for _, name := range slices.Sorted(maps.Keys(buildArgs)) {
		var pe *ParamError
		if err := judgeArg(name, buildArgs[name], ""); errors.As(err, &pe) {
			c.report(RuleBuildParam.Rule, 0, RuleBuildParam.Format(pe))
		}
	}
	if v, ok := buildArgs[ArgSyntax]; ok {
		c.in.Frontend = SyntaxImage(v)
		return
	}
	syntax, _, loc, ok := parser.DetectSyntax(dockerfile)
	if !ok {
		return
	}
	line := 1
	if len(loc) > 0 {
		line = loc[0].Start.Line
	}
	c.in.Frontend = syntax
	if !digestRe.MatchString(syntax) {
		c.report(RuleUnpinnedSyntax.Rule, line, RuleUnpinnedSyntax.Format(syntax))
	}
}

// checkFrom judges a stage's base; FROM sees only the meta ARGs.
func (c *checker) checkFrom(st instructions.Stage, s stage, meta *argScope) {
	base := meta.expand(st.BaseName)
	parent, isStage := c.stageOf(base, s.index)
	switch {
	case base == "scratch":
		s.args.baseEnvKnown = true
	case isStage:
		s.args.inherit(c.scopes[parent])
	case !digestRe.MatchString(base):
		c.report(RuleUnpinnedFrom.Rule, lineOf(st.Location), RuleUnpinnedFrom.Format(base, st.BaseName))
	default:
		c.addBase(base)
	}
	if st.Name != "" {
		c.stageNames[strings.ToLower(st.Name)] = s.index
	}
}

// checkCommand dispatches one instruction of a stage to its checker.
func (c *checker) checkCommand(cmd instructions.Command, s stage) error {
	line := lineOf(cmd.Location())
	switch cmd := cmd.(type) {
	case *instructions.ArgCommand:
		for _, kv := range cmd.Args {
			s.args.declare(kv)
			c.declareArg(kv.Key)
		}
	case *instructions.EnvCommand:
		for _, kv := range cmd.Env {
			s.args.setEnv(kv)
		}
	case *instructions.CopyCommand:
		c.checkCopy(cmd, s, line)
	case *instructions.AddCommand:
		c.checkAdd(cmd, s, line)
	case *instructions.RunCommand:
		return c.checkRun(cmd, s, line)
	}
	return nil
}

// checkCopy judges COPY --from=<image>.
func (c *checker) checkCopy(cmd *instructions.CopyCommand, s stage, line int) {
	if cmd.From != "" {
		c.checkImage(s.args.expand(cmd.From), s, line, false)
	}
}

// checkAdd judges each ADD source.
func (c *checker) checkAdd(cmd *instructions.AddCommand, s stage, line int) {
	if names := s.args.unresolved(cmd.Checksum); len(names) > 0 {
		c.report(RuleAddUnresolved.Rule, line, RuleAddUnresolved.Format("--checksum="+cmd.Checksum, names))
		return
	}
	checksum := s.args.expand(cmd.Checksum)
	for _, src := range cmd.SourcePaths {
		if names := s.args.unresolved(src); len(names) > 0 {
			c.report(RuleAddUnresolved.Rule, line, RuleAddUnresolved.Format(src, names))
			continue
		}
		c.checkAddSource(s.args.expand(src), checksum, line)
	}
}

// checkRun judges RUN's network, security and mounted images.
func (c *checker) checkRun(cmd *instructions.RunCommand, s stage, line int) error {
	if err := cmd.Expand(func(w string) (string, error) { return s.args.expand(w), nil }); err != nil {
		return fmt.Errorf("%s:%d: %w", c.name, line, err)
	}
	if instructions.GetNetwork(cmd) == instructions.NetworkHost {
		c.report(RuleNetworkHost.Rule, line, RuleNetworkHost.Format())
	}
	if instructions.GetSecurity(cmd) == instructions.SecurityInsecure {
		c.report(RuleSecurityInsecure.Rule, line, RuleSecurityInsecure.Format())
	}
	for _, m := range instructions.GetMounts(cmd) {
		if m.From != "" {
			c.checkImage(m.From, s, line, true)
		}
	}
	c.checkRunDownloads(cmd, line)
	return nil
}

// checkRunDownloads names the tools a RUN fetches with, in its command
// and its heredocs. RUN --network=none stays offline in any mode.
func (c *checker) checkRunDownloads(cmd *instructions.RunCommand, line int) {
	script := strings.Join(cmd.CmdLine, " ")
	for _, f := range cmd.Files {
		script += "\n" + f.Data
	}
	tools, piped := scriptDownloads(script)
	if len(tools) == 0 {
		return
	}
	c.in.RunDownloads = append(c.in.RunDownloads, RunDownload{File: c.name, Line: line, Tools: tools})
	if instructions.GetNetwork(cmd) != instructions.NetworkNone {
		c.report(RuleRunDownloads.Rule, line, RuleRunDownloads.Format(tools))
	}
	if piped {
		c.report(RuleRunPipeToShell.Rule, line, RuleRunPipeToShell.Format(tools))
	}
}

// checkAddSource judges one expanded ADD source: a git repository, a URL, or
// a path in the context.
func (c *checker) checkAddSource(src, checksum string, line int) {
	if ref, isGit, err := dfgitutil.ParseGitRef(src); err == nil && isGit {
		commit := ref.Ref
		if checksum != "" {
			commit = checksum
		}
		if !gitid.Valid(commit) && !gitid.Valid(ref.Checksum) {
			c.report(RuleAddGitUnpinned.Rule, line, RuleAddGitUnpinned.Format(src))
			return
		}
		if !gitid.Valid(commit) {
			commit = ref.Checksum
		}
		c.in.Downloads = append(c.in.Downloads, Download{URL: ref.Remote, Checksum: commit})
		return
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return // a path in the context
	}
	if hosts.LocalHost(u.Hostname()) && !slices.Contains(c.allowHosts, u.Hostname()) && !slices.Contains(c.allowHosts, u.Host) {
		c.report(RuleAddPrivateHost.Rule, line, RuleAddPrivateHost.Format(src, u.Hostname()))
	}
	if checksum == "" {
		c.report(RuleAddURLChecksum.Rule, line, RuleAddURLChecksum.Format(src))
		return
	}
	c.in.Downloads = append(c.in.Downloads, Download{URL: src, Checksum: checksum})
}

func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}
