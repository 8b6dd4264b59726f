package verify_test

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/reprover/reprover/builder"
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

// TestVerifyOverTLSPool: a verification through a pool whose members are
// reached over mutual TLS, one of them stopped mid-run: the jobs after it
// go to the other member, and the release still verifies.
func TestVerifyOverTLSPool(t *testing.T) {
	w := newWorld(t)
	pki := fixtures.NewPKI(t, "buildkitd.test")
	tlsAddr := fixtures.BuildkitTLS(t, pki)
	second, err := builder.StartDaemon(t.Context(), builder.DaemonOptions{Binary: fixtures.BuildkitdBinary(), HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	tlsOpts := verify.TLS{CACert: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey, ServerName: pki.Name}
	var mu sync.Mutex
	outcomes := map[string][]bool{}
	pool := verify.NewDaemonBuilders([]verify.Daemon{{Addr: second.Addr}, {Addr: tlsAddr, TLS: tlsOpts}}, nil)
	pool.Observe = func(addr string, err error) {
		mu.Lock()
		defer mu.Unlock()
		outcomes[addr] = append(outcomes[addr], err == nil)
	}
	dir, commit := fixtures.GitRepo(t, w.files(sample, nil), commitTime)
	x, _ := w.publish(dir, "", builder.Spec{})
	ref := w.push("release/pool", x)
	run := func(i int) {
		b, release, err := pool.Get(t.Context())
		if err != nil {
			t.Fatalf("job %d: %v", i, err)
		}
		defer release()
		rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref}, b, verify.Options{ProgressMode: "quiet"})
		if err != nil || rep.Verdict != verify.Reproducible {
			t.Errorf("job %d: %s %v", i, rep.Verdict, err)
		}
	}
	run(0) // the unix member
	run(1) // the TLS member
	second.Stop()
	run(2) // the unix member is gone: passed to the TLS member
	run(3)
	mu.Lock()
	defer mu.Unlock()
	if got := outcomes[second.Addr]; len(got) != 2 || !got[0] || got[1] {
		t.Errorf("the stopped member's outcomes %v, want one answer then one failure (then passed over)", got)
	}
	if got := outcomes[tlsAddr]; len(got) != 3 {
		t.Errorf("the TLS member's outcomes %v, want three jobs", got)
	}
}
