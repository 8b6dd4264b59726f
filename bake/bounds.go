package bake

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"

	"github.com/reprover/reprover/internal/limits"
)

// ---------------------------------------------------------------------
// This file: bounds on a function's result, computed before the call, for
// the functions whose result can be far larger than their arguments (a
// format repeating one argument, a join with a long separator, a regex
// with many groups). The bound need not be exact, only within a small
// factor of the truth: the result is measured after the call too
// (checkValue).

// preCheck refuses a call whose result could exceed MaxValueBytes, or
// that would take too much to compute.
func (lim Limits) preCheck(name string, args []cty.Value) error {
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
	var bound int64 // 0: the result is not much larger than the arguments
	switch name {
	case "format", "formatlist":
		fmtStr, ok := str(0)
		if !ok {
			return nil
		}
		pads, err := formatPads(fmtStr)
		if err != nil {
			return err
		}
		// Each verb prints at most its largest argument (element, for
		// formatlist's lists) and its padding.
		verbs := int64(strings.Count(fmtStr, "%"))
		rows, widest := int64(1), int64(0)
		for _, a := range args[1:] {
			if name == "formatlist" && a.IsKnown() && !a.IsNull() && a.CanIterateElements() {
				rows = max(rows, int64(a.LengthInt()))
				for it := a.ElementIterator(); it.Next(); {
					_, ev := it.Element()
					widest = max(widest, int64(valueSize(ev, 4*lim.MaxValueBytes)))
				}
				continue
			}
			widest = max(widest, int64(valueSize(a, 4*lim.MaxValueBytes)))
		}
		bound = rows * (int64(len(fmtStr)) + verbs*widest + pads)
	case "join":
		sep, ok := str(0)
		if !ok {
			return nil
		}
		bound = 1
		for _, a := range args[1:] {
			if !a.IsKnown() || a.IsNull() || !a.CanIterateElements() {
				continue
			}
			for it := a.ElementIterator(); it.Next(); {
				_, ev := it.Element()
				bound += int64(len(sep) + valueSize(ev, 4*lim.MaxValueBytes))
			}
		}
	case "split":
		sep, ok1 := str(0)
		s, ok2 := str(1)
		if ok1 && ok2 {
			pieces := int64(utf8.RuneCountInString(s)) + 1
			if sep != "" {
				pieces = int64(strings.Count(s, sep)) + 1
			}
			bound = 8 + pieces*9 + int64(len(s))
		}
	case "regex", "regexall":
		pattern, ok1 := str(0)
		s, ok2 := str(1)
		if ok1 && ok2 {
			var err error
			if bound, err = lim.regexBound(pattern, s, name == "regexall"); err != nil {
				return err
			}
		}
	case "csvdecode":
		if s, ok := str(0); ok {
			header, _, _ := strings.Cut(s, "\n")
			rows := int64(strings.Count(s, "\n")) + 1
			cols := int64(strings.Count(header, ",")) + 1
			bound = 8 + rows*(8+int64(len(header))+cols*9)
		}
	case "jsondecode":
		if s, ok := str(0); ok {
			if d := jsonDepth(s); d > lim.MaxDepth {
				return &limits.Error{What: "jsondecode() nesting", Limit: "bake.MaxDepth", Max: int64(lim.MaxDepth), Got: int64(d)}
			}
		}
	case "indent":
		n, ok := num(0)
		s, _ := str(1)
		if ok && n > maxFormatPad {
			return fmt.Errorf("indent of %v above %d", n, maxFormatPad)
		}
		if ok && n > 0 {
			bound = int64(len(s)) + int64(n)*int64(strings.Count(s, "\n"))
		}
	case "replace", "regex_replace":
		s, ok1 := str(0)
		sub, ok2 := str(1)
		rep, ok3 := str(2)
		if ok1 && ok2 && ok3 {
			occ := int64(len(s)) + 1
			if name == "replace" && sub != "" {
				occ = int64(len(s)/len(sub)) + 1
			}
			bound = int64(len(s)) + occ*int64(len(rep))
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
	if bound > int64(lim.MaxValueBytes) {
		return &limits.Error{What: name + "()'s result, bounded before the call", Limit: "bake.MaxValueBytes", Max: int64(lim.MaxValueBytes), Got: bound}
	}
	return nil
}

// regexBound bounds what regex (first match) or regexall (every match)
// returns: an element per capture group per match, holding what the group
// captured. Matches are counted, up to what the limit allows, before
// their groups are located.
func (lim Limits) regexBound(pattern, s string, all bool) (int64, error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return 0, nil // the function reports it
	}
	groups := int64(re.NumSubexp()) + 1
	n := 1
	if all {
		n = int(int64(lim.MaxValueBytes)/(9*groups)) + 1
	}
	matches := int64(len(re.FindAllStringIndex(s, n)))
	if elems := matches * groups * 9; elems > int64(lim.MaxValueBytes) {
		return elems, nil
	}
	bound := int64(8)
	for _, m := range re.FindAllStringSubmatchIndex(s, n) {
		for i := 0; i < len(m); i += 2 {
			bound += 9
			if m[i] >= 0 {
				bound += int64(m[i+1] - m[i])
			}
		}
	}
	return bound, nil
}

// jsonDepth is the deepest nesting of arrays and objects in s (outside
// strings); cty's decoder recurses once per level.
func jsonDepth(s string) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ']' || c == '}':
			depth--
		}
	}
	return deepest
}

// formatPads refuses a width or precision above maxFormatPad in a format
// verb ("%99999999s" would allocate that much) and returns their sum.
func formatPads(s string) (int64, error) {
	var sum int64
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
				n, err := strconv.Atoi(s[j:k])
				if err != nil || n > maxFormatPad {
					return 0, fmt.Errorf("format width or precision above %d", maxFormatPad)
				}
				sum += int64(n)
				j = k
				continue
			}
			j++
		}
		i = j
	}
	return sum, nil
}
