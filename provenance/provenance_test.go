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
