package strictjson

// shapes has the json tags encoding/json reads oddly ("-,", an invalid one)
// and an unexported field on purpose: Unmarshal must read them as it does.
//
//lint:file-ignore SA5008 shapes's odd json tags are what the test is about
//lint:file-ignore U1000 shapes.unexport is there to be skipped, never decoded

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// The types below stand for the documents reprover decodes: a lock file,
// an in-toto statement, a provenance predicate, an OCI descriptor.
type lock struct {
	LockVersion int   `json:"lockVersion"`
	Downloads   []pin `json:"downloads"`
}

type pin struct {
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size,omitempty"`
}

type statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"` // decoded later
	Extra         any             `json:"extra"`
}

type predicate struct {
	BuildDefinition struct {
		ExternalParameters struct {
			Request struct {
				Args map[string]string `json:"args"`
			} `json:"request"`
		} `json:"externalParameters"`
		ResolvedDependencies []*pin `json:"resolvedDependencies"`
	} `json:"buildDefinition"`
	Metadata struct {
		BuildKit map[string]string `json:"https://mobyproject.org/buildkit@v1#metadata"`
	} `json:"metadata"`
}

type descriptor struct {
	MediaType string            `json:"mediaType"`
	Layers    []json.RawMessage `json:"layers"`
}

// Inner and *Outer are embedded: their fields are promoted.
type Inner struct {
	A int `json:"a"`
}

type Outer struct {
	B int `json:"b"`
}

type selfDecoding struct{ got []byte }

func (s *selfDecoding) UnmarshalJSON(b []byte) error { s.got = b; return nil }

type shapes struct {
	Inner
	*Outer
	Name     string          // untagged: the Go name
	Secret   string          `json:"-"`
	Dash     string          `json:"-,"` // named "-"
	Pins     map[string]pin  `json:"pins"`
	Nested   [][]pin         `json:"nested"`
	PtrPtr   **pin           `json:"ptr"`
	Custom   selfDecoding    `json:"custom"`
	Folds    string          `json:"layers"`
	Kelvin   string          `json:"key"`
	Lower    int             `json:"x"`
	Upper    int             `json:"X"` // exact wins over folded
	unexport string          // never decoded
	Blank    string          `json:",omitempty"` // the Go name
	Invalid  string          `json:"a\"b"`       // an invalid tag: the Go name
	Arr      [2]pin          `json:"arr"`
	Raw      json.RawMessage `json:"raw"`
}

func TestUnmarshal(t *testing.T) {
	for _, c := range []struct {
		name string
		into func() any
		doc  string
		// wantErr "" accepted (and decoded as json.Unmarshal decodes);
		// else a substring of the error, and key/path when it is a
		// *KeyError.
		wantErr, key, path string
	}{
		{name: "statement spelled as its format", into: func() any { return new(statement) },
			doc: `{"_type":"x","predicateType":"https://slsa.dev/provenance/v1","predicate":{"Anything":1}}`},
		{name: "PredicateType", into: func() any { return new(statement) },
			doc: `{"_type":"x","PredicateType":"https://slsa.dev/provenance/v1"}`, wantErr: `matches field "predicateType" only in case`, key: "PredicateType", path: "$"},
		{name: "Downloads", into: func() any { return new(lock) },
			doc: `{"lockVersion":1,"Downloads":[]}`, wantErr: `$: key "Downloads" matches field "downloads" only in case`, key: "Downloads", path: "$"},
		{name: "URL in the second download", into: func() any { return new(lock) },
			doc: `{"lockVersion":1,"downloads":[{"url":"a"},{"URL":"b"}]}`, wantErr: "only in case", key: "URL", path: "$.downloads[1]"},
		{name: "mediatype", into: func() any { return new(descriptor) },
			doc: `{"mediatype":"application/vnd.oci.image.manifest.v1+json"}`, wantErr: "only in case", key: "mediatype", path: "$"},
		{name: "nested ExternalParameters", into: func() any { return new(predicate) },
			doc: `{"buildDefinition":{"ExternalParameters":{"request":{}}}}`, wantErr: "only in case", key: "ExternalParameters", path: "$.buildDefinition"},
		{name: "deep in a pointer in a slice", into: func() any { return new(predicate) },
			doc: `{"buildDefinition":{"resolvedDependencies":[{"url":"a","Sha256":"b"}]}}`, wantErr: "only in case", key: "Sha256", path: "$.buildDefinition.resolvedDependencies[0]"},
		{name: "a key with a URL in it spelled exactly", into: func() any { return new(predicate) },
			doc: `{"metadata":{"https://mobyproject.org/buildkit@v1#metadata":{"vcs":"x"}}}`},
		{name: "a key with a URL in it in another case", into: func() any { return new(predicate) },
			doc: `{"metadata":{"HTTPS://mobyproject.org/buildkit@v1#metadata":{}}}`, wantErr: "only in case", key: "HTTPS://mobyproject.org/buildkit@v1#metadata", path: "$.metadata"},
		{name: "map keys are data", into: func() any { return new(predicate) },
			doc: `{"buildDefinition":{"externalParameters":{"request":{"args":{"build-arg:A":"1"}}}}}`},
		{name: "map keys in upper case are data", into: func() any { return new(predicate) },
			doc: `{"buildDefinition":{"externalParameters":{"request":{"args":{"BUILD-ARG:A":"1"}}}}}`},
		{name: "long s folds to s", into: func() any { return new(shapes) },
			doc: `{"layerſ":"x"}`, wantErr: `matches field "layers" only in case`, key: "layerſ", path: "$"},
		{name: "Kelvin sign folds to k", into: func() any { return new(shapes) },
			doc: `{"\u212aey":"x"}`, wantErr: `matches field "key" only in case`, key: "\u212aey", path: "$"},
		{name: "dotted I is not i", into: func() any { return new(shapes) },
			doc: `{"İ":1}`},
		{name: "promoted field", into: func() any { return new(shapes) }, doc: `{"a":1,"b":2}`},
		{name: "promoted field in another case", into: func() any { return new(shapes) },
			doc: `{"A":1}`, wantErr: "only in case", key: "A", path: "$"},
		{name: "field promoted through a pointer in another case", into: func() any { return new(shapes) },
			doc: `{"B":1}`, wantErr: "only in case", key: "B", path: "$"},
		{name: "untagged field by its Go name", into: func() any { return new(shapes) }, doc: `{"Name":"n","Blank":"b","Invalid":"i"}`},
		{name: "untagged field in another case", into: func() any { return new(shapes) },
			doc: `{"name":"n"}`, wantErr: `matches field "Name"`, key: "name", path: "$"},
		{name: "omitempty field in another case", into: func() any { return new(shapes) },
			doc: `{"blank":"b"}`, wantErr: `matches field "Blank"`, key: "blank", path: "$"},
		{name: `a "-" field is not a field`, into: func() any { return new(shapes) }, doc: `{"Secret":"s","secret":"t"}`,
			wantErr: "differ only in case"}, // Check's rule, whatever the type
		{name: `a "-" field in any case is an unknown key`, into: func() any { return new(shapes) }, doc: `{"SECRET":"s"}`},
		{name: `a field named "-"`, into: func() any { return new(shapes) }, doc: `{"-":"d"}`},
		{name: "an unexported field is not a field", into: func() any { return new(shapes) }, doc: `{"unexport":"u","Unexport":"v"}`,
			wantErr: "differ only in case"},
		{name: "an unexported field's name is an unknown key", into: func() any { return new(shapes) }, doc: `{"unexport":"u"}`},
		{name: "exact match wins over a folded one", into: func() any { return new(shapes) }, doc: `{"X":2}`},
		{name: "map of structs", into: func() any { return new(shapes) },
			doc: `{"pins":{"URL":{"url":"a"},"odd key":{"Url":"b"}}}`, wantErr: "only in case", key: "Url", path: `$.pins["odd key"]`},
		{name: "slices of slices", into: func() any { return new(shapes) },
			doc: `{"nested":[[],[{"url":"a"},{"SHA256":"b"}]]}`, wantErr: "only in case", key: "SHA256", path: "$.nested[1][1]"},
		{name: "array", into: func() any { return new(shapes) },
			doc: `{"arr":[{"url":"a"},{"Size":1}]}`, wantErr: "only in case", key: "Size", path: "$.arr[1]"},
		{name: "pointer to pointer", into: func() any { return new(shapes) },
			doc: `{"ptr":{"Url":"a"}}`, wantErr: "only in case", key: "Url", path: "$.ptr"},
		{name: "a type that decodes itself sees its keys", into: func() any { return new(shapes) }, doc: `{"custom":{"ANY":1},"raw":{"Url":1}}`},
		{name: "an interface holds data", into: func() any { return new(statement) }, doc: `{"extra":{"PredicateType":1}}`},
		{name: "RawMessage members in a slice", into: func() any { return new(descriptor) }, doc: `{"layers":[{"MediaType":1}]}`},
		{name: "top-level slice", into: func() any { return new([]pin) },
			doc: `[{"url":"a"},{"uRL":"b"}]`, wantErr: "only in case", key: "uRL", path: "$[1]"},
		{name: "unknown keys are ignored", into: func() any { return new(lock) }, doc: `{"lockVersion":1,"comment":{"URL":1}}`},
		{name: "an object where a string goes", into: func() any { return new(lock) },
			doc: `{"downloads":[{"url":{"URL":1}}]}`, wantErr: "cannot unmarshal object"},
		{name: "duplicate key", into: func() any { return new(lock) }, doc: `{"lockVersion":1,"lockVersion":2}`, wantErr: "duplicate key"},
		{name: "invalid UTF-8", into: func() any { return new(lock) }, doc: "{\"downloads\":[{\"url\":\"\xff\"}]}", wantErr: "invalid UTF-8"},
		{name: "not a pointer", into: func() any { return lock{} }, doc: `{}`, wantErr: "non-pointer"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := c.into()
			err := Unmarshal([]byte(c.doc), v, 16)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				plain := c.into()
				if err := json.Unmarshal([]byte(c.doc), plain); err != nil || !reflect.DeepEqual(v, plain) {
					t.Fatalf("decoded %+v, json.Unmarshal %+v (%v)", v, plain, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err %v, want one saying %q", err, c.wantErr)
			}
			var ke *KeyError
			if c.key != "" && (!errors.As(err, &ke) || ke.Key != c.key || ke.Path != c.path) {
				t.Fatalf("err %#v, want a *KeyError for key %q at %s", err, c.key, c.path)
			}
		})
	}
}

func TestUnmarshalKnown(t *testing.T) {
	for _, c := range []struct{ name, doc, wantErr, key, path string }{
		{name: "every key known", doc: `{"lockVersion":1,"downloads":[{"url":"a","sha256":"b","size":1}]}`},
		{name: "unknown key", doc: `{"lockVersion":1,"comment":"x"}`, wantErr: `$: unknown field "comment"`, key: "comment", path: "$"},
		{name: "unknown key in a download", doc: `{"downloads":[{"url":"a","mirror":"b"}]}`, wantErr: "unknown field", key: "mirror", path: "$.downloads[0]"},
		{name: "case-variant key", doc: `{"Downloads":[]}`, wantErr: "only in case", key: "Downloads", path: "$"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var l lock
			err := UnmarshalKnown([]byte(c.doc), &l, 8)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ke *KeyError
			if err == nil || !strings.Contains(err.Error(), c.wantErr) || !errors.As(err, &ke) || ke.Key != c.key || ke.Path != c.path {
				t.Fatalf("err %v, want a *KeyError for key %q at %s saying %q", err, c.key, c.path, c.wantErr)
			}
		})
	}
}

// fuzzed is the type FuzzUnmarshal decodes into: every field tagged and
// none embedded, so that caseSensitive below can follow it plainly.
type fuzzed struct {
	Kind  string            `json:"kind"`
	N     int               `json:"n"`
	Pins  []pin             `json:"pins"`
	ByURL map[string]*pin   `json:"byURL"`
	Args  map[string]string `json:"args"`
	Inner *struct {
		Kind string   `json:"KIND"`
		List [][]pin  `json:"list"`
		Opts []string `json:"opts"`
	} `json:"inner"`
	Raw json.RawMessage `json:"raw"`
	Any any             `json:"any"`
}

func FuzzUnmarshal(f *testing.F) {
	for _, s := range []string{
		`{"kind":"a","n":1,"pins":[{"url":"u","sha256":"s","size":2}],"byURL":{"u":{"url":"u"}},"args":{"A":"b","a":"c"}}`,
		`{"Kind":"a"}`, `{"kinſ":"a"}`, `{"inner":{"KIND":"x","list":[[{"URL":"u"}]],"opts":["a"]}}`, `{"inner":{"kind":"x"}}`,
		`{"raw":{"Kind":1},"any":{"Kind":[1,{"N":2}]}}`, `{"pins":[{"Url":"u"}]}`, `{"byURL":{"U":{"SHA256":"s"}}}`,
		`{"n":"1"}`, `{"n":1e2}`, `[]`, `null`, `{"kind":"a","kind":"b"}`, `{"\u212aind":"k"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var strict fuzzed
		if Unmarshal(b, &strict, 16) != nil {
			return
		}
		var plain fuzzed
		if err := json.Unmarshal(b, &plain); err != nil || !reflect.DeepEqual(strict, plain) {
			t.Fatalf("accepted %q as %+v; json.Unmarshal: %+v, %v", b, strict, plain, err)
		}
		// What a case-sensitive reader makes of the document: the same.
		var doc any
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatalf("accepted %q, which does not decode: %v", b, err)
		}
		exact, err := json.Marshal(caseSensitive(doc, reflect.TypeFor[fuzzed]()))
		if err != nil {
			t.Fatal(err)
		}
		var sensitive fuzzed
		if err := json.Unmarshal(exact, &sensitive); err != nil || !reflect.DeepEqual(strict, sensitive) {
			t.Fatalf("accepted %q as %+v; a case-sensitive reader reads %+v (%v)", b, strict, sensitive, err)
		}
	})
}

// caseSensitive drops from doc the keys of objects read into structs of t
// that are not spelled as a field's json tag: what a reader matching keys
// exactly would ignore.
func caseSensitive(doc any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeFor[json.RawMessage]() || t.Kind() == reflect.Interface {
		return doc
	}
	switch d := doc.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, v := range d {
			switch t.Kind() {
			case reflect.Map:
				out[k] = caseSensitive(v, t.Elem())
			case reflect.Struct:
				for i := range t.NumField() {
					if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name == k {
						out[k] = caseSensitive(v, t.Field(i).Type)
					}
				}
			default:
				out[k] = v
			}
		}
		return out
	case []any:
		out := make([]any, len(d))
		for i, v := range d {
			if t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
				out[i] = caseSensitive(v, t.Elem())
			} else {
				out[i] = v
			}
		}
		return out
	}
	return doc
}
