package bake

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/big"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Limits applied to every Load. The input is untrusted.
const (
	// MaxFileSize is the largest bake file Load accepts, in bytes.
	MaxFileSize = 1 << 20
	// MaxDepth bounds expression/block nesting, variable reference chains,
	// group nesting and inherits depth.
	MaxDepth = 32
	// MaxTargets bounds the number of target blocks (and, separately, of
	// group and of variable blocks).
	MaxTargets = 1000

	maxValueBytes = 64 << 10 // one variable or function result
	maxBudget     = 64 << 20 // estimated bytes produced by one Load
	maxIterations = 10000    // for-expression iterations in one Load
	maxNumberBits = 4096     // |binary exponent| of any number
	maxFormatPad  = 1024     // width/precision in format verbs, indent count
)

// ErrUnsupported is wrapped by errors about bake features outside the
// supported subset (matrix, function blocks, JSON or compose files, ...).
var ErrUnsupported = errors.New("unsupported bake feature")

// Error is the error type returned by Load and File.Target. Line is 0 when
// the error concerns no particular place in the file.
type Error struct {
	Filename string
	Line     int
	Column   int
	Msg      string
	// Feature names the unsupported feature, if the error is about one.
	Feature string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.Filename, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.Filename, e.Line, e.Msg)
	default:
		return fmt.Sprintf("%s: %s", e.Filename, e.Msg)
	}
}

// Unwrap lets errors.Is(err, ErrUnsupported) match unsupported features.
func (e *Error) Unwrap() error {
	if e.Feature != "" {
		return ErrUnsupported
	}
	return nil
}

// Target holds a resolved target's build parameters.
type Target struct {
	Name        string
	Description string
	// Context is the build context: "." by default, path-cleaned for local
	// paths, a "cwd://" prefix removed; remote URLs are kept as written.
	Context string
	// Dockerfile is relative to Context (as in buildx), "Dockerfile" by
	// default, path-cleaned. A "cwd://" prefix is kept: such a Dockerfile is
	// relative to the working directory, not to Context. See DockerfilePath.
	Dockerfile       string
	DockerfileInline *string
	// Target is the Dockerfile stage to build ("" = last stage).
	Target string
	// Args are the build arguments. A nil value is an argument declared
	// null that nothing set: buildx does not pass it (see BuildArgs).
	Args map[string]*string
	// Platforms, deduplicated, in file order; nil if unset.
	Platforms []string
	// Contexts are named build contexts (contexts = {name = "source"}).
	Contexts map[string]string

	// Recorded, not interpreted. Labels may have nil (null) values. Lists
	// are deduplicated keeping first occurrences (buildx orders duplicate
	// cache entries differently) and have empty strings removed.
	Tags      []string
	Labels    map[string]*string
	Outputs   []string
	CacheFrom []string
	CacheTo   []string

	// Ignored lists the other attributes set on the target or its
	// ancestors, sorted: buildx attributes this package does not interpret
	// (e.g. "secret", "ssh", "attest"; evaluated, values not returned), and
	// attributes or nested blocks ("NAME{}") buildx does not know, which
	// buildx ignores without evaluating them, and so does this package.
	Ignored []string
	// FromEnv lists the keys of the env map given to Load whose values were
	// used by this target's attributes (directly or through variables),
	// sorted. A JSON override appears as its key, e.g. "TAGS_JSON".
	FromEnv []string
}

// DockerfilePath returns the Dockerfile path the build uses, mirroring
// buildx's toBuildOpt: Dockerfile joined to Context unless Dockerfile is
// absolute or Context is a remote (git or HTTP(S)) URL; a Dockerfile
// written "cwd://PATH" is PATH, relative to the working directory.
func (t *Target) DockerfilePath() string {
	if v, ok := strings.CutPrefix(t.Dockerfile, "cwd://"); ok {
		return path.Clean(v)
	}
	if isRemoteURL(t.Context) || path.IsAbs(t.Dockerfile) {
		return t.Dockerfile
	}
	return path.Join(t.Context, t.Dockerfile)
}

// BuildArgs returns the build arguments buildx passes: Args without the
// null ones.
func (t *Target) BuildArgs() map[string]string {
	out := make(map[string]string, len(t.Args))
	for k, v := range t.Args {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// isRemoteURL: a context or Dockerfile buildx fetches instead of reading
// from the working directory (the forms BuildKit's git reference parser
// accepts; only builder may import BuildKit).
func isRemoteURL(s string) bool {
	for _, p := range []string{"https://", "http://", "git://", "ssh://", "git@", "github.com/"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// File is a loaded, evaluated bake file.
type File struct {
	filename string
	targets  map[string]*spec
	order    []string // target names in first-definition order
	groups   map[string]*group
	deps     map[string][]string // variable -> variables its value used
	fromEnv  map[string]string   // variable -> env key its value came from
}

type group struct {
	targets []string
	rng     hcl.Range
}

// spec is one target's own (or merged) attributes, before defaults.
type spec struct {
	rng              hcl.Range
	inheritsRng      hcl.Range
	description      *string
	context          *string
	dockerfile       *string
	dockerfileInline *string
	target           *string
	args             map[string]*string
	labels           map[string]*string
	contexts         map[string]string
	platforms        *[]string
	tags             *[]string
	outputs          *[]string
	cacheTo          *[]string
	cacheFrom        []string
	inherits         []string
	ignored          []string
	refs             []string // root variable names referenced
}

// TargetNames returns the names of the file's targets, in file order.
func (f *File) TargetNames() []string { return slices.Clone(f.order) }

// GroupNames returns the names of the file's groups, sorted.
func (f *File) GroupNames() []string {
	names := make([]string, 0, len(f.groups))
	for n := range f.groups {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (f *File) errf(rng *hcl.Range, format string, args ...any) *Error {
	e := &Error{Filename: f.filename, Msg: fmt.Sprintf(format, args...)}
	if rng != nil {
		e.Line, e.Column = rng.Start.Line, rng.Start.Column
	}
	return e
}

// Target resolves the named target or group ("" means "default"), which
// must come down to exactly one target, and returns its parameters with
// inherits merged and defaults applied.
func (f *File) Target(name string) (*Target, error) {
	if name == "" {
		name = "default"
	}
	names, err := f.expandGroup(name, nil, map[string][]string{})
	if err != nil {
		return nil, err
	}
	switch len(names) {
	case 0:
		g := f.groups[name]
		return nil, f.errf(&g.rng, "group %q has no targets", name)
	case 1:
	default:
		return nil, f.errf(&f.groups[name].rng, "group %q resolves to several targets (%s): name one of them", name, listNames(names))
	}
	tname := names[0]
	if _, ok := f.targets[tname]; !ok {
		if g, ok := f.groups[name]; ok {
			return nil, f.errf(&g.rng, "group %q names unknown target %q", name, tname)
		}
		return nil, f.errf(nil, "unknown target %q (targets: %s)", tname, listNames(f.order))
	}
	r := &resolver{f: f, done: map[string]*spec{}}
	s, err := r.resolve(tname, nil, nil)
	if err != nil {
		return nil, err
	}
	return f.finish(tname, s)
}

func listNames(names []string) string {
	if len(names) == 0 {
		return "none"
	}
	if len(names) > 20 {
		return strings.Join(names[:20], ", ") + fmt.Sprintf(", ... %d more", len(names)-20)
	}
	return strings.Join(names, ", ")
}

// expandGroup mirrors buildx's Config.group: members are expanded
// recursively, and a member naming a group that is being expanded (such as
// group "default" { targets = ["default"] }) stands for the target of that
// name. Results are memoized, so shared subgroups cost nothing extra.
func (f *File) expandGroup(name string, stack []string, memo map[string][]string) ([]string, error) {
	g, ok := f.groups[name]
	if !ok || slices.Contains(stack, name) {
		return []string{name}, nil
	}
	if out, ok := memo[name]; ok {
		return out, nil
	}
	if len(stack) >= MaxDepth {
		return nil, f.errf(&g.rng, "groups nested deeper than %d", MaxDepth)
	}
	stack = append(stack, name)
	var out []string
	for _, member := range g.targets {
		sub, err := f.expandGroup(member, stack, memo)
		if err != nil {
			return nil, err
		}
		out = appendUnique(out, sub...)
	}
	memo[name] = out
	return out, nil
}

type resolver struct {
	f    *File
	done map[string]*spec
}

// resolve mirrors buildx's Config.target: the inherited targets are
// resolved and merged in order, then the target's own attributes.
func (r *resolver) resolve(name string, stack []string, from *hcl.Range) (*spec, error) {
	if s, ok := r.done[name]; ok {
		return s, nil
	}
	f := r.f
	t, ok := f.targets[name]
	if !ok {
		return nil, f.errf(from, "target %q inherits unknown target %q", stack[len(stack)-1], name)
	}
	if slices.Contains(stack, name) {
		return nil, f.errf(from, "inherits cycle: %s -> %s", strings.Join(stack, " -> "), name)
	}
	if len(stack) >= MaxDepth {
		return nil, f.errf(from, "inherits nested deeper than %d", MaxDepth)
	}
	stack = append(stack, name)
	acc := &spec{}
	for _, parent := range t.inherits {
		p, err := r.resolve(parent, stack, &t.inheritsRng)
		if err != nil {
			return nil, err
		}
		acc.merge(p)
	}
	m := &spec{}
	m.merge(acc)
	m.merge(t)
	m.inherits = nil
	r.done[name] = m
	return m, nil
}

// merge applies t2 over t, with buildx's Target.Merge rules for the fields
// this package keeps.
func (t *spec) merge(t2 *spec) {
	if t2.description != nil {
		t.description = t2.description
	}
	if t2.context != nil {
		t.context = t2.context
	}
	if t2.dockerfile != nil {
		t.dockerfile = t2.dockerfile
	}
	if t2.dockerfileInline != nil {
		t.dockerfileInline = t2.dockerfileInline
	}
	if t2.target != nil {
		t.target = t2.target
	}
	t.args = mergeNullable(t.args, t2.args)
	t.labels = mergeNullable(t.labels, t2.labels)
	for k, v := range t2.contexts {
		if t.contexts == nil {
			t.contexts = map[string]string{}
		}
		t.contexts[k] = v
	}
	if t2.tags != nil {
		t.tags = t2.tags
	}
	if t2.platforms != nil {
		t.platforms = t2.platforms
	}
	if t2.cacheFrom != nil {
		// Deduplicated at each merge (buildx normalizes likewise), so
		// diamond-shaped inherits cannot grow it exponentially.
		t.cacheFrom = appendUnique(slices.Clone(t.cacheFrom), t2.cacheFrom...)
	}
	if t2.cacheTo != nil {
		t.cacheTo = t2.cacheTo
	}
	if t2.outputs != nil {
		t.outputs = t2.outputs
	}
	t.inherits = append(slices.Clone(t.inherits), t2.inherits...)
	if len(t2.inheritsRng.Filename) > 0 {
		t.inheritsRng = t2.inheritsRng
	}
	if t2.rng.Filename != "" {
		t.rng = t2.rng
	}
	t.ignored = appendUnique(t.ignored, t2.ignored...)
	t.refs = appendUnique(t.refs, t2.refs...)
}

// mergeNullable merges maps key by key; as in buildx a null value never
// replaces a value, but this package keeps it when the key has none.
func mergeNullable(dst, src map[string]*string) map[string]*string {
	for k, v := range src {
		if dst == nil {
			dst = map[string]*string{}
		}
		if old, ok := dst[k]; ok && v == nil && old != nil {
			continue
		}
		dst[k] = v
	}
	return dst
}

// appendUnique appends the values not yet in dst, keeping order.
func appendUnique(dst []string, vals ...string) []string {
	if len(dst)+len(vals) <= 16 {
		for _, v := range vals {
			if !slices.Contains(dst, v) {
				dst = append(dst, v)
			}
		}
		return dst
	}
	seen := make(map[string]bool, len(dst)+len(vals))
	for _, v := range dst {
		seen[v] = true
	}
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			dst = append(dst, v)
		}
	}
	return dst
}

// dedupe mirrors buildx's removeDupesStr: drops duplicates and empty strings.
func dedupe(p *[]string) []string {
	if p == nil {
		return nil
	}
	out := []string{}
	for _, v := range appendUnique(nil, *p...) {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

func (f *File) finish(name string, s *spec) (*Target, error) {
	t := &Target{Name: name}
	if s.description != nil {
		t.Description = *s.description
	}
	ctx := "."
	if s.context != nil {
		ctx = *s.context
	}
	df := "Dockerfile"
	if s.dockerfile != nil && *s.dockerfile != "" {
		df = *s.dockerfile
	}
	if ctx == "-" {
		return nil, f.errf(&s.rng, "target %q: context from stdin not allowed in bake", name)
	}
	if df == "-" {
		return nil, f.errf(&s.rng, "target %q: dockerfile from stdin not allowed in bake", name)
	}
	// buildx toBuildOpt: clean local paths, then strip cwd://.
	if v, ok := strings.CutPrefix(ctx, "cwd://"); ok {
		ctx = path.Clean(v)
	} else if !isRemoteURL(ctx) {
		ctx = path.Clean(ctx)
	}
	if !strings.HasPrefix(df, "cwd://") {
		df = path.Clean(df)
	}
	t.Context, t.Dockerfile = ctx, df
	t.DockerfileInline = s.dockerfileInline
	if s.target != nil {
		t.Target = *s.target
	}
	if s.args != nil {
		t.Args = make(map[string]*string, len(s.args))
		for k, v := range s.args {
			t.Args[k] = v
		}
	}
	if s.labels != nil {
		t.Labels = make(map[string]*string, len(s.labels))
		for k, v := range s.labels {
			t.Labels[k] = v
		}
	}
	for k, v := range s.contexts {
		if v == "" {
			continue
		}
		if t.Contexts == nil {
			t.Contexts = map[string]string{}
		}
		t.Contexts[k] = v
	}
	t.Platforms = dedupe(s.platforms)
	t.Tags = dedupe(s.tags)
	t.Outputs = dedupe(s.outputs)
	t.CacheTo = dedupe(s.cacheTo)
	if s.cacheFrom != nil {
		t.CacheFrom = dedupe(&s.cacheFrom)
	}
	t.Ignored = slices.Sorted(slices.Values(s.ignored))
	t.FromEnv = f.envKeys(s.refs)
	return t, nil
}

// envKeys returns the env keys used by the variables reachable from refs.
func (f *File) envKeys(refs []string) []string {
	seen := map[string]bool{}
	var keys []string
	var visit func(string)
	visit = func(v string) {
		if seen[v] {
			return
		}
		seen[v] = true
		if k, ok := f.fromEnv[v]; ok {
			keys = append(keys, k)
		}
		for _, d := range f.deps[v] {
			visit(d)
		}
	}
	for _, r := range refs {
		visit(r)
	}
	sort.Strings(keys)
	return keys
}

// ---------------------------------------------------------------------
// Loading and evaluation

type varDef struct {
	name        string
	def         hclsyntax.Expression // nil if no default
	typ         hclsyntax.Expression // nil if no type
	validations []validation
	rng         hcl.Range
}

type validation struct {
	cond, msg hclsyntax.Expression
}

type loader struct {
	file   *File
	env    map[string]string
	vars   map[string]*varDef
	attrs  map[string]*hclsyntax.Attribute
	values map[string]cty.Value
	sizes  map[string]int // valueSize of each resolved variable
	stack  []string
	ctx    *hcl.EvalContext
	refs   map[hclsyntax.Expression][]hcl.Traversal
	budget int64
	iters  int
}

// Load parses and evaluates a bake file. filename is used in errors and to
// recognise JSON and compose files, which are not supported. env supplies
// the environment that overrides variable defaults (buildx uses the process
// environment; pass nil for none).
func Load(src []byte, filename string, env map[string]string) (*File, error) {
	f := &File{
		filename: filename,
		targets:  map[string]*spec{},
		groups:   map[string]*group{},
		deps:     map[string][]string{},
		fromEnv:  map[string]string{},
	}
	if len(src) > MaxFileSize {
		return nil, f.errf(nil, "file is %d bytes, larger than the %d-byte limit", len(src), MaxFileSize)
	}
	if err := f.checkKind(src); err != nil {
		return nil, err
	}
	if err := f.checkNesting(src); err != nil {
		return nil, err
	}
	hf, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if diags.HasErrors() {
		return nil, f.diagErr(diags)
	}
	body, ok := hf.Body.(*hclsyntax.Body)
	if !ok {
		return nil, f.errf(nil, "unexpected body type %T", hf.Body)
	}
	l := &loader{
		file:   f,
		env:    env,
		vars:   map[string]*varDef{},
		attrs:  map[string]*hclsyntax.Attribute{},
		values: map[string]cty.Value{},
		sizes:  map[string]int{},
		refs:   map[hclsyntax.Expression][]hcl.Traversal{},
		budget: maxBudget,
	}
	l.ctx = &hcl.EvalContext{Variables: l.values, Functions: l.functions()}
	if err := l.collect(body); err != nil {
		return nil, err
	}
	if err := l.prepare(body); err != nil {
		return nil, err
	}
	// buildx evaluates every variable, whether used or not.
	for _, name := range sortedKeys(l.vars) {
		if err := l.resolveVar(name, l.vars[name].rng); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(l.vars) {
		if err := l.validate(l.vars[name]); err != nil {
			return nil, err
		}
	}
	for _, b := range body.Blocks {
		var err error
		switch b.Type {
		case "target":
			err = l.loadTarget(b)
		case "group":
			err = l.loadGroup(b)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(l.attrs) {
		if err := l.resolveVar(name, l.attrs[name].SrcRange); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func mapsKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func (f *File) unsupported(rng *hcl.Range, feature, format string, args ...any) *Error {
	e := f.errf(rng, "unsupported bake feature: "+format, args...)
	e.Feature = feature
	return e
}

// checkKind refuses JSON and compose files.
func (f *File) checkKind(src []byte) error {
	lower := strings.ToLower(path.Base(f.filename))
	switch {
	case strings.HasSuffix(lower, ".json"):
		return f.unsupported(nil, "json", "JSON bake files are not supported; use HCL (docker-bake.hcl)")
	case strings.HasSuffix(lower, ".yml") || strings.HasSuffix(lower, ".yaml"):
		return f.unsupported(nil, "compose", "compose files are not supported; use HCL (docker-bake.hcl)")
	}
	trimmed := strings.TrimLeft(string(src[:min(len(src), 4096)]), " \t\r\n\ufeff")
	if strings.HasPrefix(trimmed, "{") {
		// A JSON object is not valid HCL at top level anyway.
		if _, diags := hclsyntax.ParseConfig(src, f.filename, hcl.InitialPos); diags.HasErrors() {
			return f.unsupported(nil, "json", "JSON bake files are not supported; use HCL (docker-bake.hcl)")
		}
	}
	for _, line := range strings.SplitN(trimmed, "\n", 50) {
		if strings.HasPrefix(line, "services:") {
			return f.unsupported(nil, "compose", "compose files are not supported; use HCL (docker-bake.hcl)")
		}
	}
	return nil
}

// checkNesting bounds, on the token stream, how deeply the recursive HCL
// parser and evaluator will recurse: open brackets, quotes, interpolations
// and template directives, plus operators, traversals and index brackets
// within one expression (left-deep operator chains recurse too).
func (f *File) checkNesting(src []byte) error {
	toks, _ := hclsyntax.LexConfig(src, f.filename, hcl.InitialPos)
	type level struct {
		opener hclsyntax.TokenType
		ops    int
	}
	stack := []level{{opener: hclsyntax.TokenOBrace}}
	sum, directives := 0, 0
	prev := hclsyntax.TokenNewline
	for i, tok := range toks {
		top := &stack[len(stack)-1]
		switch tok.Type {
		case hclsyntax.TokenOBrack:
			switch prev {
			case hclsyntax.TokenIdent, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
				hclsyntax.TokenCQuote, hclsyntax.TokenCBrace, hclsyntax.TokenNumberLit:
				top.ops++ // index expression
				sum++
			}
			stack = append(stack, level{opener: tok.Type})
		case hclsyntax.TokenOBrace, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
			hclsyntax.TokenOHeredoc, hclsyntax.TokenTemplateInterp:
			stack = append(stack, level{opener: tok.Type})
		case hclsyntax.TokenTemplateControl:
			stack = append(stack, level{opener: tok.Type})
			if i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenIdent {
				switch string(toks[i+1].Bytes) {
				case "if", "for":
					directives++
				case "endif", "endfor":
					if directives > 0 {
						directives--
					}
				}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if len(stack) > 1 {
				sum -= top.ops
				stack = stack[:len(stack)-1]
			}
		case hclsyntax.TokenComma, hclsyntax.TokenEqual:
			sum -= top.ops
			top.ops = 0
		case hclsyntax.TokenNewline:
			if top.opener == hclsyntax.TokenOBrace {
				sum -= top.ops
				top.ops = 0
			}
		case hclsyntax.TokenBang, hclsyntax.TokenMinus, hclsyntax.TokenPlus,
			hclsyntax.TokenStar, hclsyntax.TokenSlash, hclsyntax.TokenPercent,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
			hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan,
			hclsyntax.TokenGreaterThanEq, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenQuestion, hclsyntax.TokenDot:
			top.ops++
			sum++
		}
		if tok.Type != hclsyntax.TokenComment {
			prev = tok.Type
		}
		if d := len(stack) - 1 + sum + directives; d > MaxDepth {
			return f.errf(&tok.Range, "nesting deeper than %d (brackets, strings, interpolations, directives and operators in one expression)", MaxDepth)
		}
	}
	return nil
}

func (f *File) diagErr(diags hcl.Diagnostics) error {
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		rng := d.Subject
		if rng == nil {
			rng = d.Context
		}
		msg := d.Summary
		if d.Detail != "" {
			msg += ": " + d.Detail
		}
		e := f.errf(rng, "%s", msg)
		if rng != nil && rng.Filename != "" {
			e.Filename = rng.Filename
		}
		return e
	}
	return f.errf(nil, "%s", diags.Error())
}

// prepare walks every expression once: it refuses unsupported constructs,
// checks number literals, records each expression's variables, and wraps
// for-expression collections with the iteration budget.
func (l *loader) prepare(body *hclsyntax.Body) error {
	f := l.file
	var fors []*hclsyntax.ForExpr
	var exprs []hclsyntax.Expression
	var collect func(b *hclsyntax.Body, blockType string)
	collect = func(b *hclsyntax.Body, blockType string) {
		for _, a := range b.Attributes {
			if blockType == "variable" && a.Name == "type" {
				continue // a type expression, not a value
			}
			if blockType == "target" && !knownAttr(a.Name) {
				continue // ignored unevaluated, as buildx does
			}
			exprs = append(exprs, a.Expr)
		}
		if blockType == "target" {
			return
		}
		for _, blk := range b.Blocks {
			collect(blk.Body, blk.Type)
		}
	}
	collect(body, "")
	var err error
	for _, e := range exprs {
		l.refs[e] = e.Variables()
		hclsyntax.VisitAll(e, func(n hclsyntax.Node) hcl.Diagnostics {
			if err != nil {
				return nil
			}
			switch n := n.(type) {
			case *hclsyntax.FunctionCallExpr:
				err = f.checkFunc(n)
			case *hclsyntax.ScopeTraversalExpr:
				switch root := n.Traversal.RootName(); root {
				case "target", "group":
					err = f.unsupported(n.SrcRange.Ptr(), "block-reference", "references to other blocks (%s.NAME...) are not supported", root)
				case "BAKE_LOCAL_PLATFORM":
					err = f.unsupported(n.SrcRange.Ptr(), "BAKE_LOCAL_PLATFORM", "BAKE_LOCAL_PLATFORM is host-dependent and not supported")
				}
			case *hclsyntax.LiteralValueExpr:
				if checkNumber(n.Val) != nil {
					err = f.errf(n.SrcRange.Ptr(), "number literal out of range")
				}
			case *hclsyntax.ForExpr:
				fors = append(fors, n)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	for _, fe := range fors {
		var body []hcl.Traversal
		for _, e := range []hclsyntax.Expression{fe.KeyExpr, fe.ValExpr, fe.CondExpr} {
			if e != nil {
				body = append(body, e.Variables()...)
			}
		}
		rng := fe.SrcRange
		fe.CollExpr = &budgetColl{
			Expression: fe.CollExpr,
			l:          l,
			body:       body,
			srcLen:     rng.End.Byte - rng.Start.Byte,
			rng:        rng,
		}
	}
	return nil
}

// budgetColl wraps a for expression's collection: it charges the
// iterations and their estimated output to the Load's budget before the
// for expression iterates.
type budgetColl struct {
	hclsyntax.Expression
	l      *loader
	body   []hcl.Traversal
	srcLen int
	rng    hcl.Range
}

func (b *budgetColl) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := b.Expression.Value(ctx)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() {
		return v, diags
	}
	uv, _ := v.Unmark()
	if !uv.CanIterateElements() {
		return v, diags
	}
	n := uv.LengthInt()
	b.l.iters += n
	per := int64(b.srcLen + 16)
	for _, t := range b.body {
		per += int64(b.l.sizes[t.RootName()]) // iteration variables count 0
	}
	if b.l.iters > maxIterations {
		return cty.DynamicVal, append(diags, budgetDiag(b.rng, fmt.Sprintf("more than %d for-expression iterations", maxIterations)))
	}
	if err := b.l.charge(int64(n) * per); err != nil {
		return cty.DynamicVal, append(diags, budgetDiag(b.rng, err.Error()))
	}
	return v, diags
}

func budgetDiag(rng hcl.Range, msg string) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Evaluation limit exceeded", Detail: msg, Subject: rng.Ptr()}
}

func (l *loader) charge(n int64) error {
	l.budget -= n
	if l.budget < 0 {
		return fmt.Errorf("evaluation would produce more than %d bytes", maxBudget)
	}
	return nil
}

// collect indexes the top-level blocks and attributes.
func (l *loader) collect(body *hclsyntax.Body) error {
	f := l.file
	counts := map[string]int{}
	for _, b := range body.Blocks {
		rng := b.DefRange()
		switch b.Type {
		case "target", "group", "variable":
		case "function":
			return f.unsupported(&rng, "function", "user-defined function blocks are not supported")
		default:
			return f.errf(&rng, "unsupported block type %q (want target, group or variable)", b.Type)
		}
		counts[b.Type]++
		if counts[b.Type] > MaxTargets {
			return f.errf(&rng, "more than %d %s blocks", MaxTargets, b.Type)
		}
		if len(b.Labels) != 1 {
			return f.errf(&rng, "%s block needs exactly one label, got %d", b.Type, len(b.Labels))
		}
		if b.Type != "variable" && !validName(b.Labels[0]) {
			return f.errf(&rng, "invalid %s name %q: only [a-zA-Z0-9_-]+ is allowed", b.Type, b.Labels[0])
		}
		if b.Type == "target" {
			for _, attr := range []string{"matrix", "name"} {
				if a, ok := b.Body.Attributes[attr]; ok {
					return f.unsupported(a.SrcRange.Ptr(), "matrix", "matrix targets are not supported (attribute %q in target %q)", attr, b.Labels[0])
				}
			}
		}
		if b.Type == "variable" {
			v, err := l.parseVariable(b)
			if err != nil {
				return err
			}
			if v.name == "BAKE_CMD_CONTEXT" {
				continue // buildx: builtins are reserved
			}
			l.vars[v.name] = v // buildx: a later definition wins
		}
	}
	for name, a := range body.Attributes {
		switch name {
		case "target", "group", "variable", "function":
			return f.errf(a.SrcRange.Ptr(), "global attributes currently not supported: %q", name)
		case "BAKE_CMD_CONTEXT":
			continue
		}
		l.attrs[name] = a
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func (l *loader) parseVariable(b *hclsyntax.Block) (*varDef, error) {
	v := &varDef{name: b.Labels[0], rng: b.DefRange()}
	for name, a := range b.Body.Attributes {
		switch name {
		case "default":
			v.def = a.Expr
		case "type":
			v.typ = a.Expr
		}
		// buildx ignores other attributes (description, ...).
	}
	for _, vb := range b.Body.Blocks {
		if vb.Type != "validation" {
			continue
		}
		cond, ok := vb.Body.Attributes["condition"]
		if !ok {
			rng := vb.DefRange()
			return nil, l.file.errf(&rng, "validation block of variable %q needs a condition", v.name)
		}
		val := validation{cond: cond.Expr}
		if m, ok := vb.Body.Attributes["error_message"]; ok {
			val.msg = m.Expr
		}
		v.validations = append(v.validations, val)
	}
	return v, nil
}

// eval evaluates an expression after resolving the variables it uses.
func (l *loader) eval(e hclsyntax.Expression) (cty.Value, []string, error) {
	var roots []string
	cost := int64(e.Range().End.Byte - e.Range().Start.Byte)
	for _, t := range l.refs[e] {
		root := t.RootName()
		if err := l.resolveVar(root, t.SourceRange()); err != nil {
			return cty.NilVal, nil, err
		}
		if size, ok := l.sizes[root]; ok {
			cost += int64(size)
			roots = appendUnique(roots, root)
		}
	}
	if err := l.charge(cost); err != nil {
		return cty.NilVal, nil, l.file.errf(e.Range().Ptr(), "%v", err)
	}
	v, diags := e.Value(l.ctx)
	if diags.HasErrors() {
		return cty.NilVal, nil, l.file.diagErr(diags)
	}
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() {
		return cty.NilVal, nil, l.file.errf(e.Range().Ptr(), "expression has no known value")
	}
	return v, roots, nil
}

// resolveVar computes a variable's value as buildx's resolveValue does.
func (l *loader) resolveVar(name string, from hcl.Range) error {
	if _, ok := l.values[name]; ok {
		return nil
	}
	f := l.file
	if name == "BAKE_CMD_CONTEXT" {
		l.values[name] = cty.StringVal("cwd://")
		l.sizes[name] = 7
		return nil
	}
	vr, isVar := l.vars[name]
	attr, isAttr := l.attrs[name]
	if !isVar && !isAttr {
		return nil // evaluation reports the unknown variable
	}
	if slices.Contains(l.stack, name) {
		return f.errf(&from, "variable cycle not allowed for %s", name)
	}
	if len(l.stack) >= MaxDepth {
		return f.errf(&from, "variables reference each other deeper than %d", MaxDepth)
	}
	l.stack = append(l.stack, name)
	defer func() { l.stack = l.stack[:len(l.stack)-1] }()

	varType, typed := cty.DynamicPseudoType, false
	var def hclsyntax.Expression
	rng := from
	if isAttr {
		def, rng = attr.Expr, attr.SrcRange
	} else {
		def, rng = vr.def, vr.rng
		if vr.typ != nil {
			t, diags := typeexpr.TypeConstraint(vr.typ)
			if diags.HasErrors() {
				if v, err := vr.typ.Value(nil); err == nil && v.IsNull() {
					t = cty.DynamicPseudoType
				} else {
					return f.diagErr(diags)
				}
			}
			varType = t
			typed = !t.Equals(cty.DynamicPseudoType) || hcl.ExprAsKeyword(vr.typ) == "any"
		}
	}

	envv, envKey, hasEnv, jsonEnv := l.override(name, typed)
	var val cty.Value
	var deps []string
	if def == nil {
		if typed {
			val = cty.NullVal(varType)
		} else {
			val = cty.StringVal("")
		}
	} else {
		v, roots, err := l.eval(def)
		if err != nil {
			return err
		}
		if v, err = convert.Convert(v, varType); err != nil {
			return f.errf(&rng, "invalid type %s for variable %s default value: %v", varType.FriendlyName(), name, err)
		}
		val, deps = v, roots
	}
	if hasEnv && isVar {
		var err error
		switch {
		case typed && jsonEnv:
			val, err = ctyjson.Unmarshal([]byte(envv), varType)
			if err != nil {
				err = fmt.Errorf("failed to convert variable %s from JSON: %v", name, err)
			}
		case varType.IsListType() || varType.IsSetType() || varType.IsTupleType() || varType.IsMapType():
			val, err = valueFromCSV(name, envv, varType)
		case typed && varType.IsPrimitiveType():
			val, err = convertPrimitive(name, envv, varType)
		case typed:
			err = fmt.Errorf("unsupported type %s for variable %s", varType.FriendlyName(), name)
		case def == nil, val.Type().Equals(cty.DynamicPseudoType):
			val = cty.StringVal(envv)
		case val.Type().IsPrimitiveType():
			val, err = convertPrimitive(name, envv, val.Type())
		default:
			err = fmt.Errorf("unsupported type %s for variable %s", val.Type().FriendlyName(), name)
		}
		if err != nil {
			return f.errf(&rng, "environment variable %s: %v", envKey, err)
		}
		f.fromEnv[name] = envKey
		deps = nil
	}
	if err := checkValue(val); err != nil {
		return f.errf(&rng, "variable %s: %v", name, err)
	}
	l.values[name] = val
	l.sizes[name] = valueSize(val, maxBudget)
	f.deps[name] = deps
	return nil
}

// override mirrors buildx's valueHasOverride: NAME, or NAME_JSON when NAME
// is absent or the variable is typed (and no variable NAME_JSON exists).
func (l *loader) override(name string, favorJSON bool) (val, key string, ok, isJSON bool) {
	val, ok = l.env[name]
	key = name
	if !ok || favorJSON {
		jname := name + "_JSON"
		if _, exists := l.vars[jname]; !exists && jname != "BAKE_CMD_CONTEXT" {
			if j, found := l.env[jname]; found {
				return j, jname, true, true
			}
		}
	}
	return val, key, ok, false
}

func (l *loader) validate(v *varDef) error {
	f := l.file
	for _, rule := range v.validations {
		res, _, err := l.eval(rule.cond)
		if err != nil {
			return err
		}
		rng := rule.cond.Range()
		if res.IsNull() {
			return f.errf(&rng, "variable %s: validation condition must return true or false, not null", v.name)
		}
		res, cerr := convert.Convert(res, cty.Bool)
		if cerr != nil {
			return f.errf(&rng, "variable %s: invalid validation condition result: %v", v.name, cerr)
		}
		if res.True() {
			continue
		}
		msg := "This check failed, but has an invalid error message."
		if rule.msg != nil {
			m, _, err := l.eval(rule.msg)
			if err != nil {
				return err
			}
			if s, err := convert.Convert(m, cty.String); err == nil && !s.IsNull() {
				msg = s.AsString()
			}
		}
		return f.errf(&rng, "variable %s: validation failed: %s", v.name, msg)
	}
	return nil
}

func convertPrimitive(name, value string, target cty.Type) (cty.Value, error) {
	switch {
	case target.Equals(cty.String):
		return cty.StringVal(value), nil
	case target.Equals(cty.Bool):
		b, err := strconv.ParseBool(value)
		if err != nil {
			return cty.NilVal, fmt.Errorf("failed to parse %s as bool: %v", name, err)
		}
		return cty.BoolVal(b), nil
	case target.Equals(cty.Number):
		n, err := strconv.ParseFloat(value, 64)
		if err == nil && (math.IsNaN(n) || math.IsInf(n, 0)) {
			err = errors.New("invalid number value")
		}
		if err != nil {
			return cty.NilVal, fmt.Errorf("failed to parse %s as number: %v", name, err)
		}
		return cty.NumberVal(big.NewFloat(n)), nil
	default:
		return cty.NilVal, fmt.Errorf("%s of type %s is not a primitive", name, target.FriendlyName())
	}
}

func csvFields(s string, comma rune) ([]string, error) {
	r := csv.NewReader(strings.NewReader(s))
	r.Comma = comma
	r.LazyQuotes = true
	fields, err := r.Read()
	if err != nil {
		if s == "" {
			return nil, nil
		}
		return nil, err
	}
	return fields, nil
}

// valueFromCSV mirrors buildx: lists, sets and tuples of primitives from
// CSV, maps from CSV "key:value" pairs.
func valueFromCSV(name, value string, target cty.Type) (cty.Value, error) {
	fields, err := csvFields(value, ',')
	if err != nil {
		return cty.NilVal, fmt.Errorf("failed to parse %s as CSV: %v", name, err)
	}
	elems := func(t cty.Type) ([]cty.Value, error) {
		if !t.IsPrimitiveType() {
			return nil, fmt.Errorf("unsupported type %s for CSV specification", target.FriendlyName())
		}
		var out []cty.Value
		for _, fld := range fields {
			v, err := convertPrimitive(name, fld, t)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	switch {
	case target.IsListType():
		es, err := elems(target.ElementType())
		if err != nil {
			return cty.NilVal, err
		}
		if len(es) == 0 {
			return cty.ListValEmpty(target.ElementType()), nil
		}
		return cty.ListVal(es), nil
	case target.IsSetType():
		es, err := elems(target.ElementType())
		if err != nil {
			return cty.NilVal, err
		}
		if len(es) == 0 {
			return cty.SetValEmpty(target.ElementType()), nil
		}
		return cty.SetVal(es), nil
	case target.IsTupleType():
		tts := target.TupleElementTypes()
		if len(tts) != len(fields) {
			return cty.NilVal, fmt.Errorf("%s expects %d elements but %d provided", target.FriendlyName(), len(tts), len(fields))
		}
		var out []cty.Value
		for i, fld := range fields {
			if !tts[i].IsPrimitiveType() {
				return cty.NilVal, fmt.Errorf("unsupported type %s for CSV specification", target.FriendlyName())
			}
			v, err := convertPrimitive(name, fld, tts[i])
			if err != nil {
				return cty.NilVal, err
			}
			out = append(out, v)
		}
		return cty.TupleVal(out), nil
	case target.IsMapType():
		if !target.ElementType().IsPrimitiveType() {
			return cty.NilVal, fmt.Errorf("unsupported type %s for CSV specification", target.FriendlyName())
		}
		m := map[string]cty.Value{}
		for _, fld := range fields {
			kv, err := csvFields(fld, ':')
			if err != nil || len(kv) != 2 {
				return cty.NilVal, fmt.Errorf("expected one key:value pair in %q", fld)
			}
			v, err := convertPrimitive(name, kv[1], target.ElementType())
			if err != nil {
				return cty.NilVal, err
			}
			m[kv[0]] = v
		}
		if len(m) == 0 {
			return cty.MapValEmpty(target.ElementType()), nil
		}
		return cty.MapVal(m), nil
	}
	return cty.NilVal, fmt.Errorf("unsupported type %s for CSV specification", target.FriendlyName())
}

// ---------------------------------------------------------------------
// Targets and groups

var ignoredAttrs = map[string]bool{
	"annotations": true, "attest": true, "secret": true, "ssh": true,
	"pull": true, "no-cache": true, "network": true, "no-cache-filter": true,
	"shm-size": true, "ulimits": true, "resources": true, "call": true,
	"entitlements": true, "extra-hosts": true, "policy": true,
}

func (l *loader) loadTarget(b *hclsyntax.Block) error {
	f := l.file
	name := b.Labels[0]
	rng := b.DefRange()
	s := &spec{rng: rng}
	for _, nb := range b.Body.Blocks {
		// buildx ignores blocks in a target, without evaluating them.
		s.ignored = appendUnique(s.ignored, nb.Type+"{}")
	}
	// Evaluate in source order for deterministic errors.
	attrs := make([]*hclsyntax.Attribute, 0, len(b.Body.Attributes))
	for _, a := range b.Body.Attributes {
		attrs = append(attrs, a)
	}
	sort.Slice(attrs, func(i, j int) bool { return attrs[i].SrcRange.Start.Byte < attrs[j].SrcRange.Start.Byte })
	for _, a := range attrs {
		if !knownAttr(a.Name) {
			// buildx ignores attributes it does not know, unevaluated.
			s.ignored = appendUnique(s.ignored, a.Name)
			continue
		}
		v, roots, err := l.eval(a.Expr)
		if err != nil {
			return err
		}
		s.refs = appendUnique(s.refs, roots...)
		if err := l.setAttr(s, name, a, v); err != nil {
			return err
		}
	}
	if old, ok := f.targets[name]; ok {
		old.merge(s) // buildx merges blocks with the same name
		return nil
	}
	f.targets[name] = s
	f.order = append(f.order, name)
	return nil
}

func knownAttr(n string) bool {
	switch n {
	case "context", "dockerfile", "dockerfile-inline", "target", "args", "platforms",
		"tags", "labels", "output", "cache-from", "cache-to", "inherits",
		"description", "contexts":
		return true
	}
	return ignoredAttrs[n]
}

func (l *loader) setAttr(s *spec, tname string, a *hclsyntax.Attribute, v cty.Value) error {
	f := l.file
	rng := a.Expr.Range()
	bad := func(format string, args ...any) error {
		return f.errf(&rng, "target %q: %s: %s", tname, a.Name, fmt.Sprintf(format, args...))
	}
	if v.IsNull() {
		return nil // null means unset, as for gohcl-decoded pointers
	}
	str := func() (*string, error) {
		sv, err := convert.Convert(v, cty.String)
		if err != nil {
			return nil, bad("must be a string: %v", err)
		}
		out := sv.AsString()
		return &out, nil
	}
	var err error
	switch a.Name {
	case "context":
		s.context, err = str()
	case "dockerfile":
		s.dockerfile, err = str()
	case "dockerfile-inline":
		s.dockerfileInline, err = str()
	case "target":
		s.target, err = str()
	case "description":
		s.description, err = str()
	case "args":
		s.args, err = stringMap(v)
	case "labels":
		s.labels, err = stringMap(v)
	case "contexts":
		var m map[string]*string
		m, err = stringMap(v)
		for k, val := range m {
			if s.contexts == nil {
				s.contexts = map[string]string{}
			}
			if val != nil {
				s.contexts[k] = *val
			} else {
				s.contexts[k] = ""
			}
		}
	case "platforms", "tags", "inherits":
		var list []string
		list, err = stringList(v, false)
		switch a.Name {
		case "platforms":
			s.platforms = &list
		case "tags":
			s.tags = &list
		case "inherits":
			s.inherits = list
			s.inheritsRng = rng
		}
	case "output", "cache-to", "cache-from":
		var list []string
		list, err = stringList(v, true)
		switch a.Name {
		case "output":
			s.outputs = &list
		case "cache-to":
			s.cacheTo = &list
		case "cache-from":
			if list == nil {
				list = []string{}
			}
			s.cacheFrom = list
		}
	default:
		s.ignored = appendUnique(s.ignored, a.Name)
	}
	if err != nil {
		if _, ok := err.(*Error); ok {
			return err
		}
		return bad("%v", err)
	}
	return nil
}

// stringMap converts an object or map of primitives; null values stay nil.
func stringMap(v cty.Value) (map[string]*string, error) {
	if !v.Type().IsObjectType() && !v.Type().IsMapType() {
		return nil, fmt.Errorf("must be a map, not %s", v.Type().FriendlyName())
	}
	out := map[string]*string{}
	for it := v.ElementIterator(); it.Next(); {
		k, ev := it.Element()
		key := k.AsString()
		if ev.IsNull() {
			out[key] = nil
			continue
		}
		sv, err := convert.Convert(ev, cty.String)
		if err != nil {
			return nil, fmt.Errorf("value of %q must be a string, not %s", key, ev.Type().FriendlyName())
		}
		s := sv.AsString()
		out[key] = &s
	}
	return out, nil
}

// stringList converts a list, set or tuple of strings. With objects true,
// an element may also be an object of primitives (buildx's structured
// cache/output entries), rendered as "type=...,key=value" CSV.
func stringList(v cty.Value, objects bool) ([]string, error) {
	t := v.Type()
	if !t.IsListType() && !t.IsSetType() && !t.IsTupleType() {
		return nil, fmt.Errorf("must be a list, not %s", t.FriendlyName())
	}
	out := []string{}
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		if ev.IsNull() {
			return nil, errors.New("list elements must not be null")
		}
		if objects && (ev.Type().IsObjectType() || ev.Type().IsMapType()) {
			s, err := renderEntry(ev)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
			continue
		}
		sv, err := convert.Convert(ev, cty.String)
		if err != nil {
			return nil, fmt.Errorf("list elements must be strings, not %s", ev.Type().FriendlyName())
		}
		out = append(out, sv.AsString())
	}
	return out, nil
}

func renderEntry(v cty.Value) (string, error) {
	m, err := stringMap(v)
	if err != nil {
		return "", err
	}
	keys := mapsKeys(m)
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == "type") != (keys[j] == "type") {
			return keys[i] == "type"
		}
		return keys[i] < keys[j]
	})
	var parts []string
	for _, k := range keys {
		if m[k] == nil {
			continue
		}
		kv := k + "=" + *m[k]
		if strings.ContainsAny(kv, ",\"\n") {
			kv = `"` + strings.ReplaceAll(kv, `"`, `""`) + `"`
		}
		parts = append(parts, kv)
	}
	return strings.Join(parts, ","), nil
}

func (l *loader) loadGroup(b *hclsyntax.Block) error {
	f := l.file
	name := b.Labels[0]
	rng := b.DefRange()
	g := &group{rng: rng}
	ta, ok := b.Body.Attributes["targets"]
	if !ok {
		return f.errf(&rng, "group %q: missing required argument \"targets\"", name)
	}
	for an, a := range b.Body.Attributes {
		if an != "targets" && an != "description" {
			continue // buildx ignores unknown attributes
		}
		v, _, err := l.eval(a.Expr)
		if err != nil {
			return err
		}
		if an != "targets" {
			continue
		}
		if v.IsNull() {
			return f.errf(a.Expr.Range().Ptr(), "group %q: targets must not be null", name)
		}
		list, err := stringList(v, false)
		if err != nil {
			return f.errf(a.Expr.Range().Ptr(), "group %q: targets: %v", name, err)
		}
		g.targets = appendUnique(nil, list...)
		g.rng = ta.SrcRange
	}
	f.groups[name] = g // buildx: a later group definition replaces
	return nil
}

// ---------------------------------------------------------------------
// Functions and value limits

// stdFuncs are the deterministic functions of buildx's standard library
// that go-cty and hcl provide.
var stdFuncs = map[string]function.Function{
	"absolute": stdlib.AbsoluteFunc, "add": stdlib.AddFunc, "and": stdlib.AndFunc,
	"byteslen": stdlib.BytesLenFunc, "bytesslice": stdlib.BytesSliceFunc,
	"can": tryfunc.CanFunc, "ceil": stdlib.CeilFunc, "chomp": stdlib.ChompFunc,
	"chunklist": stdlib.ChunklistFunc, "coalesce": stdlib.CoalesceFunc,
	"coalescelist": stdlib.CoalesceListFunc, "compact": stdlib.CompactFunc,
	"concat": stdlib.ConcatFunc, "contains": stdlib.ContainsFunc,
	"convert": typeexpr.ConvertFunc, "csvdecode": stdlib.CSVDecodeFunc,
	"distinct": stdlib.DistinctFunc, "divide": stdlib.DivideFunc,
	"element": stdlib.ElementFunc, "equal": stdlib.EqualFunc,
	"flatten": stdlib.FlattenFunc, "floor": stdlib.FloorFunc,
	"format": stdlib.FormatFunc, "formatdate": stdlib.FormatDateFunc,
	"formatlist": stdlib.FormatListFunc, "greaterthan": stdlib.GreaterThanFunc,
	"greaterthanorequalto": stdlib.GreaterThanOrEqualToFunc,
	"hasindex":             stdlib.HasIndexFunc, "indent": stdlib.IndentFunc,
	"index": stdlib.IndexFunc, "int": stdlib.IntFunc, "join": stdlib.JoinFunc,
	"jsondecode": stdlib.JSONDecodeFunc, "jsonencode": stdlib.JSONEncodeFunc,
	"keys": stdlib.KeysFunc, "length": stdlib.LengthFunc,
	"lessthan": stdlib.LessThanFunc, "lessthanorequalto": stdlib.LessThanOrEqualToFunc,
	"log": stdlib.LogFunc, "lookup": stdlib.LookupFunc, "lower": stdlib.LowerFunc,
	"max": stdlib.MaxFunc, "merge": stdlib.MergeFunc, "min": stdlib.MinFunc,
	"modulo": stdlib.ModuloFunc, "multiply": stdlib.MultiplyFunc,
	"negate": stdlib.NegateFunc, "not": stdlib.NotFunc, "notequal": stdlib.NotEqualFunc,
	"or": stdlib.OrFunc, "parseint": stdlib.ParseIntFunc, "pow": stdlib.PowFunc,
	"range": stdlib.RangeFunc, "regex_replace": stdlib.RegexReplaceFunc,
	"regex": stdlib.RegexFunc, "regexall": stdlib.RegexAllFunc,
	"replace": stdlib.ReplaceFunc, "reverse": stdlib.ReverseFunc,
	"reverselist": stdlib.ReverseListFunc, "sethaselement": stdlib.SetHasElementFunc,
	"setintersection": stdlib.SetIntersectionFunc, "setproduct": stdlib.SetProductFunc,
	"setsubtract":            stdlib.SetSubtractFunc,
	"setsymmetricdifference": stdlib.SetSymmetricDifferenceFunc,
	"setunion":               stdlib.SetUnionFunc, "signum": stdlib.SignumFunc,
	"slice": stdlib.SliceFunc, "sort": stdlib.SortFunc, "split": stdlib.SplitFunc,
	"strlen": stdlib.StrlenFunc, "substr": stdlib.SubstrFunc,
	"subtract": stdlib.SubtractFunc, "timeadd": stdlib.TimeAddFunc,
	"title": stdlib.TitleFunc, "trim": stdlib.TrimFunc,
	"trimprefix": stdlib.TrimPrefixFunc, "trimspace": stdlib.TrimSpaceFunc,
	"trimsuffix": stdlib.TrimSuffixFunc, "try": tryfunc.TryFunc,
	"upper": stdlib.UpperFunc, "values": stdlib.ValuesFunc, "zipmap": stdlib.ZipmapFunc,
	"basename": stringFunc("Returns the last element of a path.", path.Base),
	"dirname":  stringFunc("Returns the directory of a path.", path.Dir),
	"sanitize": stringFunc("Replaces all characters not valid in a bake target name with an underscore.", sanitize),
	"indexof":  indexOfFunc,
}

// unsupportedFuncs are buildx functions this subset refuses, with why.
var unsupportedFuncs = map[string]string{
	"timestamp": "time-dependent", "formattimestamp": "time-dependent",
	"unixtimestampparse": "not implemented", "homedir": "host-dependent",
	"uuidv4": "random", "uuidv5": "not implemented", "bcrypt": "random",
	"md5": "not implemented", "sha1": "not implemented", "sha256": "not implemented",
	"sha512": "not implemented", "base64encode": "not implemented",
	"base64decode": "not implemented", "urlencode": "not implemented",
	"cidrhost": "not implemented", "cidrnetmask": "not implemented",
	"cidrsubnet": "not implemented", "cidrsubnets": "not implemented",
	"rsadecrypt": "not implemented", "semvercmp": "not implemented",
}

func (f *File) checkFunc(n *hclsyntax.FunctionCallExpr) error {
	rng := n.NameRange
	if _, ok := stdFuncs[n.Name]; ok {
		return nil
	}
	switch n.Name {
	case "list", "set", "map", "tuple", "object", "optional":
		return nil // type constructors, e.g. in convert(v, list(string))
	}
	if why, ok := unsupportedFuncs[n.Name]; ok {
		return f.unsupported(&rng, "function:"+n.Name, "function %s() is not supported (%s)", n.Name, why)
	}
	return f.errf(&rng, "call to unknown function %s()", n.Name)
}

func stringFunc(desc string, fn func(string) string) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{{Name: "s", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.StringVal(fn(args[0].AsString())), nil
		},
	})
}

func sanitize(in string) string {
	var b strings.Builder
	for _, r := range in {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return b.String()
}

// indexOfFunc mirrors buildx's indexof(list, value).
var indexOfFunc = function.New(&function.Spec{
	Description: "Finds the element index for a given value in a list.",
	Params: []function.Parameter{
		{Name: "list", Type: cty.DynamicPseudoType},
		{Name: "value", Type: cty.DynamicPseudoType},
	},
	Type: function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if !args[0].Type().IsListType() && !args[0].Type().IsTupleType() {
			return cty.NilVal, errors.New("argument must be a list or tuple")
		}
		if !args[0].IsKnown() {
			return cty.UnknownVal(cty.Number), nil
		}
		if args[0].LengthInt() == 0 {
			return cty.NilVal, errors.New("cannot search an empty list")
		}
		for it := args[0].ElementIterator(); it.Next(); {
			i, v := it.Element()
			eq, err := stdlib.Equal(v, args[1])
			if err != nil {
				return cty.NilVal, err
			}
			if !eq.IsKnown() {
				return cty.UnknownVal(cty.Number), nil
			}
			if eq.True() {
				return i, nil
			}
		}
		return cty.NilVal, errors.New("item not found")
	},
})

// functions returns the function table, each function wrapped with the
// Load's limits: arguments and result ≤ maxValueBytes each (checked before
// the call where the result can be far larger than the arguments), and the
// result charged to the budget.
func (l *loader) functions() map[string]function.Function {
	out := make(map[string]function.Function, len(stdFuncs))
	for name, fn := range stdFuncs {
		switch name {
		case "try", "can", "convert":
			out[name] = fn // take expressions or types; results are checked by their callers
			continue
		}
		out[name] = l.limited(name, fn)
	}
	return out
}

func (l *loader) limited(name string, fn function.Function) function.Function {
	return function.New(&function.Spec{
		Description: fn.Description(),
		Params:      fn.Params(),
		VarParam:    fn.VarParam(),
		Type: func(args []cty.Value) (cty.Type, error) {
			return fn.ReturnTypeForValues(args)
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			in := 0
			for _, a := range args {
				in += valueSize(a, maxBudget)
			}
			if in > 4*maxValueBytes {
				return cty.NilVal, fmt.Errorf("arguments larger than %d bytes", 4*maxValueBytes)
			}
			if err := preCheck(name, args); err != nil {
				return cty.NilVal, err
			}
			res, err := fn.Call(args)
			if err != nil {
				return res, err
			}
			if err := checkValue(res); err != nil {
				return cty.NilVal, err
			}
			if err := l.charge(int64(valueSize(res, maxBudget))); err != nil {
				return cty.NilVal, err
			}
			return res, nil
		},
	})
}

// preCheck refuses calls whose result would be much larger than their
// arguments.
func preCheck(name string, args []cty.Value) error {
	str := func(i int) (string, bool) {
		if i >= len(args) || args[i].IsNull() || !args[i].IsKnown() || !args[i].Type().Equals(cty.String) {
			return "", false
		}
		return args[i].AsString(), true
	}
	num := func(i int) (float64, bool) {
		if i >= len(args) || args[i].IsNull() || !args[i].IsKnown() || !args[i].Type().Equals(cty.Number) {
			return 0, false
		}
		f, _ := args[i].AsBigFloat().Float64()
		return f, true
	}
	switch name {
	case "format", "formatlist":
		fmtStr, ok := str(0)
		if !ok {
			return nil
		}
		if err := checkFormatPad(fmtStr); err != nil {
			return err
		}
		if name == "formatlist" {
			n := 1
			for _, a := range args[1:] {
				if a.IsKnown() && !a.IsNull() && a.CanIterateElements() {
					n = max(n, a.LengthInt())
				}
			}
			if int64(n)*int64(len(fmtStr)+16) > maxValueBytes {
				return fmt.Errorf("result would exceed %d bytes", maxValueBytes)
			}
		}
	case "indent":
		n, ok := num(0)
		s, _ := str(1)
		if ok && (n > maxFormatPad || float64(len(s))+n*float64(strings.Count(s, "\n")) > maxValueBytes) {
			return fmt.Errorf("result would exceed %d bytes", maxValueBytes)
		}
	case "replace", "regex_replace":
		s, ok1 := str(0)
		sub, ok2 := str(1)
		rep, ok3 := str(2)
		if ok1 && ok2 && ok3 {
			occ := len(s) + 1
			if name == "replace" && sub != "" {
				occ = len(s)/len(sub) + 1
			}
			if int64(len(s))+int64(occ)*int64(len(rep)) > maxValueBytes {
				return fmt.Errorf("result could exceed %d bytes", maxValueBytes)
			}
		}
	case "setproduct":
		n := int64(1)
		for _, a := range args {
			if a.IsKnown() && !a.IsNull() && a.CanIterateElements() {
				n *= int64(a.LengthInt())
				if n > 1024 {
					return errors.New("product of more than 1024 elements")
				}
			}
		}
	}
	return nil
}

// checkFormatPad refuses width or precision above maxFormatPad in format
// verbs ("%99999999s" would allocate that much).
func checkFormatPad(s string) error {
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			continue
		}
		j := i + 1
		for j < len(s) && strings.IndexByte("%-+ #0[]123456789.", s[j]) >= 0 {
			if s[j] == '%' && j == i+1 {
				break
			}
			if s[j] >= '0' && s[j] <= '9' {
				k := j
				for k < len(s) && s[k] >= '0' && s[k] <= '9' {
					k++
				}
				if n, err := strconv.Atoi(s[j:k]); err != nil || n > maxFormatPad {
					return fmt.Errorf("format width or precision above %d", maxFormatPad)
				}
				j = k
				continue
			}
			j++
		}
		i = j
	}
	return nil
}

// checkValue enforces the per-value limits.
func checkValue(v cty.Value) error {
	if valueSize(v, maxValueBytes+1) > maxValueBytes {
		return fmt.Errorf("value larger than %d bytes", maxValueBytes)
	}
	return checkNumbers(v)
}

func checkNumbers(v cty.Value) error {
	v, _ = v.Unmark()
	if v.IsNull() || !v.IsKnown() {
		return nil
	}
	t := v.Type()
	switch {
	case t.Equals(cty.Number):
		return checkNumber(v)
	case t.IsListType() || t.IsSetType() || t.IsTupleType() || t.IsMapType() || t.IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			if err := checkNumbers(ev); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkNumber(v cty.Value) error {
	v, _ = v.Unmark()
	if v.IsNull() || !v.IsKnown() || !v.Type().Equals(cty.Number) {
		return nil
	}
	bf := v.AsBigFloat()
	if bf.IsInf() {
		return nil
	}
	if e := bf.MantExp(nil); e > maxNumberBits || e < -maxNumberBits {
		return fmt.Errorf("number out of range (beyond 2^%d)", maxNumberBits)
	}
	return nil
}

// valueSize estimates a value's size in bytes, stopping past limit.
func valueSize(v cty.Value, limit int) int {
	v, _ = v.Unmark()
	if v.IsNull() || !v.IsKnown() {
		return 1
	}
	t := v.Type()
	switch {
	case t.Equals(cty.String):
		return len(v.AsString()) + 1
	case t.Equals(cty.Number):
		return 16
	case t.Equals(cty.Bool):
		return 1
	case t.IsListType() || t.IsSetType() || t.IsTupleType() || t.IsMapType() || t.IsObjectType():
		n := 8
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			if t.IsMapType() || t.IsObjectType() {
				n += len(k.AsString())
			}
			n += 8 + valueSize(ev, limit-n)
			if n > limit {
				return n
			}
		}
		return n
	}
	return 16
}

func sortedKeys[V any](m map[string]V) []string {
	keys := mapsKeys(m)
	sort.Strings(keys)
	return keys
}
