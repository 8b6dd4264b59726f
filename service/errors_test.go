package service

import (
	"strings"
	"testing"

	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/verify"
)

// TestSayFields: a library's message about a parameter reaches an API
// user naming the field the API takes (or the configuration key that sets
// it), never a CLI flag.
func TestSayFields(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"the source missing", param.Errorf("Source", "%w: the source: the published image's provenance and labels do not name it; give {Source}", verify.ErrMissingParameter),
			"a parameter of the rebuild is not known: the source: the published image's provenance and labels do not name it; give source"},
		{"a request refused", verify.Request{Image: "r.example/app:1", SourceDateEpoch: "yesterday", Lock: "x.json", Platforms: []string{"linux/x/y/z"}}.Check(),
			`platforms linux/x/y/z: platform "linux/x/y/z": "linux/x/y/z": cannot parse platform specifier: invalid argument` + "\n" +
				`sourceDateEpoch "yesterday": want auto or a number of seconds` + "\n" +
				"lock x.json: only with network proxy (a rebuild without network downloads nothing)"},
		{"build arguments", param.Errorf("BuildArgs", "%w: give each {BuildArgs} the release used", verify.ErrMissingParameter),
			"a parameter of the rebuild is not known: give each buildArgs the release used"},
		{"set by the configuration", param.Errorf("AllowSourceHosts", "cloned only with {AllowSourceHosts} %s", "10.0.0.5"),
			"cloned only with sources.allow 10.0.0.5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := sayFields(c.err)
			if got != c.want {
				t.Errorf("sayFields = %q\nwant %q", got, c.want)
			}
			if strings.Contains(got, "--") {
				t.Errorf("%q names a flag", got)
			}
		})
	}
}
