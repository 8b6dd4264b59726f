package pins

import (
	"strings"
	"testing"
)

func TestFromStatement(t *testing.T) {
	v1 := func(deps string) string {
		return `{"_type":"https://in-toto.io/Statement/v1","predicateType":"https://slsa.dev/provenance/v1","subject":[],"predicate":{"buildDefinition":{"resolvedDependencies":[` + deps + `]}}}`
	}
	for _, c := range []struct {
		name, doc string
		want      []string // URL sha256 of each pin
		err       string
	}{
		{"v1: downloads, not images", v1(`{"uri":"pkg:docker/busybox@1?platform=linux%2Famd64","digest":{"sha256":"` + sumB + `"}},{"uri":"https://deb.example/InRelease","digest":{"sha256":"` + sumA + `"}}`),
			[]string{"https://deb.example/InRelease " + sumA}, ""},
		{"v0.2 materials", `{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"materials":[{"uri":"http://x.example/a","digest":{"sha256":"` + sumB + `"}}]}}`,
			[]string{"http://x.example/a " + sumB}, ""},
		{"a download without a sha256", v1(`{"uri":"https://deb.example/x","digest":{"sha512":"ab"}}`), nil, "64 lower-case hex"},
		{"not provenance", `{"predicateType":"https://spdx.dev/Document","predicate":{}}`, nil, "not SLSA provenance"},
		{"duplicate keys", `{"predicateType":"https://slsa.dev/provenance/v1","predicateType":"x"}`, nil, "duplicate key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ps, err := FromStatement([]byte(c.doc))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("err %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range ps {
				got = append(got, p.URL+" "+p.SHA256)
			}
			if strings.Join(got, "|") != strings.Join(c.want, "|") {
				t.Errorf("pins %q, want %q", got, c.want)
			}
		})
	}
}
