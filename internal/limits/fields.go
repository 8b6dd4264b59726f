package limits

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Field is one limit of a package's Limits, named as the CLI's --limit
// and docs/cli.md name it ("bake.MaxDepth"): its meaning (the field's
// `limit` tag), its default, and how to set it from text.
type Field struct {
	Name    string
	Doc     string
	Default string
	set     reflect.Value
}

// Fields are the limits of *l (a pointer to a package's Limits struct),
// each named prefix.Field, with the defaults of d (its DefaultLimits).
// Every exported field must say what it bounds in a `limit` tag: it is
// the line docs/cli.md prints (TestLimitsDoc). A field that is itself a
// struct is not a limit of its own and is skipped.
func Fields[L any](prefix string, l *L, d L) ([]Field, error) {
	v, dv := reflect.ValueOf(l).Elem(), reflect.ValueOf(d)
	if v.Kind() != reflect.Struct {
		return nil, fmt.Errorf("limits of %s: %T is not a struct", prefix, *l)
	}
	var out []Field
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		if !sf.IsExported() || sf.Type.Kind() == reflect.Struct {
			continue
		}
		doc := sf.Tag.Get("limit")
		if doc == "" {
			return nil, fmt.Errorf("limit %s.%s has no `limit` tag saying what it bounds", prefix, sf.Name)
		}
		out = append(out, Field{Name: prefix + "." + sf.Name, Doc: doc, Default: format(dv.Field(i), isBytes(sf.Name)), set: v.Field(i)})
	}
	return out, nil
}

// Set parses s as the limit's value: a whole number (of bytes, entries,
// …; with an optional KiB, MiB or GiB suffix) or, for a time limit, a Go
// duration ("30s"). A limit is never set to zero or less: zero means "the
// default" to every package.
func (f Field) Set(s string) error {
	switch f.set.Kind() {
	case reflect.Int64:
		if f.set.Type() == reflect.TypeFor[time.Duration]() {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				return fmt.Errorf("limit %s: %q is not a positive duration such as 30s", f.Name, s)
			}
			f.set.SetInt(int64(d))
			return nil
		}
		fallthrough
	case reflect.Int, reflect.Int32:
		n, err := parseSize(s)
		if err != nil || f.set.OverflowInt(n) {
			return fmt.Errorf("limit %s: %q is not a positive whole number (a KiB, MiB or GiB suffix may follow)", f.Name, s)
		}
		f.set.SetInt(n)
	case reflect.Uint64, reflect.Uint, reflect.Uint32:
		n, err := parseSize(s)
		if err != nil || f.set.OverflowUint(uint64(n)) {
			return fmt.Errorf("limit %s: %q is not a positive whole number (a KiB, MiB or GiB suffix may follow)", f.Name, s)
		}
		f.set.SetUint(uint64(n))
	default:
		return fmt.Errorf("limit %s: a %s cannot be set", f.Name, f.set.Kind())
	}
	return nil
}

// parseSize is a positive whole number, with an optional binary suffix.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	for suffix, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if rest, ok := strings.CutSuffix(s, suffix); ok {
			s, mult = rest, m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a positive whole number")
	}
	return n * mult, nil
}

// isBytes says whether a limit named so counts bytes (its default is
// written with a binary suffix), not entries or times.
func isBytes(name string) bool {
	return strings.Contains(name, "Bytes") || strings.Contains(name, "Size") || strings.Contains(name, "Window")
}

// format is a default as people write it: a duration, or a number, of
// bytes with the largest binary suffix that divides it when it is at
// least 1 KiB.
func format(v reflect.Value, bytes bool) string {
	if v.Type() == reflect.TypeFor[time.Duration]() {
		return time.Duration(v.Int()).String()
	}
	var n int64
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n = v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n = int64(v.Uint())
	default:
		return fmt.Sprint(v.Interface())
	}
	if !bytes {
		return strconv.FormatInt(n, 10)
	}
	for _, u := range []struct {
		name string
		m    int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.m && n%u.m == 0 {
			return strconv.FormatInt(n/u.m, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10)
}
