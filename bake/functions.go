package bake

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/reprover/reprover/internal/limits"
)

// ---------------------------------------------------------------------
// This file: the functions a bake file may call, and the limits on the values they make.

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
// Load's limits: arguments ≤ 4×MaxValueBytes, result ≤ lim.MaxValueBytes,
// checked before the call where the result can be far larger than the
// arguments (bounds.go). Every result is also charged to the budget, by the
// node that called the function (budget.go).
func (l *loader) functions() map[string]function.Function {
	out := make(map[string]function.Function, len(stdFuncs))
	for name, fn := range stdFuncs {
		switch name {
		case "try", "can", "convert":
			out[name] = fn // take expressions or types; results are checked by their callers
			continue
		}
		out[name] = l.file.lim.limited(name, fn)
	}
	return out
}

func (lim Limits) limited(name string, fn function.Function) function.Function {
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
				in += valueSize(a, 4*lim.MaxValueBytes+1-in)
				if in > 4*lim.MaxValueBytes {
					return cty.NilVal, &limits.Error{What: name + "() arguments, bytes", Limit: "4×bake.MaxValueBytes", Max: 4 * int64(lim.MaxValueBytes), Got: int64(in)}
				}
			}
			if err := lim.preCheck(name, args); err != nil {
				return cty.NilVal, err
			}
			res, err := fn.Call(args)
			if err != nil {
				return res, err
			}
			if err := lim.checkValue(res); err != nil {
				return cty.NilVal, err
			}
			return res, nil
		},
	})
}

// checkValue enforces the per-value limits.
func (lim Limits) checkValue(v cty.Value) error {
	if n := valueSize(v, lim.MaxValueBytes+1); n > lim.MaxValueBytes {
		return &limits.Error{What: "bytes of one value", Limit: "bake.MaxValueBytes", Max: int64(lim.MaxValueBytes), Got: int64(n)}
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
