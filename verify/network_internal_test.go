package verify

import (
	"errors"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
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
