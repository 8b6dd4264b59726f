// Package strictjson refuses the JSON documents that Go's decoder would
// read with a silent choice (duplicate or case-folded keys, invalid UTF-8,
// trailing data, deep nesting), so that an untrusted document means one
// thing to reprover and to every other reader. Image documents, provenance,
// lock files and signed envelopes are decoded with Unmarshal, which also
// refuses a key that Go's decoder would match to a field only by folding
// its case.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/reprover/reprover/internal/text"
)

// Check rejects documents that Go's decoder would accept with a silent
// choice: invalid UTF-8 (replaced by U+FFFD), duplicate keys and keys that
// differ only in case (the last or a case-folded one wins), trailing data,
// and nesting deeper than maxDepth.
func Check(b []byte, maxDepth int) error {
	return scan(b, maxDepth, nil, false)
}

// frame is an open object or array.
type frame struct {
	object bool
	keys   map[string]string // folded → as written
	expect bool              // next string token is a key
	// What the document's values here decode into: t is the container's
	// type (nil: the values are data, or a type that decodes itself), next
	// the type of the value about to start.
	t, next reflect.Type
	key     string // the last key read (objects)
	index   int    // the next element's index (arrays)
}

// scan is Check, and, when root is not nil, the walk of root's type along
// the document that refuses keys spelled unlike the fields they would set
// (see Unmarshal).
func scan(b []byte, maxDepth int, root reflect.Type, known bool) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	fields := fieldCache{}
	var stack []*frame
	done := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("invalid JSON: %w", err)
		}
		if done {
			return errors.New("trailing data after the JSON value")
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if k, isString := tok.(string); isString && top != nil && top.object && top.expect {
			folded := FoldKey(k)
			if prev, dup := top.keys[folded]; dup {
				if prev == k {
					return fmt.Errorf("duplicate key %q", text.Truncate(k, 64))
				}
				return fmt.Errorf("keys %q and %q differ only in case", text.Truncate(prev, 64), text.Truncate(k, 64))
			}
			top.keys[folded] = k
			top.expect = false
			top.key = k
			next, err := fields.member(top.t, k, known)
			if err != nil {
				err.Path = path(stack[:len(stack)-1])
				return err
			}
			top.next = next
			continue
		}
		// A value starts (or a container ends): its type is the root's,
		// the member's whose key came before it, or the array's element's.
		var t reflect.Type
		switch {
		case top == nil:
			t = root
		case top.object:
			t = top.next
		default:
			t = elem(top.t)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxDepth {
				return fmt.Errorf("nesting deeper than %d", maxDepth)
			}
			f := &frame{object: tok == json.Delim('{'), t: target(t)}
			if f.object {
				f.keys = map[string]string{}
				f.expect = true
			}
			stack = append(stack, f)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			top = nil
			if len(stack) > 0 {
				top = stack[len(stack)-1]
			}
			done = top == nil
		default:
			done = top == nil
		}
		// A value ended inside top.
		if top != nil && top.object {
			top.expect = true
		} else if top != nil {
			top.index++
		}
	}
	// Token reports io.EOF for an empty input and for one cut short inside
	// an object or array: neither is a document.
	if !done {
		return errors.New("invalid JSON: no complete value")
	}
	return nil
}

// path names where the innermost frame of stack is, as $.a.b[0]: each
// object by the key being read, each array by the element's index.
func path(stack []*frame) string {
	var b strings.Builder
	b.WriteString("$")
	for _, f := range stack {
		switch {
		case !f.object:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case isPlainKey(f.key):
			b.WriteString("." + f.key)
		default:
			b.WriteString("[" + strconv.Quote(text.Truncate(f.key, 64)) + "]")
		}
	}
	return b.String()
}

func isPlainKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i, r := range k {
		if r != '_' && !(r < utf8.RuneSelf && unicode.IsLetter(r)) && !(i > 0 && '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// FoldKey folds a key as encoding/json does when it matches struct fields
// (bytes.EqualFold): strings.ToLower missed "layerſ", which Go's decoder
// reads as "layers" (ſ folds to S).
func FoldKey(k string) string {
	b := make([]rune, 0, len(k))
	for _, r := range k {
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b = append(b, r)
	}
	return string(b)
}
