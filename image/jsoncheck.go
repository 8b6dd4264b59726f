package image

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
			folded := foldKey(k)
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

// foldKey folds a key as encoding/json does when it matches struct fields
// (bytes.EqualFold): strings.ToLower missed "layerſ", which Go's decoder
// reads as "layers" (ſ folds to S).
func foldKey(k string) string {
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

// Members of manifests, indexes, descriptors and platforms, spelled as the
// specs spell them.
var (
	documentKeys   = []string{"schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations", "fsLayers"}
	descriptorKeys = []string{"mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType"}
	platformKeys   = []string{"architecture", "os", "os.version", "os.features", "variant", "features"}
)

// checkSpelling refuses a manifest or index whose members, or whose
// descriptors' members, are spelled in another case than the spec's: Go's
// decoder reads "Layers" alone as layers, where a case-sensitive reader
// sees an image without layers.
func checkSpelling(raw []byte) error {
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return nil // not an object: the parser refuses it
	}
	if err := spelledAs(doc, documentKeys); err != nil {
		return err
	}
	var descs []json.RawMessage
	for _, k := range []string{"layers", "manifests"} {
		var list []json.RawMessage
		json.Unmarshal(doc[k], &list)
		descs = append(descs, list...)
	}
	descs = append(descs, doc["config"], doc["subject"])
	for _, d := range descs {
		var m map[string]json.RawMessage
		if json.Unmarshal(d, &m) != nil {
			continue
		}
		if err := spelledAs(m, descriptorKeys); err != nil {
			return err
		}
		var p map[string]json.RawMessage
		if json.Unmarshal(m["platform"], &p) == nil {
			if err := spelledAs(p, platformKeys); err != nil {
				return err
			}
		}
	}
	return nil
}

func spelledAs(m map[string]json.RawMessage, keys []string) error {
	for k := range m {
		for _, want := range keys {
			if k != want && foldKey(k) == foldKey(want) {
				return fmt.Errorf("key %q: the spec spells it %q", text.Truncate(k, 64), want)
			}
		}
	}
	return nil
}
