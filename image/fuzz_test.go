package image

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/internal/strictjson"
)

// seedDocs are the hostile documents of docCases (the small ones) and a few
// written to sit on checkJSON's edges.
func seedDocs(f *testing.F) [][]byte {
	w := newWorld(f)
	docs := [][]byte{
		nil, []byte(" "), []byte("{}"), []byte("[]"), []byte(`"x"`), []byte("1 2"), []byte("{} {}"), []byte("{"), []byte("}"),
		[]byte(`{"a":1,"A":2}`), []byte(`{"a":1,"a":2}`), []byte(`{"a":{"a":1}}`), []byte(`[{"a":1},{"a":2}]`),
		[]byte(`{"layers":[],"layerſ":[]}`), []byte(`{"k":1,"\u212a":2}`), []byte(`{"\ud800":1,"\udc00":2}`),
		[]byte(`{"a":[1,{"b":[{"c":"d"}]}],"e":null}`), []byte(`{"a" 1}`), []byte(`{"a":1,}`), []byte(`[1,]`), []byte(`[1 2]`),
		[]byte(`{"a":"` + "\xff" + `"}`), []byte(strings.Repeat("[", 65) + strings.Repeat("]", 65)), []byte(`1e999999`), []byte(`-0.0e-0`),
	}
	for _, c := range docCases() {
		docs = append(docs, c.doc(w))
	}
	for _, b := range w.children {
		docs = append(docs, b)
	}
	// Large seeds make the fuzzer spend its time minimizing them.
	return slices.DeleteFunc(docs, func(b []byte) bool { return len(b) > 4<<10 })
}

// Run the fuzzers with -fuzzminimizetime 2s: with the default 60s, a short
// run spends most of its time minimizing each new manifest-sized input.

// FuzzCheckJSON: checkJSON never panics, and what it accepts is JSON that
// encoding/json parses to one value, with no key twice however Go folds it.
func FuzzCheckJSON(f *testing.F) {
	for _, d := range seedDocs(f) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if strictjson.Check(b, 64) != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("checkJSON accepted invalid JSON %q", b)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber() // 1e999999 is JSON, not a float64
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("checkJSON accepted %q, which does not decode: %v", b, err)
		}
		noFoldedTwins(t, v)
	})
}

// noFoldedTwins fails when an object holds two keys Go's decoder would
// match to one struct field.
func noFoldedTwins(t *testing.T, v any) {
	switch v := v.(type) {
	case map[string]any:
		seen := map[string]string{}
		for k, x := range v {
			if prev, ok := seen[strictjson.FoldKey(k)]; ok {
				t.Fatalf("accepted keys %q and %q", prev, k)
			}
			seen[strictjson.FoldKey(k)] = k
			noFoldedTwins(t, x)
		}
	case []any:
		for _, x := range v {
			noFoldedTwins(t, x)
		}
	}
}

// FuzzClassify: classify never panics; what it accepts is JSON of the kind
// its media type says, and a specific declared type is never overridden.
func FuzzClassify(f *testing.F) {
	declared := []types.MediaType{"", types.OCIManifestSchema1, types.OCIImageIndex, types.DockerManifestSchema2,
		types.DockerManifestList, types.DockerManifestSchema1Signed, "application/json", "text/plain; charset=utf-8"}
	for i, d := range seedDocs(f) {
		f.Add(d, string(declared[i%len(declared)]))
	}
	lim := DefaultLimits
	f.Fuzz(func(t *testing.T, raw []byte, decl string) {
		kind, mt, err := classify(raw, types.MediaType(decl), lim)
		if err != nil {
			return
		}
		if !json.Valid(raw) {
			t.Fatalf("accepted invalid JSON %q", raw)
		}
		switch kind {
		case kindIndex:
			if !mt.IsIndex() {
				t.Fatalf("an index of media type %q", mt)
			}
		case kindManifest:
			if !mt.IsImage() {
				t.Fatalf("a manifest of media type %q", mt)
			}
		default:
			t.Fatalf("kind %d", kind)
		}
		if d := types.MediaType(decl); d != "" && !isGenericType(d) && mt != d {
			t.Fatalf("declared %q, classified as %q", d, mt)
		}
	})
}

// FuzzParseReference: references come from users and API requests; what
// is accepted never carries a digest that could leave blobs/sha256/.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"example.com/app:v1", "localhost:5000/a/b@" + digA, "oci:/tmp/l:v1", "oci:/tmp/a:b/l@" + digA,
		"oci-archive:x.tar@" + digA, "oci:", "example.com/app:", "example.com/app@sha256:../../x", "[::1]:5000/a:b@" + digA} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseReference(s)
		if err != nil {
			return
		}
		if r.Name == "" || r.String() != s {
			t.Fatalf("ParseReference(%q) = %+v", s, r)
		}
		if r.Pinned() {
			if _, err := ParseDigest(r.Digest.String()); err != nil || r.Digest.Algorithm != "sha256" {
				t.Fatalf("ParseReference(%q) accepted digest %q", s, r.Digest)
			}
		}
	})
}
