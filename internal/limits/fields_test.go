package limits

import (
	"strings"
	"testing"
	"time"
)

type testLimits struct {
	MaxBytes  int64         `limit:"largest thing, in bytes"`
	MaxCount  int           `limit:"most things"`
	MaxItems  int           `limit:"most items"`
	MaxWindow uint64        `limit:"largest window"`
	Deadline  time.Duration `limit:"longest wait"`
	Nested    struct{ X int }
}

var testDefaults = testLimits{MaxBytes: 64 << 20, MaxCount: 1000, MaxItems: 4096, MaxWindow: 3 << 10, Deadline: 10 * time.Second}

// TestFields: each tagged field is named, documented and given its
// default as people write it; Set parses what the CLI's --limit takes and
// refuses zero, negatives, overflow and junk, naming the limit.
func TestFields(t *testing.T) {
	var l testLimits
	fs, err := Fields("pkg", &l, testDefaults)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Name+"="+f.Default+" ("+f.Doc+")")
	}
	want := "pkg.MaxBytes=64MiB (largest thing, in bytes); pkg.MaxCount=1000 (most things); pkg.MaxItems=4096 (most items); pkg.MaxWindow=3KiB (largest window); pkg.Deadline=10s (longest wait)"
	if g := strings.Join(got, "; "); g != want {
		t.Fatalf("fields:\n got %s\nwant %s", g, want)
	}
	for _, c := range []struct {
		field int
		in    string
		err   string
	}{
		{0, "2GiB", ""},
		{1, "7", ""},
		{3, "5KiB", ""},
		{4, "1m30s", ""},
		{0, "0", "pkg.MaxBytes: \"0\" is not a positive whole number"},
		{1, "-3", "pkg.MaxCount: \"-3\" is not a positive whole number"},
		{1, "12x", "pkg.MaxCount: \"12x\""},
		{0, "99999999999GiB", "pkg.MaxBytes"},
		{4, "10", "pkg.Deadline: \"10\" is not a positive duration"},
		{4, "-1s", "pkg.Deadline"},
	} {
		err := fs[c.field].Set(c.in)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("Set(%s, %q): %v", fs[c.field].Name, c.in, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("Set(%s, %q) = %v, want an error containing %q", fs[c.field].Name, c.in, err, c.err)
		}
	}
	if want := (testLimits{MaxBytes: 2 << 30, MaxCount: 7, MaxWindow: 5 << 10, Deadline: 90 * time.Second}); l != want {
		t.Errorf("limits set to %+v, want %+v", l, want)
	}
}

// TestFieldsNeedTags: a limit nobody documented is refused, so docs/cli.md
// cannot miss one.
func TestFieldsNeedTags(t *testing.T) {
	type bare struct{ MaxThings int }
	var l bare
	if _, err := Fields("pkg", &l, bare{}); err == nil || !strings.Contains(err.Error(), "pkg.MaxThings has no `limit` tag") {
		t.Fatalf("err = %v", err)
	}
}
