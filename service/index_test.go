package service_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// TestIndexCommitNotice: the list page warns about a commit filter that
// cannot match (a short id), not about a full SHA-1 or SHA-256 id, which
// the API accepts. No verification runs: the page needs only the store.
func TestIndexCommitNotice(t *testing.T) {
	s := newServer(t, funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		return nil, nil, errors.New("not run")
	}), nil)
	for _, c := range []struct {
		commit string
		notice bool
	}{
		{strings.Repeat("a", 40), false},
		{strings.Repeat("b", 64), false},
		{"", false},
		{"abc1234", true},
		{strings.Repeat("c", 41), true},
		{strings.Repeat("A", 40), true},
	} {
		code, _, body := s.do(t, "GET", "/?commit="+url.QueryEscape(c.commit), "", nil)
		if code != 200 {
			t.Fatalf("GET /?commit=%s: %d %s", c.commit, code, body)
		}
		got := strings.Contains(string(body), `id="notice"`)
		if got != c.notice {
			t.Errorf("commit %q: notice shown %v, want %v", c.commit, got, c.notice)
		}
		if c.notice && !strings.Contains(string(body), "not a full commit id (40 or 64 hex characters)") {
			t.Errorf("commit %q: the notice does not say what a full id is", c.commit)
		}
	}
}
