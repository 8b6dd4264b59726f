package bake

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

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
// The nodes under e charge their values as they are produced (budget.go);
// eval charges e's own.
func (l *loader) eval(e hclsyntax.Expression) (cty.Value, []string, error) {
	var roots []string
	for _, t := range l.refs[e] {
		root := t.RootName()
		if err := l.resolveVar(root, t.SourceRange()); err != nil {
			return cty.NilVal, nil, err
		}
		if _, ok := l.values[root]; ok {
			roots = appendUnique(roots, root)
		}
	}
	v, diags := e.Value(l.ctx)
	if l.over == nil {
		l.charge(v)
	}
	if l.over != nil {
		// Also when try() or can() swallowed it: the file is refused.
		rng := e.Range()
		for _, d := range diags {
			if limitOf(d) == l.over && d.Subject != nil {
				rng = *d.Subject
				break
			}
		}
		return cty.NilVal, nil, l.file.limitErr(&rng, l.over)
	}
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
	if len(l.stack) >= l.file.lim.MaxDepth {
		return f.errf(&from, "variables reference each other deeper than %d", l.file.lim.MaxDepth)
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
				// buildx takes type = null as no type. Recognised as
				// syntax: evaluating the expression would escape the
				// budget, which instruments values, not types.
				if lit, ok := vr.typ.(*hclsyntax.LiteralValueExpr); ok && lit.Val.IsNull() {
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
	if err := l.file.lim.checkValue(val); err != nil {
		return f.wrapf(&rng, err, "variable %s", name)
	}
	l.values[name] = val
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
