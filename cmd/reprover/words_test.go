package main

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"a request refused", verify.Request{Image: "r.example/app:1", Lock: "x.json"}.Check(),
			"--lock x.json: only with --network proxy (a rebuild without network downloads nothing)"},
		{"the source missing", param.Errorf("Source", "%w: the source: the published image's provenance and labels do not name it; give {Source}", verify.ErrMissingParameter),
			"a parameter of the rebuild is not known: the source: the published image's provenance and labels do not name it; give --source"},
		{"two at once", verify.Request{Image: "r.example/app:1", SourceDateEpoch: "yesterday", Network: "host"}.Check(),
			"--source-date-epoch \"yesterday\": want auto or a number of seconds\n--network \"host\": want none or proxy"},
	} {
		t.Run(c.name, func(t *testing.T) {
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
