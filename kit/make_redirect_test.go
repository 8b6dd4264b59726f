package kit_test

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
)

// TestMakeRedirect: BuildKit's proxy pins a redirect's source URL with
// the digest of where it led (v0.34.2 util/network/proxy.go,
// ProxyCapture.Materials), beside the target's own pin: GitHub release
// assets, PyPI files, mirrors. kit.Make follows the redirect, checks the
// bytes it led to against the source's pin and the target's against its
// own, and records the first hop (Redirect) for the replay. The config
// still matches docs/kit.schema.json, and the kit opens again with it.
// (A red-team found no kit could be made for such a release: Make
// followed no redirect.)
func TestMakeRedirect(t *testing.T) {
	const jq = "jq 1.6 bytes"
	for _, tc := range []struct {
		name string
		pins []string          // paths pinned, each to jq's bytes
		want map[string]string // path → the Redirect recorded ("" none)
	}{
		{"a redirect and its target", []string{"/moved", "/pool/jq.deb"},
			map[string]string{"/moved": "/pool/jq.deb", "/pool/jq.deb": ""}},
		{"a redirect whose target is not pinned", []string{"/moved"},
			map[string]string{"/moved": "/pool/jq.deb"}},
		{"two redirects: the first hop recorded", []string{"/moved-twice", "/moved", "/pool/jq.deb"},
			map[string]string{"/moved-twice": "/moved", "/moved": "/pool/jq.deb", "/pool/jq.deb": ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := fixtures.NewRegistry(t)
			rel := newRelease(t, reg, "redirect")
			rel.pins = nil
			for _, p := range tc.pins {
				rel.pins = append(rel.pins, pins.Pin{URL: rel.dl.URL + p, SHA256: sum(jq)})
			}
			k, err := rel.make(t, nil)
			if err != nil {
				t.Fatalf("a release whose download redirected: %v", err)
			}
			defer k.Close()
			var want []pins.Pin
			for p, to := range tc.want {
				w := pins.Pin{URL: rel.dl.URL + p, SHA256: sum(jq), Size: int64(len(jq))}
				if to != "" {
					w.Redirect = rel.dl.URL + to
				}
				want = append(want, w)
			}
			slices.SortFunc(want, func(a, b pins.Pin) int { return strings.Compare(a.URL, b.URL) })
			if !slices.Equal(k.Config.Downloads, want) {
				t.Errorf("downloads %+v, want %+v", k.Config.Downloads, want)
			}
			for _, p := range want {
				if got, err := readAll(k, p.URL); err != nil || got != jq {
					t.Errorf("%s: %q, %v", p.URL, got, err)
				}
			}
			sch, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "docs", "kit.schema.json"))
			if err != nil {
				t.Fatal(err)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(k.RawConfig()))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(doc); err != nil {
				t.Errorf("the config does not match docs/kit.schema.json: %v\n%s", err, k.RawConfig())
			}
			cfg, err := kit.ParseConfig(k.RawConfig(), "the made kit's config", kit.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(cfg.Downloads, want) {
				t.Errorf("parsed again: %+v", cfg.Downloads)
			}
		})
	}
}
