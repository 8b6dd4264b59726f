package main

import (
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/verify"
)

// TestFlagOf: every parameter of the requests the commands fill has a
// flag in flagOf, and every flag flagOf names is one a command defines.
func TestFlagOf(t *testing.T) {
	for _, req := range []any{verify.Request{}, verify.LockRequest{}, verify.CheckRequest{}} {
		rt := reflect.TypeOf(req)
		for i := range rt.NumField() {
			if _, ok := flagOf[rt.Field(i).Name]; !ok {
				t.Errorf("%s.%s has no flag in flagOf", rt, rt.Field(i).Name)
			}
		}
	}
	defined := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { defined["--"+f.Name] = true })
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRoot(io.Discard, io.Discard))
	for p, f := range flagOf {
		if !defined[f] {
			t.Errorf("flagOf[%s] = %s, a flag no command defines", p, f)
		}
	}
}

// TestSayFlags: a library's message names the parameter; the CLI says
// the flag, wherever the parameter error sits in the message.
func TestSayFlags(t *testing.T) {
	_, typeErr := attest.GenerateKey(filepath.Join(t.TempDir(), "k"), "rsa")
	key, err := attest.GenerateKey(filepath.Join(t.TempDir(), "k"), attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	_, thresholdErr := attest.Check(t.Context(), nil, "sha256:"+strings.Repeat("a", 64), []*attest.PublicKey{key.Public()}, 2, attest.Limits{})
	req, err := http.NewRequestWithContext(t.Context(), "GET", "http://r.example/v2/", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, httpErr := image.GuardedTransport(nil, nil).RoundTrip(req)
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"attest's threshold", thresholdErr, "--threshold 2 exceeds the 1 distinct key(s) given"},
		{"attest's key type", typeErr, `--type "rsa": want ed25519 or ecdsa-p256`},
		{"image's plain HTTP", httpErr, "refusing plain HTTP to r.example (HTTPS is required unless the host is loopback or named by --insecure-registry)"},
		{"a request refused", verify.Request{Image: "r.example/app:1", Lock: "x.json"}.Check(),
			"--lock x.json: only with --network proxy (a rebuild without network downloads nothing)"},
		{"the source missing", param.Errorf("Source", "%w: the source: the published image's provenance and labels do not name it; give {Source}", verify.ErrMissingParameter),
			"a parameter of the rebuild is not known: the source: the published image's provenance and labels do not name it; give --source"},
		{"two at once", verify.Request{Image: "r.example/app:1", SourceDateEpoch: "yesterday", Network: "host"}.Check(),
			"--source-date-epoch \"yesterday\": want auto or a number of seconds\n--network \"host\": want none or proxy"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.err == nil {
				t.Fatal("no error")
			}
			got := say(c.err)
			if got != c.want {
				t.Errorf("say = %q, want %q", got, c.want)
			}
			if lib := c.err.Error(); strings.Contains(lib, "--") {
				t.Errorf("the library's message names a flag: %q", lib)
			}
		})
	}
}
