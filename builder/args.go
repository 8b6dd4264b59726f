package builder

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/reprover/reprover/internal/limits"
)

// value is a variable's value and the names it depends on whose values
// Check cannot know: a base image's ENV, or an automatic platform ARG
// when the platform is not given.
type value struct {
	v       string
	unknown []string // sorted
}

// argScope is the variables in effect at one point of a Dockerfile: the
// meta ARGs before the first FROM, or one stage's ARGs and ENVs. Both follow
// BuildKit's dockerfile2llb (defaultArgs, buildMetaArgs, dispatchArg,
// dispatchEnv, dispatchState.init), so Check judges the words the build
// will use.
type argScope struct {
	lex       *shell.Lex
	buildArgs map[string]string
	// meta is the global scope a stage takes a value from when it
	// re-declares an ARG without a default; nil for the global scope itself.
	meta *argScope
	// vals is the build state's environment: ARG and ENV values, the
	// last one set winning.
	vals map[string]value
	// imageEnv is the image config's Env: what ENV set. A stage built on
	// this one starts from vals, then applies imageEnv over it.
	imageEnv map[string]value
	// baseEnvKnown: the stage starts from scratch (or a stage that does),
	// so no variable comes from a base image's config.
	baseEnvKnown bool
	budget       *budget
}

// budget is what a Dockerfile's expansions have used of
// MaxExpandedTotalBytes, its stages of MaxInheritedVars and its ONBUILD
// instructions of MaxOnbuildRuns (lim).
type budget struct {
	lim                           CheckLimits
	total, inherited, onbuildRuns int64
}

func newArgScope(lex *shell.Lex, buildArgs map[string]string, meta *argScope, b *budget) *argScope {
	return &argScope{lex: lex, buildArgs: buildArgs, meta: meta, vals: map[string]value{}, imageEnv: map[string]value{}, budget: b}
}

// nonEnvArgs are ARGs BuildKit never puts in the environment.
var nonEnvArgs = []string{"BUILDKIT_SBOM_SCAN_CONTEXT", "BUILDKIT_SBOM_SCAN_STAGE"}

// startScratch starts a stage from scratch: the image's config has only
// PATH (none for Windows), as BuildKit's emptyImage.
func (s *argScope) startScratch(path value) {
	s.baseEnvKnown = true
	if path.v != "" {
		s.vals["PATH"], s.imageEnv["PATH"] = path, path
	}
}

// inherit starts a stage from another stage, as BuildKit's init and
// dispatchStages do: the parent's environment (its ARG values too), then
// its image config's Env over it. When the parent's base is an image,
// that config also holds the image's own Env, which may replace any
// value an ARG (not an ENV) set.
func (s *argScope) inherit(parent *argScope) error {
	n := s.budget.inherited + int64(len(parent.vals)+2*len(parent.imageEnv))
	if max := s.budget.lim.MaxInheritedVars; n > max {
		return &limits.Error{What: "the variables stages take from the stages they are built on", Limit: "MaxInheritedVars", Max: max, Got: n}
	}
	s.budget.inherited = n
	maps.Copy(s.vals, parent.vals)
	maps.Copy(s.imageEnv, parent.imageEnv)
	maps.Copy(s.vals, parent.imageEnv)
	s.baseEnvKnown = parent.baseEnvKnown
	if s.baseEnvKnown {
		return nil
	}
	for k, v := range s.vals {
		if _, ok := s.imageEnv[k]; !ok {
			s.vals[k] = value{v: v.v, unknown: union(v.unknown, []string{k})}
		}
	}
	return nil
}

// setEnv applies one ENV instruction as BuildKit's dispatchEnv after
// EnvCommand.Expand: every key and value expanded first, in the scope
// before it, then set in order. A key whose name Check cannot know may
// replace any variable: every value becomes as unknown as that name.
func (s *argScope) setEnv(kvs instructions.KeyValuePairs) error {
	type pair struct{ k, v value }
	pairs := make([]pair, 0, len(kvs))
	for _, kv := range kvs {
		k, err := s.eval(kv.Key)
		if err != nil {
			return err
		}
		v, err := s.eval(kv.Value)
		if err != nil {
			return err
		}
		pairs = append(pairs, pair{k, v})
	}
	for _, p := range pairs {
		if len(p.k.unknown) > 0 {
			s.baseEnvKnown = false
			for _, m := range []map[string]value{s.vals, s.imageEnv} {
				for k, v := range m {
					m[k] = value{v: v.v, unknown: union(v.unknown, p.k.unknown)}
				}
			}
			continue
		}
		s.vals[p.k.v], s.imageEnv[p.k.v] = p.v, p.v
	}
	return nil
}

// declare applies one ARG as BuildKit's dispatchArg (buildMetaArgs for the
// meta ARGs): a build arg overrides; else the default, expanded in the
// scope; else, in a stage, the meta ARG's value. An ARG with none of these
// changes nothing (it stays unset, or keeps an ENV's value); one with a
// value replaces an earlier ENV's in the environment.
func (s *argScope) declare(kv instructions.KeyValuePairOptional) error {
	var v value
	if b, ok := s.buildArgs[kv.Key]; ok {
		v = value{v: b}
	} else if kv.Value != nil {
		var err error
		if v, err = s.eval(*kv.Value); err != nil {
			return err
		}
	} else if g, ok := s.metaValue(kv.Key); ok {
		v = g
	} else {
		return nil
	}
	if !slices.Contains(nonEnvArgs, kv.Key) || s.meta == nil {
		s.vals[kv.Key] = v
	}
	return nil
}

func (s *argScope) metaValue(key string) (value, bool) {
	if s.meta == nil {
		return value{}, false
	}
	v, ok := s.meta.vals[key]
	return v, ok
}

// eval expands word in the scope, within the limits, and names what its
// value depends on that Check cannot know: a variable no ARG or ENV set
// (when the base image's config may set it), and what the variables it
// uses depend on. A word the lexer refuses (${X:?unset}) is judged as
// written: BuildKit fails that build too, unless a value Check does not
// know makes it expand there (then it is unknown).
func (s *argScope) eval(word string) (value, error) {
	est := s.estimate(word)
	lim := s.budget.lim
	if est > lim.MaxExpandedBytes {
		return value{}, &limits.Error{What: "expanding " + shorten(word), Limit: "MaxExpandedBytes", Max: lim.MaxExpandedBytes, Got: est}
	}
	if s.budget.total+est > lim.MaxExpandedTotalBytes {
		return value{}, &limits.Error{What: "expanding " + shorten(word) + " after the Dockerfile's other expansions",
			Limit: "MaxExpandedTotalBytes", Max: lim.MaxExpandedTotalBytes, Got: s.budget.total + est}
	}
	res, err := s.lex.ProcessWordWithMatches(word, scopeEnv{s})
	var unknown []string
	for k := range res.Matched {
		unknown = union(unknown, s.vals[k].unknown)
	}
	if !s.baseEnvKnown {
		unknown = union(unknown, slices.Collect(maps.Keys(res.Unmatched)))
	}
	if err != nil { // unknown: the build's values may not fail
		return value{v: word, unknown: unknown}, nil
	}
	s.budget.total += int64(len(res.Result))
	return value{v: res.Result, unknown: unknown}, nil
}

// replaceForm is ${name/pattern/replacement}: the one expansion whose
// result can be larger than its parts (each match of the pattern
// becomes the replacement).
var replaceForm = regexp.MustCompile(`\$\{([\pL\pN_]*|[@*#?\-$!0])/`)

// estimate is at least the size of word's expansion: the word (each byte
// may be read as 3), plus each
// variable it names (as BuildKit's lexer reads names) at its size, times
// (the size + 1) for each ${name/…/…} in it, which may repeat a
// replacement at every byte. It saturates past MaxExpandedTotalBytes.
func (s *argScope) estimate(word string) int64 {
	over := s.budget.lim.MaxExpandedTotalBytes + 1
	size := 3 * int64(len(word)) // the lexer reads an invalid UTF-8 byte as U+FFFD, 3 bytes
	for i := strings.IndexByte(word, '$'); i >= 0 && size < over; {
		rest := strings.TrimPrefix(word[i+1:], "{")
		size += int64(len(s.vals[varName(rest)].v))
		next := strings.IndexByte(word[i+1:], '$')
		if next < 0 {
			break
		}
		i += 1 + next
	}
	base := size
	for range replaceForm.FindAllStringIndex(word, -1) {
		if size >= over {
			break
		}
		size = min(size*(base+1), over)
	}
	return min(size, over)
}

// varName is the name at the start of s as BuildKit's lexer reads one
// (processName): digits only if it starts with one, a special parameter,
// or letters, digits and underscores. A name ends before the next '$', so
// reading one for each '$' of a word reads the word once.
func varName(s string) string {
	first, _ := utf8.DecodeRuneInString(s)
	switch {
	case s == "":
		return ""
	case unicode.IsDigit(first):
		return s[:nameEnd(s, unicode.IsDigit)]
	case strings.ContainsRune("@*#?-$!", first):
		return string(first)
	}
	return s[:nameEnd(s, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' })]
}

// nameEnd is the index of the first rune of s that is not in.
func nameEnd(s string, in func(rune) bool) int {
	for i, r := range s {
		if !in(r) {
			return i
		}
	}
	return len(s)
}

// scopeEnv is the scope as BuildKit's lexer reads variables.
type scopeEnv struct{ s *argScope }

func (e scopeEnv) Get(key string) (string, bool) {
	v, ok := e.s.vals[key]
	return v.v, ok
}

func (e scopeEnv) Keys() []string { return slices.Sorted(maps.Keys(e.s.vals)) }

// union is a and b, sorted, without repeats.
func union(a, b []string) []string {
	if len(b) == 0 {
		return a
	}
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

// shorten is a word as an error quotes it: at most 80 bytes.
func shorten(word string) string {
	if len(word) > 80 {
		return fmt.Sprintf("%q… (%d bytes)", word[:80], len(word))
	}
	return fmt.Sprintf("%q", word)
}
