package service_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// TestReverify: a round of reverify (reverify.every's job) submits every
// known release again, once each, as new verifications beside the old;
// when the release's upstream has moved and the new verification fails,
// the image's page and API say it stopped verifying, when, and why. The
// runner is a fake (funcRunner): what is tested is the round and what the
// pages make of it, not a rebuild (TestVerifyKitReplay and
// TestVerifyAptIndexMoved rebuild).
func TestReverify(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	ref := reg.MustPush(t, "svc/rev", "v1", fixtures.Image(fixtures.Spec{
		Steps: []fixtures.Step{{Instruction: "COPY . /app", Entries: []fixtures.Entry{fixtures.Dir("app"), fixtures.File("app/hello", "hi\n")}}}}))
	_, digest, _ := strings.Cut(ref, "@")
	var moved atomic.Bool
	var runs atomic.Int64
	var clock atomic.Int64 // the service's clock: real time plus an offset a round moves on
	now := func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
	s := newServerClock(t, funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		runs.Add(1)
		rep := &verify.Report{SchemaVersion: 1, Verdict: verify.Reproducible, Published: &compare.ImageRef{Ref: r.Image, Digest: digest}, Hints: []string{}}
		if moved.Load() {
			rep.Verdict = verify.Mismatch
			rep.Hints = []string{"1 package changed (rebuilt → published): jq 1.6-2.1+deb12u3 → 1.6-2.1+deb12u2"}
		}
		return rep, nil, nil
	}), nil, now)
	req := validRequest()
	req["image"] = ref
	_, m, _ := s.do(t, "POST", "/api/v1/verifications", token, req)
	first := m["id"].(string)
	if got := s.wait(t, first, 20*time.Second); got["verdict"] != string(verify.Reproducible) {
		t.Fatalf("first verification %v", got)
	}
	if _, m, raw := s.do(t, "GET", "/api/v1/images/"+digest, "", nil); m["stoppedVerifying"] != nil {
		t.Errorf("a release that verifies is said to have stopped: %s", raw)
	}

	moved.Store(true)
	n, err := s.svc.Reverify(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("reverify: %d submitted, %v; want the one release", n, err)
	}
	_, m, _ = s.do(t, "GET", "/api/v1/verifications?image="+ref, "", nil)
	items, _ := m["items"].([]any)
	var again string
	for _, it := range items {
		v := it.(map[string]any)
		if rq := v["request"].(map[string]any); rq["reverify"] != nil && rq["reverify"] != "" {
			again = v["id"].(string)
		}
	}
	if len(items) != 2 || again == "" || again == first {
		t.Fatalf("after a round: %v; want the first verification and a new one with its round", items)
	}
	if got := s.wait(t, again, 20*time.Second); got["verdict"] != string(verify.Mismatch) {
		t.Fatalf("re-verification %v", got)
	}
	_, m, raw := s.do(t, "GET", "/api/v1/images/"+digest, "", nil)
	st, _ := m["stoppedVerifying"].(map[string]any)
	if st == nil || st["id"] != again || st["verdict"] != string(verify.Mismatch) || !strings.Contains(st["why"].(string), "jq 1.6-2.1+deb12u3") {
		t.Errorf("stoppedVerifying %v: want the re-verification, its verdict and its first hint\n%s", st, raw)
	}
	if _, _, page := s.do(t, "GET", "/images/"+digest, "", nil); !strings.Contains(string(page), `<p id="stopped"><strong>Stopped verifying</strong>`) || !strings.Contains(string(page), `href="/verifications/`+again+`"`) {
		t.Errorf("the image page does not say the release stopped verifying:\n%s", page)
	}

	// The next round: the release once more (the rounds' requests are one
	// release), not each earlier round's too.
	clock.Add(int64(time.Hour))
	if n, err := s.svc.Reverify(t.Context()); err != nil || n != 1 {
		t.Fatalf("the next round: %d submitted, %v; want 1", n, err)
	}
	_ = runs.Load()
}
