package strictjson

import (
	"bytes"
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/reprover/reprover/internal/text"
)

// Unmarshal checks b as Check does, then decodes it into v as json.Unmarshal
// does, except that a key must be spelled exactly as the field it sets:
// Go's decoder matches "PredicateType" to a field tagged "predicateType",
// where a case-sensitive reader sees no predicate type, so such a key is a
// *KeyError. Keys that match no field are ignored, as json.Unmarshal
// ignores them; map keys are data and never refused.
//
// The walk follows v's type as encoding/json would (tags, "-", embedded
// structs, pointers, slices, arrays, maps); a value decoded by its own
// UnmarshalJSON or UnmarshalText (json.RawMessage among them) or into an
// interface is data to it: decode a RawMessage later with Unmarshal too.
//
// Why a walk and not encoding/json/v2, which matches keys exactly: in Go
// 1.26 it needs GOEXPERIMENT=jsonv2, and it decodes otherwise (a
// time.Duration, as in an image config's Healthcheck, is a number of
// nanoseconds to encoding/json and a string to v2); the walk keeps
// encoding/json's decoding and only adds the refusal.
func Unmarshal(b []byte, v any, maxDepth int) error {
	return decode(b, v, maxDepth, false)
}

// UnmarshalKnown is Unmarshal that also refuses a key matching no field
// (json.Decoder's DisallowUnknownFields): for formats that reprover defines
// or that say unknown members are errors.
func UnmarshalKnown(b []byte, v any, maxDepth int) error {
	return decode(b, v, maxDepth, true)
}

func decode(b []byte, v any, maxDepth int, known bool) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	if err := scan(b, maxDepth, rv.Type(), known); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if known {
		dec.DisallowUnknownFields()
	}
	return dec.Decode(v)
}

// KeyError is a key of an object decoded into a struct that is spelled
// unlike every field of the struct: one that Go's decoder would match to a
// field only by folding case, or (UnmarshalKnown) one matching no field.
type KeyError struct {
	Path  string // the object holding the key: $, $.buildDefinition, $.layers[0]
	Key   string
	Field string // the field's name, as spelled; "" when no field matches
}

func (e *KeyError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: unknown field %q", e.Path, text.Truncate(e.Key, 64))
	}
	return fmt.Sprintf("%s: key %q matches field %q only in case (keys are case-sensitive)", e.Path, text.Truncate(e.Key, 64), e.Field)
}

var (
	unmarshalerType     = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// target is what a JSON object or array decoded into t reaches, as
// encoding/json's indirect finds it: t with its pointers followed; nil
// when the value decodes itself (UnmarshalJSON, UnmarshalText) or t is
// an interface (the document's keys are then data to reprover).
func target(t reflect.Type) reflect.Type {
	if t == nil {
		return nil
	}
	// A named value is addressed first, so its pointer methods count.
	if t.Kind() != reflect.Pointer && t.Name() != "" && decodesItself(reflect.PointerTo(t)) {
		return nil
	}
	for t.Kind() == reflect.Pointer {
		if decodesItself(t) {
			return nil
		}
		t = t.Elem()
	}
	if t.Kind() == reflect.Interface {
		return nil
	}
	return t
}

func decodesItself(t reflect.Type) bool {
	return t.NumMethod() > 0 && (t.Implements(unmarshalerType) || t.Implements(textUnmarshalerType))
}

// elem is the type of an array's elements decoded into t (a target).
func elem(t reflect.Type) reflect.Type {
	if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		return t.Elem()
	}
	return nil
}

// fieldCache holds the fields of the struct types one document met.
type fieldCache map[reflect.Type]*structFields

type structFields struct {
	exact  map[string]reflect.Type // name → the field's type
	folded map[string]string       // FoldKey(name) → name, the first field's
}

// member is the type of the value of key k in an object decoded into t (a
// target): a map's element, a struct field's type, or nil (data, or a key
// no field takes). A key a field takes only by folding case is an error,
// as is one no field takes when known is set.
func (c fieldCache) member(t reflect.Type, k string, known bool) (reflect.Type, *KeyError) {
	if t == nil {
		return nil, nil
	}
	switch t.Kind() {
	case reflect.Map:
		return t.Elem(), nil
	case reflect.Struct:
	default:
		return nil, nil // encoding/json refuses the object itself
	}
	fs := c[t]
	if fs == nil {
		fs = typeFields(t)
		c[t] = fs
	}
	if ft, ok := fs.exact[k]; ok {
		return ft, nil
	}
	if name, ok := fs.folded[FoldKey(k)]; ok {
		return nil, &KeyError{Key: k, Field: name}
	}
	if known {
		return nil, &KeyError{Key: k}
	}
	return nil, nil
}
