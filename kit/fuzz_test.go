package kit_test

import (
	"strings"
	"testing"

	"github.com/reprover/reprover/kit"
)

// FuzzParseConfig: whatever a kit's config holds, ParseConfig returns an
// error or a config within its limits, every URL listed once.
func FuzzParseConfig(f *testing.F) {
	subject := `"subject":{"digest":"sha256:` + strings.Repeat("5", 64) + `"}`
	dl := func(u string) string {
		return `{"url":"` + u + `","sha256":"` + strings.Repeat("a", 64) + `","size":3}`
	}
	for _, s := range []string{
		`{"schemaVersion":1,` + subject + `,"downloads":[` + dl("https://a.example/x") + `],"source":null,"params":{}}`,
		`{"schemaVersion":1,` + subject + `,"downloads":[` + dl("https://a.example/x") + `,` + dl("https://a.example/x") + `]}`,
		`{"schemaVersion":1,` + subject + `,"downloads":[` + dl("file:///etc/passwd") + `]}`,
		`{"schemaVersion":1,` + subject + `,"Downloads":[]}`,
		`{"schemaVersion":1,` + subject + `,"downloads":[],"source":{"commit":"` + strings.Repeat("c", 40) + `","tree":"sha256:../../x","size":-1}}`,
		`{"schemaVersion":1,` + subject + `,"downloads":[],"params":{"buildArgs":{"A":"1"},"platforms":["linux/amd64"]}}`,
		`{"schemaVersion":1e999}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		"\xff\xfe",
	} {
		f.Add([]byte(s))
	}
	lim := kit.Limits{MaxDownloads: 4, MaxConfigBytes: 1 << 16}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := kit.ParseConfig(b, "config", lim)
		if err != nil {
			return
		}
		if len(c.Downloads) > 4 {
			t.Fatalf("%d downloads past MaxDownloads=4", len(c.Downloads))
		}
		seen := map[string]bool{}
		for _, d := range c.Downloads {
			if seen[d.URL] || d.Size < 0 || len(d.SHA256) != 64 {
				t.Fatalf("accepted download %+v", d)
			}
			seen[d.URL] = true
		}
	})
}
