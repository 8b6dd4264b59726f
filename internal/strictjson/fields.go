package strictjson

import (
	"cmp"
	"reflect"
	"slices"
	"strings"
	"unicode"
)

// field is a struct field as encoding/json names it for decoding.
type field struct {
	name   string
	tagged bool  // the name comes from a json tag
	index  []int // the path through embedded structs
	typ    reflect.Type
}

// typeFields lists the fields encoding/json decodes into for struct type t
// (encoding/json's typeFields, Go 1.26, without what only encoding needs):
// exported fields and those promoted from embedded structs, named by their
// json tag or else their Go name, "-" left out, and of several fields of
// one name the dominant one (the shallowest, a tagged one before an
// untagged one at the same depth; none when still tied).
func typeFields(t reflect.Type) *structFields {
	current := []field{}
	next := []field{{typ: t}}
	// Count of queued names for current level and the next.
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []field
	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := range f.typ.NumField() {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					t := sf.Type
					if t.Kind() == reflect.Pointer {
						t = t.Elem()
					}
					if !sf.IsExported() && t.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, _, _ := strings.Cut(tag, ",")
				if !isValidTag(name) {
					name = ""
				}
				index := append(slices.Clip(f.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					fields = append(fields, field{name: name, tagged: tagged, index: index, typ: sf.Type})
					if count[f.typ] > 1 {
						// Embedded twice at this depth: a duplicate makes
						// the name ambiguous below.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				// An embedded struct without a name: its fields are
				// explored at the next depth.
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, field{name: ft.Name(), index: index, typ: ft})
				}
			}
		}
	}
	slices.SortFunc(fields, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tagged != b.tagged {
			if a.tagged {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	var out []field
	for i := 0; i < len(fields); {
		j := i + 1
		for j < len(fields) && fields[j].name == fields[i].name {
			j++
		}
		// fields[i:j] share a name: the first dominates unless tied.
		if j-i == 1 || len(fields[i].index) != len(fields[i+1].index) || fields[i].tagged != fields[i+1].tagged {
			out = append(out, fields[i])
		}
		i = j
	}
	// encoding/json indexes folded names in field order, the first
	// taking precedence.
	slices.SortFunc(out, func(a, b field) int { return slices.Compare(a.index, b.index) })
	fs := &structFields{exact: map[string]reflect.Type{}, folded: map[string]string{}}
	for _, f := range out {
		fs.exact[f.name] = f.typ
		if _, ok := fs.folded[FoldKey(f.name)]; !ok {
			fs.folded[FoldKey(f.name)] = f.name
		}
	}
	return fs
}

// isValidTag is encoding/json's: a tag name of other characters is
// ignored, and the Go name used.
func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
			// Backslash and quote chars are reserved, but otherwise any
			// punctuation chars are allowed in a tag name.
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}
