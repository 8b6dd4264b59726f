package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// checkJSON rejects documents that Go's decoder would accept with a silent
// choice: invalid UTF-8 (replaced by U+FFFD), duplicate keys and keys that
// differ only in case (the last or a case-folded one wins), trailing data,
// and nesting deeper than maxDepth.
func checkJSON(b []byte, maxDepth int) error {
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
			folded := strings.ToLower(k)
			if prev, dup := top.keys[folded]; dup {
				if prev == k {
					return fmt.Errorf("duplicate key %q", truncate(k, 64))
				}
				return fmt.Errorf("keys %q and %q differ only in case", truncate(prev, 64), truncate(k, 64))
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
	return nil
}
