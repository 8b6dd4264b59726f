// Package texttest checks that a writer shows the strings it prints made
// visible (text.Visible): Fill gives every string of a report a hostile
// value, and Hidden finds what a terminal or a browser would act on in
// what the writer wrote.
package texttest

import (
	"encoding/json"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/reprover/reprover/internal/text"
)

// Hostile sets a window's title, clears the screen (with ESC and with the
// C1 CSI), reverses the rest of the line, starts a line and ends in a
// DEL and a byte that is not UTF-8.
const Hostile = "a\x1b]0;title\x07\x1b[2J\u009b2J\u202eb\nc\x7f\xff"

// Fill sets every exported string reachable from v, a pointer, to s: in
// fields, elements, map keys and values, and nil `any` fields; nil
// pointers are allocated, empty slices and maps get one element, numbers
// are 1 and bools true, so that every part of a writer's output is
// reached. JSON raw messages hold s as a JSON string. Types that hold
// themselves are filled depth levels deep.
func Fill(v any, s string, depth int) {
	fill(reflect.ValueOf(v).Elem(), s, depth)
}

var rawMessage = reflect.TypeFor[json.RawMessage]()

func fill(v reflect.Value, s string, depth int) {
	if depth < 0 || !v.CanSet() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(s)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1)
	case reflect.Interface:
		if v.IsNil() && v.NumMethod() == 0 {
			v.Set(reflect.ValueOf(s))
		}
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), s, depth-1)
	case reflect.Struct:
		for i := range v.NumField() {
			fill(v.Field(i), s, depth)
		}
	case reflect.Slice:
		if v.Type() == rawMessage {
			b, _ := json.Marshal(s)
			v.SetBytes(b)
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte(s))
			return
		}
		if v.Len() == 0 {
			v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		}
		for i := range v.Len() {
			fill(v.Index(i), s, depth-1)
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, s, depth-1)
		fill(e, s, depth-1)
		v.SetMapIndex(k, e)
	}
}

// Hidden is the index in out of the first character a terminal or a
// browser would act on or show out of order: a control character other
// than newline and tab, a C1 control, a bidi embedding, override or
// isolate, or a byte that is not UTF-8; -1 when there is none.
func Hidden(out string) int {
	for i, r := range out {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD"),
			r < ' ' && r != '\n' && r != '\t', 0x7f <= r && r <= 0x9f,
			0x202a <= r && r <= 0x202e, 0x2066 <= r && r <= 0x2069:
			return i
		}
	}
	return -1
}

// Around is out near i made visible, for a failure message (which must
// not act on the terminal of whoever reads it either).
func Around(out string, i int) string {
	return text.Visible(out[max(i-60, 0):min(i+60, len(out))])
}
