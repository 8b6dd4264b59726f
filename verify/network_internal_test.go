package verify

import (
	"errors"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/provenance"
)

// TestOfflineHint: a step of a rebuild without network that failed trying
// the network says what would let it; other failures are left as they are.
func TestOfflineHint(t *testing.T) {
	failed := func(tail ...string) error {
		return &builder.BuildError{File: "Dockerfile", Line: 3, Err: errors.New("exit code: 1"), ExitCode: 1, LogTail: tail}
	}
	for _, c := range []struct {
		name    string
		err     error
		network string
		hint    bool
	}{
		{"wget offline", failed("wget: can't connect to remote host (1.2.3.4): Network is unreachable"), "none", true},
		{"apt offline", failed("W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving 'deb.debian.org'"), "none", true},
		{"a test that failed", failed("FAIL: 2 tests"), "none", false},
		{"already proxied", failed("Could not resolve host: x"), "proxy", false},
		{"not a build step", errors.New("Network is unreachable"), "none", false},
	} {
		err := offlineHint(c.err, c.network)
		if got := strings.Contains(err.Error(), "Network proxy"); got != c.hint {
			t.Errorf("%s: %q, hint %v, want %v", c.name, err, got, c.hint)
		}
		var be *builder.BuildError
		if errors.As(c.err, &be) && !errors.As(err, &be) {
			t.Errorf("%s: the build error is lost", c.name)
		}
	}
}

// TestADDSpelledOtherwise: BuildKit records an ADD's URL in the provenance
// as the Dockerfile spells it (https://h:443/x); it becomes a pin spelled
// as the proxy records downloads, and the rebuild's ADD of it is not a pin
// missing. (BuildKit checks an ADD against its --checksum itself.)
func TestADDSpelledOtherwise(t *testing.T) {
	sum := strings.Repeat("a", 64)
	ps, err := provenancePins([]*provenance.Build{{Downloads: []provenance.Download{{URL: "https://h.example:443/x", SHA256: sum}}}}, "app")
	if err != nil || len(ps) != 1 || ps[0].URL != "https://h.example/x" {
		t.Fatalf("pins %+v, %v: want https://h.example/x", ps, err)
	}
	set, err := pins.NewSet(pins.FromProvenance, "provenance", ps)
	if err != nil {
		t.Fatal(err)
	}
	adds := []builder.Download{{URL: "https://h.example:443/x", Checksum: "sha256:" + sum}}
	_, sumry, err := compareDownloads(nil, set, adds)
	if err != nil || len(sumry.Missing) != 0 {
		t.Errorf("summary %+v, %v: the ADD's pin is not missing", sumry, err)
	}
}
