package bake

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/reprover/reprover/internal/limits"
)

// Limits bound every Load: the input is untrusted. A zero field takes its
// value from DefaultLimits (limits.WithDefaults); the CLI's --limit sets
// them (docs/cli.md lists them all).
type Limits struct {
	// MaxFileSize is the largest bake file Load accepts, in bytes.
	MaxFileSize int `limit:"largest bake file accepted, in bytes"`
	// MaxDepth bounds expression/block nesting, variable reference chains,
	// group nesting and inherits depth.
	MaxDepth int `limit:"deepest nesting of expressions, blocks, variable references, groups and inherits in a bake file"`
	// MaxTargets bounds the number of target blocks (and, separately, of
	// group and of variable blocks).
	MaxTargets int `limit:"most target blocks (and, separately, group and variable blocks) in a bake file"`
	// MaxValueBytes bounds one variable's value and one function's
	// result (and a function's arguments to four times it), as sized by
	// valueSize.
	MaxValueBytes int `limit:"largest value of one bake variable or function result, in bytes"`
	// MaxEvalBytes bounds all the values one Load produces, every node of
	// every expression counted as it produces its value.
	MaxEvalBytes int64 `limit:"most bytes all the values of one bake file may add up to while it is evaluated"`
	// MaxIterations bounds the for-expression iterations of one Load.
	MaxIterations int64 `limit:"most for-expression iterations evaluating one bake file"`
}

// DefaultLimits are the limits of a Load given none.
var DefaultLimits = Limits{
	MaxFileSize:   1 << 20,
	MaxDepth:      32,
	MaxTargets:    1000,
	MaxValueBytes: 64 << 10,
	MaxEvalBytes:  64 << 20,
	MaxIterations: 10000,
}

const (
	maxNumberBits = 4096 // |binary exponent| of any number
	maxFormatPad  = 1024 // width/precision in format verbs, indent count
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
	// Err is the cause when it is one callers tell apart: a
	// *limits.Error for an evaluation limit.
	Err error
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

// Unwrap lets errors.Is(err, ErrUnsupported) match unsupported features,
// and errors.As find a *limits.Error.
func (e *Error) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
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
	lim      Limits
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

// wrapf is errf for a cause: "format: err", and err kept for errors.As.
func (f *File) wrapf(rng *hcl.Range, err error, format string, args ...any) *Error {
	e := f.errf(rng, format+": %v", append(args, err)...)
	e.Err = err
	return e
}

// limitErr is the error for an evaluation limit exceeded at rng.
func (f *File) limitErr(rng *hcl.Range, le *limits.Error) *Error {
	e := f.errf(rng, "%s", le.Error())
	e.Err = le
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
	if len(stack) >= f.lim.MaxDepth {
		return nil, f.errf(&g.rng, "groups nested deeper than %d", f.lim.MaxDepth)
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
	if len(stack) >= f.lim.MaxDepth {
		return nil, f.errf(from, "inherits nested deeper than %d", f.lim.MaxDepth)
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
