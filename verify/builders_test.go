package verify_test

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// TestBuildersPool: a pool member that does not answer is passed over for
// a while and its turns go to the others; with every member down, the
// error names each.
func TestBuildersPool(t *testing.T) {
	good := fixtures.Buildkit(t, fixtures.StartDaemon)
	dead := "unix://" + filepath.Join(t.TempDir(), "nobody.sock")
	var mu sync.Mutex
	failures := map[string]int{}
	answers := map[string]int{}
	bs := verify.NewBuilders([]string{dead, good}, nil)
	bs.Observe = func(addr string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failures[addr]++
		} else {
			answers[addr]++
		}
	}
	for i := range 4 {
		_, release, err := bs.Get(t.Context())
		if err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		release()
	}
	if failures[dead] != 1 || answers[good] != 4 {
		t.Errorf("failures %v answers %v: want the dead member tried once, then passed over, every job on the good one", failures, answers)
	}

	down := verify.NewBuilders([]string{dead, "unix://" + filepath.Join(t.TempDir(), "other.sock")}, nil)
	_, _, err := down.Get(t.Context())
	if err == nil || !strings.Contains(err.Error(), "nobody.sock") || !strings.Contains(err.Error(), "other.sock") {
		t.Errorf("err %v, want one naming both members", err)
	}
}
