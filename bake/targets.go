package bake

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// ---------------------------------------------------------------------
// This file: target and group blocks.

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
