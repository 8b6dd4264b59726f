package bake

import (
	"errors"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/reprover/reprover/internal/limits"
)

// ---------------------------------------------------------------------
// This file: the evaluation budget. Every value an expression produces is
// charged as it is produced, whatever produced it (a reference, a template,
// a for expression, a splat, a conditional, a function), so what a node
// builds from its children's values (a template concatenates them, a for
// expression collects them) is bounded by what was already charged. A
// literal is not charged: it is bounded by the file's size.

// charged is an expression node whose value is charged to the Load's
// budget. Once the budget is spent it evaluates nothing more: a
// for expression still iterating, or try() swallowing the error, cannot
// make it produce more.
type charged struct {
	hclsyntax.Expression
	l *loader
}

func (c *charged) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if c.l.over != nil {
		return cty.DynamicVal, hcl.Diagnostics{limitDiag(c.Range(), c.l.over)}
	}
	v, diags := c.Expression.Value(ctx)
	if err := c.l.charge(v); err != nil {
		return cty.DynamicVal, append(diags, limitDiag(c.Range(), err))
	}
	return v, diags
}

// UnwrapExpression lets hcl's syntax helpers (hcl.ExprAsKeyword) see the
// node itself.
func (c *charged) UnwrapExpression() hcl.Expression { return c.Expression }

// counted is a for expression's collection: it counts the iterations the
// for expression is about to make.
type counted struct {
	hclsyntax.Expression
	l *loader
}

func (c *counted) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	v, diags := c.Expression.Value(ctx)
	if diags.HasErrors() || v.IsNull() || !v.IsKnown() {
		return v, diags
	}
	uv, _ := v.Unmark()
	if !uv.CanIterateElements() {
		return v, diags
	}
	c.l.iters += int64(uv.LengthInt())
	if c.l.iters > c.l.file.lim.MaxIterations {
		c.l.spend(&limits.Error{What: "for-expression iterations", Limit: "bake.MaxIterations", Max: c.l.file.lim.MaxIterations, Got: c.l.iters})
		return cty.DynamicVal, append(diags, limitDiag(c.Range(), c.l.over))
	}
	return v, diags
}

func (c *counted) UnwrapExpression() hcl.Expression { return c.Expression }

// charge counts v's size against the budget; the first limit exceeded
// stays: every later charge fails with it.
func (l *loader) charge(v cty.Value) *limits.Error {
	if l.over == nil {
		l.used += int64(valueSize(v, int(l.file.lim.MaxEvalBytes-l.used)+1))
		if l.used > l.file.lim.MaxEvalBytes {
			l.spend(&limits.Error{What: "bytes produced by evaluating the file", Limit: "bake.MaxEvalBytes", Max: l.file.lim.MaxEvalBytes, Got: l.used})
		}
	}
	return l.over
}

func (l *loader) spend(err *limits.Error) {
	if l.over == nil {
		l.over = err
	}
}

// limitDiag carries a limit error through hcl's diagnostics; diagErr
// takes it back out.
func limitDiag(rng hcl.Range, err *limits.Error) *hcl.Diagnostic {
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Evaluation limit exceeded", Detail: err.Error(), Subject: rng.Ptr(), Extra: err}
}

// limitOf finds the limit error a diagnostic carries: its own, or a
// function's.
func limitOf(d *hcl.Diagnostic) *limits.Error {
	var err error
	switch x := d.Extra.(type) {
	case *limits.Error:
		return x
	case hclsyntax.FunctionCallDiagExtra:
		err = x.FunctionCallError()
	}
	var le *limits.Error
	if errors.As(err, &le) {
		return le
	}
	return nil
}

// instrument wraps e and every node under it so that their values are
// charged, and for expressions' collections so that iterations are
// counted. It refuses a node type it does not know: its value would
// escape the budget.
func (l *loader) instrument(e hclsyntax.Expression) (hclsyntax.Expression, error) {
	if err := l.instrumentChildren(e); err != nil {
		return nil, err
	}
	if _, ok := e.(*hclsyntax.LiteralValueExpr); ok {
		return e, nil
	}
	return &charged{Expression: e, l: l}, nil
}

// instrumentChildren instruments the nodes under e, in place.
func (l *loader) instrumentChildren(e hclsyntax.Expression) error {
	var err error
	w := func(p *hclsyntax.Expression) {
		if err == nil && *p != nil {
			*p, err = l.instrument(*p)
		}
	}
	switch n := e.(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.ScopeTraversalExpr, *hclsyntax.AnonSymbolExpr, *hclsyntax.ExprSyntaxError:
	case *hclsyntax.ParenthesesExpr:
		w(&n.Expression)
	case *hclsyntax.RelativeTraversalExpr:
		w(&n.Source)
	case *hclsyntax.FunctionCallExpr:
		for i := range n.Args {
			if n.Name == "convert" && i > 0 {
				break // a type constraint, read as syntax
			}
			w(&n.Args[i])
		}
	case *hclsyntax.ConditionalExpr:
		w(&n.Condition)
		w(&n.TrueResult)
		w(&n.FalseResult)
	case *hclsyntax.IndexExpr:
		w(&n.Collection)
		w(&n.Key)
	case *hclsyntax.TupleConsExpr:
		for i := range n.Exprs {
			w(&n.Exprs[i])
		}
	case *hclsyntax.ObjectConsExpr:
		for i := range n.Items {
			w(&n.Items[i].KeyExpr)
			w(&n.Items[i].ValueExpr)
		}
	case *hclsyntax.ObjectConsKeyExpr:
		// Its Value reads Wrapped's type (a bare name is a literal key):
		// Wrapped's children are charged, and the key by the node's wrapper.
		err = l.instrumentChildren(n.Wrapped)
	case *hclsyntax.ForExpr:
		w(&n.CollExpr)
		if err == nil {
			n.CollExpr = &counted{Expression: n.CollExpr, l: l}
		}
		w(&n.KeyExpr)
		w(&n.ValExpr)
		w(&n.CondExpr)
	case *hclsyntax.SplatExpr:
		// n.Item is found inside Each by its pointer, which stays.
		w(&n.Source)
		w(&n.Each)
	case *hclsyntax.BinaryOpExpr:
		w(&n.LHS)
		w(&n.RHS)
	case *hclsyntax.UnaryOpExpr:
		w(&n.Val)
	case *hclsyntax.TemplateExpr:
		for i := range n.Parts {
			w(&n.Parts[i])
		}
	case *hclsyntax.TemplateJoinExpr:
		w(&n.Tuple)
	case *hclsyntax.TemplateWrapExpr:
		w(&n.Wrapped)
	default:
		return l.file.errf(e.Range().Ptr(), "expression of type %T is not supported", e)
	}
	return err
}
