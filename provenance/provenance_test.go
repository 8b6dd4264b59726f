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

func FuzzRead(f *testing.F) {
	for _, n := range []string{"buildkit-v1-min.json", "buildkit-v02-git.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := Read(raw)
		if err == nil && !strings.HasPrefix(b.PredicateType, "https://slsa.dev/provenance/") {
			t.Fatalf("accepted predicate type %q", b.PredicateType)
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
