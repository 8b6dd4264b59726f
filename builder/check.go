package builder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/reprover/reprover/internal/files"
	"github.com/reprover/reprover/internal/hosts"
	"github.com/reprover/reprover/internal/limits"
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
var automaticArgs = []string{"TARGETPLATFORM", "TARGETOS", "TARGETOSVERSION", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE",
	"BUILDPLATFORM", "BUILDOS", "BUILDOSVERSION", "BUILDARCH", "BUILDVARIANT",
	"SOURCE_DATE_EPOCH", "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "ftp_proxy", "no_proxy", "all_proxy"}

// declareArg records an ARG the Dockerfile declares.
func (c *checker) declareArg(name string) {
	if slices.Contains(automaticArgs, name) || strings.HasPrefix(name, "BUILDKIT_") || !c.first("arg", name) {
		return
	}
	c.in.Args = append(c.in.Args, name) // sorted by CheckContext
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
	// Platforms are the platforms the rebuild builds, OS/ARCH[/VARIANT].
	// BuildKit sets TARGETOS, TARGETARCH, … from each, so Check judges the
	// Dockerfile once for each. None: linux/amd64, and a FROM, COPY
	// --from, RUN --mount from= or ADD word whose value depends on them is
	// refused as unresolved.
	Platforms []string
	// BuildPlatform is the BuildKit worker's platform (BUILDPLATFORM,
	// BUILDOS, …); "": not known, judged as Platforms' absence is.
	BuildPlatform string
	// Target is the stage built (TARGETSTAGE); "": the last one.
	Target string
	// Resolver looks up the hosts ADD fetches from, judged by the
	// addresses they resolve to; nil: net.DefaultResolver.
	Resolver hosts.Resolver
	// Limits bound the work (zero fields: DefaultCheckLimits).
	Limits CheckLimits
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

// ReadDockerfile reads a Dockerfile from disk under the size limit Check
// applies (lim's MaxDockerfileBytes), refusing what is not a regular file
// (a FIFO, /dev/zero).
func ReadDockerfile(path string, lim CheckLimits) ([]byte, error) {
	max := limits.WithDefaults(lim, DefaultCheckLimits).MaxDockerfileBytes
	return files.ReadRegular(path, path, max, "MaxDockerfileBytes")
}

// Check is CheckContext with context.Background(), as database/sql's Query
// is QueryContext's: for callers not yet passing a context.
func Check(dockerfile []byte, name string, o CheckOptions) (Violations, *Inputs, error) {
	return CheckContext(context.Background(), dockerfile, name, o)
}

// CheckContext applies the pinning rules to a Dockerfile, with ARGs expanded
// as the build would (BuildKit's automatic platform ARGs, defaults,
// overridden by o.BuildArgs), for a rebuild on o.Network, once for each of
// o.Platforms. name is used in messages ("Dockerfile", "sub/Dockerfile").
// It returns every violation (nil when the Dockerfile is hermetic) and the
// pinned inputs; err is for a Dockerfile that cannot be parsed, or whose
// expansions exceed their limits (a *limits.Error).
func CheckContext(ctx context.Context, dockerfile []byte, name string, o CheckOptions) (Violations, *Inputs, error) {
	lim := limits.WithDefaults(o.Limits, DefaultCheckLimits)
	if int64(len(dockerfile)) > lim.MaxDockerfileBytes {
		return nil, nil, fmt.Errorf("%s: %w", name, &limits.Error{What: "Dockerfile bytes", Limit: "MaxDockerfileBytes", Max: lim.MaxDockerfileBytes, Got: int64(len(dockerfile))})
	}
	plats, err := checkPlatforms(o)
	if err != nil {
		return nil, nil, err
	}
	var all *checker
	resolver := newAddResolver(o.Resolver, lim)
	for _, p := range plats {
		c := &checker{ctx: ctx, name: name, offline: o.Network != "proxy", allowHosts: o.AllowHosts, resolver: resolver,
			in: &Inputs{Bases: []Base{}, Downloads: []Download{}}, stageNames: map[string]int{}, seen: map[string]bool{},
			onbuild: map[int][]trigger{}, budget: &budget{lim: lim}, platform: p}
		if err := c.run(dockerfile, o.BuildArgs, o.Target); err != nil {
			return nil, nil, err
		}
		if all == nil {
			all = c
			continue
		}
		all.merge(c)
	}
	sort.SliceStable(all.vs, func(i, j int) bool { return all.vs[i].Line < all.vs[j].Line })
	slices.Sort(all.in.Args)
	return all.vs, all.in, nil
}

// run checks the Dockerfile for one platform.
func (c *checker) run(dockerfile []byte, buildArgs map[string]string, target string) error {
	c.checkSyntax(dockerfile, buildArgs)
	res, err := parser.Parse(bytes.NewReader(dockerfile))
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	c.lex = shell.NewLex(res.EscapeToken)
	if target == "" && len(stages) > 0 {
		target = stages[len(stages)-1].Name
	}
	meta := newArgScope(c.lex, buildArgs, nil, c.budget)
	meta.baseEnvKnown = true
	c.platform.set(meta, target)
	for _, a := range metaArgs {
		for _, kv := range a.Args {
			if err := meta.declare(kv); err != nil {
				return fmt.Errorf("%s:%d: %w", c.name, lineOf(a.Location()), err)
			}
			c.declareArg(kv.Key)
		}
	}
	for i, st := range stages {
		s := stage{index: i, args: newArgScope(c.lex, buildArgs, meta, c.budget)}
		parent, err := c.checkFrom(st, s, meta)
		if err != nil {
			return err
		}
		c.scopes = append(c.scopes, s.args)
		if parent >= 0 {
			if err := c.runTriggers(c.onbuild[parent], s); err != nil {
				return err
			}
		}
		for _, cmd := range st.Commands {
			if err := c.checkCommand(cmd, s, lineOf(cmd.Location())); err != nil {
				return err
			}
		}
	}
	return nil
}

// checker gathers what Check finds across a Dockerfile, for one platform.
type checker struct {
	ctx        context.Context
	name       string
	offline    bool // the rebuild has no network
	allowHosts []string
	resolver   *addResolver
	platform   platformArgs
	lex        *shell.Lex
	budget     *budget
	in         *Inputs
	vs         Violations
	stageNames map[string]int    // lower-cased, as BuildKit keeps them
	seen       map[string]bool   // what was recorded, by kind and key (first)
	scopes     []*argScope       // each stage's, by index
	onbuild    map[int][]trigger // each stage's ONBUILD instructions, by index
}

// stage is where a command sits: its stage's index and ARGs.
type stage struct {
	index int
	args  *argScope
}

// report records a broken rule: a violation when the rule refuses the
// rebuild, else a warning in the evidence; once for each place and message
// (an ONBUILD instruction runs in every stage built on its own).
func (c *checker) report(r Rule, line int, msg string) {
	if r.When == Warning || (r.When == Offline && !c.offline) {
		n := Note{Rule: r.Name, File: c.name, Line: line, Message: msg}
		if r.When == Warning && c.first("warning", fmt.Sprint(n)) {
			c.in.Warnings = append(c.in.Warnings, n)
		}
		return
	}
	v := Violation{Rule: r, File: c.name, Line: line, Message: msg}
	if c.first("violation", v.Error()) {
		c.vs = append(c.vs, v)
	}
}

// How each instruction finds a stage, as BuildKit does: FROM by its name
// as written (the names kept lower-cased), RUN --mount from= by name,
// COPY --from by index or name. Only stages before the current one are
// found here; BuildKit fails a build that copies from a later one.
type stageLookup int

const (
	lookupFrom stageLookup = iota
	lookupMount
	lookupCopy
)

// stageOf is the index of the stage ref names, among those before before.
func (c *checker) stageOf(ref string, before int, how stageLookup) (int, bool) {
	if how == lookupCopy {
		if n, err := strconv.Atoi(ref); err == nil {
			return n, n >= 0 && n < before
		}
	}
	if how != lookupFrom {
		ref = strings.ToLower(ref)
	}
	i, ok := c.stageNames[ref]
	return i, ok
}

// first reports whether key of kind is recorded for the first time, and
// records it: each is found once, whatever ONBUILD or the platforms repeat.
func (c *checker) first(kind, key string) bool {
	k := kind + "\x00" + key
	if c.seen[k] {
		return false
	}
	c.seen[k] = true
	return true
}

func (c *checker) addBase(ref string) {
	if !c.first("base", ref) {
		return
	}
	i := strings.LastIndex(ref, "@")
	c.in.Bases = append(c.in.Bases, Base{Ref: ref, Digest: ref[i+1:]})
}

// checkImage judges an image a command copies or mounts from.
func (c *checker) checkImage(ref value, written string, s stage, line int, how stageLookup) {
	switch {
	case len(ref.unknown) > 0:
		c.report(RuleImageUnresolved.Rule, line, RuleImageUnresolved.Format(imageWord(written, how), ref.unknown))
	case ref.v == "scratch":
	case func() bool { _, ok := c.stageOf(ref.v, s.index, how); return ok }():
	case !digestRe.MatchString(ref.v):
		c.report(RuleUnpinnedCopyFrom.Rule, line, RuleUnpinnedCopyFrom.Format(ref.v, how == lookupMount))
	default:
		c.addBase(ref.v)
	}
}

// imageWord is how a message quotes the word that names an image.
func imageWord(written string, how stageLookup) string {
	switch how {
	case lookupMount:
		return "RUN --mount from=" + written
	case lookupCopy:
		return "COPY --from=" + written
	}
	return "FROM " + written
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

// checkFrom judges a stage's base; FROM sees only the meta ARGs. It
// returns the index of the stage the base is, or -1.
func (c *checker) checkFrom(st instructions.Stage, s stage, meta *argScope) (int, error) {
	line := lineOf(st.Location)
	base, err := meta.eval(st.BaseName)
	if err != nil {
		return -1, fmt.Errorf("%s:%d: %w", c.name, line, err)
	}
	parent, isStage := c.stageOf(base.v, s.index, lookupFrom)
	switch {
	case len(base.unknown) > 0:
		c.report(RuleImageUnresolved.Rule, line, RuleImageUnresolved.Format("FROM "+st.BaseName, base.unknown))
	case base.v == "scratch":
		s.args.startScratch(c.platform.path())
	case isStage:
		if err := s.args.inherit(c.scopes[parent]); err != nil {
			return -1, fmt.Errorf("%s:%d: %w", c.name, line, err)
		}
	case !digestRe.MatchString(base.v):
		c.report(RuleUnpinnedFrom.Rule, line, RuleUnpinnedFrom.Format(base.v, st.BaseName))
	default:
		c.addBase(base.v)
	}
	if st.Name != "" {
		c.stageNames[strings.ToLower(st.Name)] = s.index
	}
	if !isStage || len(base.unknown) > 0 {
		return -1, nil
	}
	return parent, nil
}

// checkCommand dispatches one instruction of a stage, at line, to its
// checker.
func (c *checker) checkCommand(cmd instructions.Command, s stage, line int) error {
	var err error
	switch cmd := cmd.(type) {
	case *instructions.ArgCommand:
		for _, kv := range cmd.Args {
			if err = s.args.declare(kv); err != nil {
				break
			}
			c.declareArg(kv.Key)
		}
	case *instructions.EnvCommand:
		err = s.args.setEnv(cmd.Env)
	case *instructions.CopyCommand:
		err = c.checkCopy(cmd, s, line)
	case *instructions.AddCommand:
		err = c.checkAdd(cmd, s, line)
	case *instructions.RunCommand:
		err = c.checkRun(cmd, s, line)
	case *instructions.OnbuildCommand:
		c.onbuild[s.index] = append(c.onbuild[s.index], trigger{expr: cmd.Expression, line: line})
	}
	if err != nil {
		return fmt.Errorf("%s:%d: %w", c.name, line, err)
	}
	return nil
}

// checkCopy judges COPY --from=<image>.
func (c *checker) checkCopy(cmd *instructions.CopyCommand, s stage, line int) error {
	if cmd.From == "" {
		return nil
	}
	from, err := s.args.eval(cmd.From)
	if err != nil {
		return err
	}
	c.checkImage(from, cmd.From, s, line, lookupCopy)
	return nil
}

// checkRun judges RUN's network, security and mounted images.
func (c *checker) checkRun(cmd *instructions.RunCommand, s stage, line int) error {
	unknown := map[string][]string{} // what each expanded word depends on
	err := cmd.Expand(func(w string) (string, error) {
		v, err := s.args.eval(w)
		unknown[v.v] = union(unknown[v.v], v.unknown)
		return v.v, err
	})
	if err != nil {
		return err
	}
	if instructions.GetNetwork(cmd) == instructions.NetworkHost {
		c.report(RuleNetworkHost.Rule, line, RuleNetworkHost.Format())
	}
	if instructions.GetSecurity(cmd) == instructions.SecurityInsecure {
		c.report(RuleSecurityInsecure.Rule, line, RuleSecurityInsecure.Format())
	}
	for _, m := range instructions.GetMounts(cmd) {
		if m.From != "" {
			c.checkImage(value{v: m.From, unknown: unknown[m.From]}, m.From, s, line, lookupMount)
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
	if c.first("run", strconv.Itoa(line)) { // an ONBUILD RUN, once
		c.in.RunDownloads = append(c.in.RunDownloads, RunDownload{File: c.name, Line: line, Tools: tools})
	}
	if instructions.GetNetwork(cmd) != instructions.NetworkNone {
		c.report(RuleRunDownloads.Rule, line, RuleRunDownloads.Format(tools))
	}
	if piped {
		c.report(RuleRunPipeToShell.Rule, line, RuleRunPipeToShell.Format(tools))
	}
}

func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}
