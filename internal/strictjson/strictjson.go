// Package strictjson refuses the JSON documents that Go's decoder would
// read with a silent choice (duplicate or case-folded keys, invalid UTF-8,
// trailing data, deep nesting), so that an untrusted document means one
// thing to reprover and to every other reader. Image documents, provenance
// and lock files are checked with it before they are parsed.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode"
	"unicode/utf8"

	"github.com/reprover/reprover/internal/text"
)

// Check rejects documents that Go's decoder would accept with a silent
// choice: invalid UTF-8 (replaced by U+FFFD), duplicate keys and keys that
// differ only in case (the last or a case-folded one wins), trailing data,
// and nesting deeper than maxDepth.
func Check(b []byte, maxDepth int) error {
	if !utf8.Valid(b) {
		return errors.New("invalid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		object bool
		keys   map[string]string // folded → as written
		expect bool              // next string token is a key
	}
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
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if len(stack) >= maxDepth {
				return fmt.Errorf("nesting deeper than %d", maxDepth)
			}
			if top != nil && top.object {
				top.expect = true
			}
			f := &frame{object: tok == json.Delim('{')}
			if f.object {
				f.keys = map[string]string{}
				f.expect = true
			}
			stack = append(stack, f)
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			if len(stack) > 0 && stack[len(stack)-1].object {
				stack[len(stack)-1].expect = true
			}
			done = len(stack) == 0
			continue
		}
		if top == nil {
			done = true
		} else if top.object {
			top.expect = true
		}
	}
	// Token reports io.EOF for an empty input and for one cut short inside
	// an object or array: neither is a document.
	if !done {
		return errors.New("invalid JSON: no complete value")
	}
	return nil
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
