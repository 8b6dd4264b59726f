package param

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func flag(p string) string { return "--" + strings.ToLower(p) }

func TestSay(t *testing.T) {
	class := errors.New("a parameter is not known")
	cause := errors.New("no such file")
	lock := Errorf("Lock", "{Lock} %s: only with {Network} proxy", "locks/app.json")
	for _, c := range []struct {
		name       string
		err        error
		lib, edge  string
		is         error
		wantParams []string
	}{
		{name: "one parameter",
			err: Errorf("Source", "{Source}: required"),
			lib: "Source: required", edge: "--source: required", wantParams: []string{"Source"}},
		{name: "two parameters",
			err: lock,
			lib: "Lock locks/app.json: only with Network proxy", edge: "--lock locks/app.json: only with --network proxy", wantParams: []string{"Lock"}},
		{name: "a class wrapped",
			err: Errorf("Commit", "%w: the commit: give {Commit}", class),
			lib: "a parameter is not known: the commit: give Commit", edge: "a parameter is not known: the commit: give --commit", is: class, wantParams: []string{"Commit"}},
		{name: "wrapped by a plain error",
			err: fmt.Errorf("resolving: %w", Errorf("Context", "{Context} %s: %w", "app", cause)),
			lib: "resolving: Context app: no such file", edge: "resolving: --context app: no such file", is: cause, wantParams: []string{"Context"}},
		{name: "joined",
			err: errors.Join(Errorf("Source", "{Source}: required"), errors.New("other"), lock),
			lib: "Source: required\nother\nLock locks/app.json: only with Network proxy", edge: "--source: required\nother\n--lock locks/app.json: only with --network proxy", wantParams: []string{"Source", "Lock"}},
		{name: "one inside another",
			err: Errorf("Bake", "{Bake} %s: %w", "x.hcl", lock),
			lib: "Bake x.hcl: Lock locks/app.json: only with Network proxy", edge: "--bake x.hcl: --lock locks/app.json: only with --network proxy", wantParams: []string{"Bake"}},
		{name: "a value that looks like a placeholder is not replaced",
			err: Errorf("Source", "{Source} %s: not a directory", "{Lock}"),
			lib: "Source {Lock}: not a directory", edge: "--source {Lock}: not a directory", wantParams: []string{"Source"}},
		{name: "no parameter",
			err: errors.New("plain"), lib: "plain", edge: "plain"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.err.Error(); got != c.lib {
				t.Errorf("Error() = %q, want %q", got, c.lib)
			}
			if got := Say(c.err, nil); got != c.lib {
				t.Errorf("Say(nil) = %q, want %q", got, c.lib)
			}
			if got := Say(c.err, flag); got != c.edge {
				t.Errorf("Say = %q, want %q", got, c.edge)
			}
			if c.is != nil && !errors.Is(c.err, c.is) {
				t.Errorf("%v does not wrap %v", c.err, c.is)
			}
			var got []string
			for _, e := range outermost(c.err, nil, 0) {
				got = append(got, e.Param)
			}
			if fmt.Sprint(got) != fmt.Sprint(c.wantParams) {
				t.Errorf("parameters %v, want %v", got, c.wantParams)
			}
			var pe *Error
			if len(c.wantParams) > 0 && (!errors.As(c.err, &pe) || pe.Param != c.wantParams[0]) {
				t.Errorf("errors.As found %v, want Param %s", pe, c.wantParams[0])
			}
		})
	}
}

func TestSprintf(t *testing.T) {
	format := "%d platform image(s) were not verified ({Platforms}); a value {Lock} is %s"
	if got, want := Sprintf(nil, format, 2, "{Lock}"), "2 platform image(s) were not verified (Platforms); a value Lock is {Lock}"; got != want {
		t.Errorf("Sprintf(nil) = %q, want %q", got, want)
	}
	if got, want := Sprintf(flag, format, 2, "x"), "2 platform image(s) were not verified (--platforms); a value --lock is x"; got != want {
		t.Errorf("Sprintf = %q, want %q", got, want)
	}
}
