package builder

import (
	"maps"
	"slices"
	"sort"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// argScope is the variables in effect at one point of a Dockerfile: the
// meta ARGs before the first FROM, or one stage's ARGs and ENVs. Both follow
// BuildKit's dockerfile2llb (buildMetaArgs, dispatchArg, dispatchEnv), so
// Check judges the words the build will use.
type argScope struct {
	lex       *shell.Lex
	buildArgs map[string]string
	// meta is the global scope a stage takes a value from when it
	// re-declares an ARG without a default; nil for the global scope itself.
	meta   *argScope
	vals   map[string]string
	envSet map[string]bool // the names ENV set: an ARG does not override them
	// baseEnvKnown: the stage starts from scratch (or a stage that does),
	// so no variable comes from a base image's config.
	baseEnvKnown bool
}

func newArgScope(lex *shell.Lex, buildArgs map[string]string, meta *argScope) *argScope {
	return &argScope{lex: lex, buildArgs: buildArgs, meta: meta, vals: map[string]string{}, envSet: map[string]bool{}}
}

// inherit starts a stage from another stage: its ENV (not its ARGs) and
// what is known of its base.
func (s *argScope) inherit(parent *argScope) {
	for k := range parent.envSet {
		s.vals[k], s.envSet[k] = parent.vals[k], true
	}
	s.baseEnvKnown = parent.baseEnvKnown
}

// setEnv applies one ENV: its value expanded in the scope.
func (s *argScope) setEnv(kv instructions.KeyValuePair) {
	s.vals[kv.Key], s.envSet[kv.Key] = s.expand(kv.Value), true
}

// unresolved lists the variables word uses that no ARG or ENV of the
// Dockerfile sets, when the base image's config may set them.
func (s *argScope) unresolved(word string) []string {
	if s.baseEnvKnown {
		return nil
	}
	_, unmatched, err := s.lex.ProcessWord(word, shell.EnvsFromSlice(s.env()))
	if err != nil {
		return nil
	}
	return slices.Sorted(maps.Keys(unmatched))
}

// declare applies one ARG: a build arg overrides; else the default, expanded
// in the ARGs declared before it; else, in a stage, the meta ARG's value. An
// ARG with none of these stays unset (not empty), as in BuildKit.
func (s *argScope) declare(kv instructions.KeyValuePairOptional) {
	if s.envSet[kv.Key] {
		return // ENV always wins over ARG
	}
	if v, ok := s.buildArgs[kv.Key]; ok {
		s.vals[kv.Key] = v
	} else if kv.Value != nil {
		s.vals[kv.Key] = s.expand(*kv.Value)
	} else if s.meta != nil {
		if v, ok := s.meta.vals[kv.Key]; ok {
			s.vals[kv.Key] = v
		}
	}
}

// expand substitutes the scope's ARGs in word. A word the lexer refuses
// (${X:?unset}) is judged as written: BuildKit would fail that build anyway.
func (s *argScope) expand(word string) string {
	r, _, err := s.lex.ProcessWord(word, shell.EnvsFromSlice(s.env()))
	if err != nil {
		return word
	}
	return r
}

// env lists the scope as sorted KEY=value pairs.
func (s *argScope) env() []string {
	out := make([]string, 0, len(s.vals))
	for k, v := range s.vals {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
