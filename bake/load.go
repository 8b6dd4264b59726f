package bake

import (
	"path"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/reprover/reprover/internal/limits"
)

// ---------------------------------------------------------------------
// This file: Load, and the evaluation of blocks and expressions under budgets.

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
	stack  []string
	ctx    *hcl.EvalContext
	refs   map[hclsyntax.Expression][]hcl.Traversal
	used   int64         // bytes charged (budget.go)
	iters  int64         // for-expression iterations made
	over   *limits.Error // the first evaluation limit exceeded, if any
}

// Load parses and evaluates a bake file. filename is used in errors and to
// recognise JSON and compose files, which are not supported. env supplies
// the environment that overrides variable defaults (buildx uses the process
// environment; pass nil for none).
func Load(src []byte, filename string, env map[string]string, lim Limits) (*File, error) {
	f := &File{
		filename: filename,
		lim:      limits.WithDefaults(lim, DefaultLimits),
		targets:  map[string]*spec{},
		groups:   map[string]*group{},
		deps:     map[string][]string{},
		fromEnv:  map[string]string{},
	}
	if len(src) > f.lim.MaxFileSize {
		return nil, f.errf(nil, "file is %d bytes, larger than the %d-byte limit", len(src), f.lim.MaxFileSize)
	}
	if err := f.checkKind(src); err != nil {
		return nil, err
	}
	toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
	if err := f.checkNesting(toks); err != nil {
		return nil, err
	}
	if err := f.checkTemplates(toks); err != nil {
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
		refs:   map[hclsyntax.Expression][]hcl.Traversal{},
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
func (f *File) checkNesting(toks hclsyntax.Tokens) error {
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
		if d := len(stack) - 1 + sum + directives; d > f.lim.MaxDepth {
			return f.errf(&tok.Range, "nesting deeper than %d (brackets, strings, interpolations, directives and operators in one expression)", f.lim.MaxDepth)
		}
	}
	return nil
}

// checkTemplates bounds, on the token stream, the parser's work joining a
// string's literal pieces: the lexer cuts a literal at every '%', '$' and
// heredoc line, and hclsyntax joins consecutive pieces one at a time,
// copying the joined prefix and shifting the rest of the template's
// tokens each time (meldConsecutiveStringLiterals), quadratic in the
// pieces: a 200 KB string of "%a" took a minute. The work is counted as
// the bytes copied plus the tokens shifted, against MaxEvalBytes.
func (f *File) checkTemplates(toks hclsyntax.Tokens) error {
	type template struct {
		open                  hcl.Range
		tokens, joins, copied int64
		run                   int64 // bytes of the literal pieces joined so far
		lastLit               bool
	}
	var stack []*template
	var work int64
	for _, tok := range toks {
		switch tok.Type {
		case hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			stack = append(stack, &template{open: tok.Range})
			continue
		case hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if len(stack) == 0 {
				continue
			}
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			work += t.joins*t.tokens + t.copied
			if work > f.lim.MaxEvalBytes {
				return f.limitErr(&t.open, &limits.Error{What: "parser work joining the literal pieces of strings", Limit: "bake.MaxEvalBytes", Max: f.lim.MaxEvalBytes, Got: work})
			}
			continue
		}
		if len(stack) == 0 {
			continue
		}
		t := stack[len(stack)-1]
		t.tokens++
		lit := tok.Type == hclsyntax.TokenQuotedLit || tok.Type == hclsyntax.TokenStringLit
		switch {
		case lit && t.lastLit:
			t.joins++
			t.run += int64(len(tok.Bytes))
			t.copied += t.run
		case lit:
			t.run = int64(len(tok.Bytes))
		}
		t.lastLit = lit
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
		if le := limitOf(d); le != nil {
			e.Msg, e.Err = le.Error(), le
		}
		return e
	}
	return f.errf(nil, "%s", diags.Error())
}

// prepare walks every expression once: it refuses unsupported constructs,
// checks number literals, records each expression's variables, and
// instruments every node under it for the evaluation budget (budget.go).
func (l *loader) prepare(body *hclsyntax.Body) error {
	f := l.file
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
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	// Instrumented after every walk: hclsyntax's walks do not see through
	// the wrappers. The expression itself stays (l.refs is keyed by it);
	// eval charges its value.
	for _, e := range exprs {
		if err := l.instrumentChildren(e); err != nil {
			return err
		}
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
		if counts[b.Type] > f.lim.MaxTargets {
			return f.errf(&rng, "more than %d %s blocks", f.lim.MaxTargets, b.Type)
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
