package provenance

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	for _, c := range []struct {
		file      string
		want      Build
		buildArgs map[string]string
	}{
		{"buildkit-v1-min.json", Build{PredicateType: SLSAv1, DockerfilePath: "Dockerfile", Frontend: "dockerfile.v0",
			VCS: map[string]string{"source": "https://git.example/org/app.git", "revision": "191d9e9468fe2c91c63c5268feb520386caddc31"}}, map[string]string{}},
		{"buildkit-v1-max.json", Build{PredicateType: SLSAv1, Max: true, DockerfilePath: "Dockerfile", Frontend: "dockerfile.v0",
			VCS: map[string]string{"source": "https://git.example/org/app.git", "revision": "191d9e9468fe2c91c63c5268feb520386caddc31"}}, map[string]string{"V": "2", "SOURCE_DATE_EPOCH": "1740830400"}},
		{"buildkit-v02-git.json", Build{PredicateType: SLSAv02, Max: true, ConfigSourceURI: "https://github.com/org/app.git#v1.2.0", Commit: "0123456789abcdef0123456789abcdef01234567",
			DockerfilePath: "build/Dockerfile", Frontend: "dockerfile.v0",
			VCS: map[string]string{"source": "https://github.com/org/app.git", "revision": "0123456789abcdef0123456789abcdef01234567"}}, map[string]string{"VERSION": "1.2.0"}},
	} {
		t.Run(c.file, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Read(raw)
			if err != nil {
				t.Fatal(err)
			}
			if b.Args["target"] != "release" {
				t.Errorf("target %q, want release", b.Args["target"])
			}
			args := b.Args
			b.Args = nil
			b.Images, b.LayerLocations = nil, nil // TestImages, TestLayerLocations
			want := c.want
			if !reflect.DeepEqual(*b, want) {
				t.Errorf("read %+v\nwant %+v", *b, want)
			}
			b.Args = args
			if got := b.BuildArgs(); !reflect.DeepEqual(got, c.buildArgs) {
				t.Errorf("build args %v, want %v", got, c.buildArgs)
			}
		})
	}
	for name, doc := range map[string]string{
		"not provenance":  `{"predicateType":"https://spdx.dev/Document","predicate":{}}`,
		"duplicate keys":  `{"predicateType":"https://slsa.dev/provenance/v1","predicateType":"x"}`,
		"not an object":   `[]`,
		"predicate wrong": `{"predicateType":"https://slsa.dev/provenance/v1","predicate":[1]}`,
	} {
		if _, err := Read([]byte(doc)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestReadKeysSpelledExactly: a key Go's decoder would match to a field
// only by folding case is refused, naming it and where it is; map keys
// (build arguments) are data.
func TestReadKeysSpelledExactly(t *testing.T) {
	v1 := func(pred string) string {
		return `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[],"predicate":` + pred + `}`
	}
	for _, c := range []struct{ name, doc, want string }{
		{"PredicateType", `{"PredicateType":"https://slsa.dev/provenance/v1","predicate":{}}`,
			`$: key "PredicateType" matches field "predicateType" only in case`},
		{"Subject", `{"predicateType":"https://slsa.dev/provenance/v1","Subject":[],"predicate":{}}`, `$: key "Subject"`},
		{"a subject's Digest", `{"predicateType":"https://slsa.dev/provenance/v1","subject":[{"name":"x","Digest":{}}],"predicate":{}}`,
			`$.subject[0]: key "Digest"`},
		{"Predicate", `{"predicateType":"https://slsa.dev/provenance/v1","Predicate":{}}`, `$: key "Predicate"`},
		{"nested ExternalParameters", v1(`{"buildDefinition":{"ExternalParameters":{"request":{"args":{"target":"evil"}}}}}`),
			`$.predicate.buildDefinition: key "ExternalParameters" matches field "externalParameters"`},
		{"a material's URI", v1(`{"buildDefinition":{"resolvedDependencies":[{"uri":"https://a.example/x"},{"URI":"https://b.example/x"}]}}`),
			`$.predicate.buildDefinition.resolvedDependencies[1]: key "URI"`},
		{"v0.2 Invocation", `{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"Invocation":{}}}`, `$.predicate: key "Invocation"`},
		{"v0.2 metadata key folded", `{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"metadata":{"https://mobyproject.org/BuildKit@v1#metadata":{}}}}`,
			`$.predicate.metadata: key "https://mobyproject.org/BuildKit@v1#metadata"`},
		{"long s", v1(`{"buildDefinition":{"externalParameters":{"requeſt":{}}}}`), `key "requeſt" matches field "request"`},
	} {
		_, err := Read([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want one saying %q", c.name, err, c.want)
		}
	}
	for _, args := range []string{`{"build-arg:A":"1"}`, `{"BUILD-ARG:A":"1"}`} {
		b, err := Read([]byte(v1(`{"buildDefinition":{"externalParameters":{"request":{"args":` + args + `}}}}`)))
		if err != nil || len(b.Args) != 1 {
			t.Errorf("args %s: %+v, %v", args, b, err)
		}
	}
}

// TestAbout: BuildKit names in each platform's statement that platform's
// image manifest (once per image name), and nothing when the export had no
// name; a statement is used only for the images it names. The testdata
// are BuildKit v0.34.2's (buildctl build of FROM scratch + COPY with --opt
// platform=linux/amd64,linux/arm64 --opt attest:provenance=mode=max
// --output type=oci,name=registry.example/org/app:v1; the two-names one
// mode=min, linux/amd64, "name=registry.example/org/app:v1,…:latest").
func TestAbout(t *testing.T) {
	const (
		amd64 = "sha256:46140751d22c0be6753258b56271fee1c2814a73db9f9683249b20a515ee23be"
		arm64 = "sha256:3ae77acb3171c3806c1ac1af811598ddf6bcc6a26673a8a26f081ef955831aa6"
		other = "sha256:7584dd05642012021a9d24f1fc99e91c9813a6bb36cf79108fbbfb8cb3deb19b"
	)
	for _, c := range []struct {
		name, file string
		subjects   []Subject
		digests    []string
		want       string // "" accepted, else a substring of the error
	}{
		{name: "amd64 statement, amd64 image", file: "buildkit-v1-max-amd64.json",
			subjects: []Subject{{"pkg:docker/registry.example/org/app@v1?platform=linux%2Famd64", amd64[7:]}}, digests: []string{amd64}},
		{name: "amd64 statement, both platforms verified", file: "buildkit-v1-max-amd64.json",
			subjects: []Subject{{"pkg:docker/registry.example/org/app@v1?platform=linux%2Famd64", amd64[7:]}}, digests: []string{arm64, amd64}},
		{name: "arm64 statement, amd64 image", file: "buildkit-v1-max-arm64.json",
			subjects: []Subject{{"pkg:docker/registry.example/org/app@v1?platform=linux%2Farm64", arm64[7:]}}, digests: []string{amd64},
			want: "the provenance is about pkg:docker/registry.example/org/app@v1?platform=linux%2Farm64 (" + arm64 + "), not " + amd64},
		{name: "two names, one image", file: "buildkit-v1-min-two-names.json",
			subjects: []Subject{{"pkg:docker/registry.example/org/app@v1?platform=linux%2Famd64", other[7:]}, {"pkg:docker/registry.example/org/app@latest?platform=linux%2Famd64", other[7:]}},
			digests:  []string{other}},
		{name: "no subject (an export without a name)", file: "buildkit-v1-max.json", digests: []string{amd64},
			want: "the provenance names no subject, so it is not about " + amd64},
		{name: "no image given", file: "buildkit-v1-max-amd64.json",
			subjects: []Subject{{"pkg:docker/registry.example/org/app@v1?platform=linux%2Famd64", amd64[7:]}}, want: "not no image"},
		{name: "a digest of another algorithm", file: "buildkit-v1-max-amd64.json",
			subjects: []Subject{{"pkg:docker/registry.example/org/app@v1?platform=linux%2Famd64", amd64[7:]}}, digests: []string{"sha512:" + amd64[7:]}, want: "not sha512:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			b, err := Read(raw)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.Subjects, c.subjects) {
				t.Errorf("subjects %+v, want %+v", b.Subjects, c.subjects)
			}
			_, err = ReadFor(raw, c.digests...)
			if (err == nil) != (c.want == "") || err != nil && !strings.Contains(err.Error(), c.want) {
				t.Errorf("ReadFor: %v, want %q", err, c.want)
			}
		})
	}
	// Subjects as another writer might spell them: only an exact sha256
	// matches.
	for _, c := range []struct{ name, subject string }{
		{"upper-case hex", `{"name":"x","digest":{"sha256":"` + strings.ToUpper(amd64[7:]) + `"}}`},
		{"the algorithm in another case", `{"name":"x","digest":{"SHA256":"` + amd64[7:] + `"}}`},
		{"the algorithm in the value", `{"name":"x","digest":{"sha256":"` + amd64 + `"}}`},
		{"sha512 only", `{"name":"x","digest":{"sha512":"` + amd64[7:] + amd64[7:] + `"}}`},
	} {
		doc := `{"predicateType":"https://slsa.dev/provenance/v1","subject":[` + c.subject + `],"predicate":{}}`
		if _, err := ReadFor([]byte(doc), amd64); err == nil || !strings.Contains(err.Error(), "the provenance is about x (") {
			t.Errorf("%s: %v, want it refused", c.name, err)
		}
	}
	// A list of thousands is shown bounded.
	many := strings.Repeat(`{"name":"n","digest":{"sha256":"`+other[7:]+`"}},`, 5000)
	doc := `{"predicateType":"https://slsa.dev/provenance/v1","subject":[` + strings.TrimSuffix(many, ",") + `],"predicate":{}}`
	if _, err := ReadFor([]byte(doc), amd64); err == nil || !strings.Contains(err.Error(), "and 4997 more") || len(err.Error()) > 1000 {
		t.Errorf("5000 subjects: %v", err)
	}
}

func FuzzRead(f *testing.F) {
	for _, n := range []string{"buildkit-v1-min.json", "buildkit-v02-git.json", "buildkit-v1-min-two-names.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := Read(raw)
		if err != nil {
			return
		}
		if !strings.HasPrefix(b.PredicateType, "https://slsa.dev/provenance/") {
			t.Fatalf("accepted predicate type %q", b.PredicateType)
		}
		for _, s := range b.Subjects {
			if err := b.About("sha256:" + s.SHA256); (err == nil) != (s.SHA256 != "") {
				t.Fatalf("subject %+v: About its own digest: %v", s, err)
			}
		}
	})
}

// TestDownloads: the http(s) materials are the downloads (what the proxy
// captured, and ADD's), each with its sha256; images are not downloads.
func TestDownloads(t *testing.T) {
	sumA, sumB := strings.Repeat("a", 64), strings.Repeat("b", 64)
	v1 := func(deps string) string {
		return `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[],"predicate":{"buildDefinition":{"resolvedDependencies":[` + deps + `]}}}`
	}
	for _, c := range []struct {
		name, doc string
		want      []Download
	}{
		{"v1: downloads, not images", v1(`{"uri":"pkg:docker/busybox@1?platform=linux%2Famd64","digest":{"sha256":"` + sumB + `"}},{"uri":"https://deb.example/InRelease","digest":{"sha256":"` + sumA + `"}}`),
			[]Download{{URL: "https://deb.example/InRelease", SHA256: sumA}}},
		{"v0.2 materials", `{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"materials":[{"uri":"http://x.example/a","digest":{"sha256":"` + sumB + `"}}]}}`,
			[]Download{{URL: "http://x.example/a", SHA256: sumB}}},
		{"a download without a sha256 is kept, for the pins to refuse", v1(`{"uri":"https://deb.example/x","digest":{"sha512":"ab"}}`),
			[]Download{{URL: "https://deb.example/x"}}},
	} {
		b, err := Read([]byte(c.doc))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(b.Downloads, c.want) {
			t.Errorf("%s: downloads %+v, want %+v", c.name, b.Downloads, c.want)
		}
	}
}

// TestImages: the images a build read (pkg:docker materials) are its
// bases, with their digests; they are not downloads.
func TestImages(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "buildkit-v1-min.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{{URI: "pkg:docker/127.0.0.1:42903/base/busybox?digest=sha256:2aca5e93712887ed69170aef8a2140b7f698f92c1ed41c95414d995e9d46b650&platform=linux%2Famd64", SHA256: "2aca5e93712887ed69170aef8a2140b7f698f92c1ed41c95414d995e9d46b650"}}
	if !reflect.DeepEqual(b.Images, want) || len(b.Downloads) != 0 {
		t.Errorf("images %+v, downloads %+v; want images %+v and no download", b.Images, b.Downloads, want)
	}
}

// TestLayerLocations: a mode=max statement says which Dockerfile line
// made each layer: a base's layers are its FROM's (of the stage that
// ships), a COPY's layer its line.
func TestLayerLocations(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "buildkit-v1-max.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Read(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Location{
		"sha256:d4bff08c788ac6cac243c87cd48cb72654b26555eb93d8d01355a284713b31bb": {File: "Dockerfile", Start: 5, End: 5},
		"sha256:81ee87083bacc7010e7f90639e2efd8522d285da8069708c5b11007d93e7cea5": {File: "Dockerfile", Start: 6, End: 6},
	}
	if !reflect.DeepEqual(b.LayerLocations, want) {
		t.Errorf("layer locations %v, want %v", b.LayerLocations, want)
	}
	if got := want["sha256:81ee87083bacc7010e7f90639e2efd8522d285da8069708c5b11007d93e7cea5"].String(); got != "Dockerfile:6" {
		t.Errorf("location shown as %q", got)
	}
}

// TestIncomplete: the requests BuildKit's proxy kept no digest of are read
// as it records them (v1 runDetails, v0.2 metadata), for a replay to know
// which of its 404s the release got too and whether the release made a
// request other than a GET.
func TestIncomplete(t *testing.T) {
	marks := `{"network":{"mode":"proxy","proxy":{"incomplete":[{"op":"sha256:aa","name":"RUN apt-get update","method":"GET","uri":"http://deb.example/InRelease","reason":"unsuccessful_response"},{"method":"POST","uri":"http://api.example/x","reason":"method_not_materializable"}]}}}`
	want := []Incomplete{{Method: "GET", URL: "http://deb.example/InRelease", Reason: "unsuccessful_response"}, {Method: "POST", URL: "http://api.example/x", Reason: "method_not_materializable"}}
	for _, c := range []struct {
		name, doc string
		want      []Incomplete
	}{
		{"v1", `{"predicateType":"https://slsa.dev/provenance/v1","predicate":{"runDetails":{"metadata":{"buildkit_metadata":` + marks + `}}}}`, want},
		{"v0.2", `{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"metadata":{"https://mobyproject.org/buildkit@v1#metadata":` + marks + `}}}`, want},
		{"none", `{"predicateType":"https://slsa.dev/provenance/v1","predicate":{}}`, nil},
	} {
		b, err := Read([]byte(c.doc))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(b.Incomplete, c.want) {
			t.Errorf("%s: incomplete %+v, want %+v", c.name, b.Incomplete, c.want)
		}
	}
}
