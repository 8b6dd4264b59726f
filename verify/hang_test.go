package verify_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// TestVerifyProxyDownloadHangs: a release whose RUN downloads, through the
// capturing proxy, from a server that accepts and never answers. The
// verification's deadline (the service's job deadline) ends it promptly,
// and the error names the step still running and its Dockerfile line, not
// a bare "context deadline exceeded".
func TestVerifyProxyDownloadHangs(t *testing.T) {
	w := newWorld(t)
	stop := make(chan struct{})
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select { // accepted, never answered
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(func() { close(stop) })
	host, _, _ := strings.Cut(srv, ":")
	url := "http://" + srv + "/input.txt"
	lock := fmt.Sprintf(`{"lockVersion":1,"downloads":[{"url":%q,"sha256":%q}]}`, url, sha("anything\n"))
	dir, commit := fixtures.GitRepo(t, w.files("FROM BASE\nCOPY app/ /app/\nRUN wget -q -O /input.txt "+url+"\n", map[string]string{"reprover.lock.json": lock}), commitTime)
	const deadline = 40 * time.Second
	ctx, cancel := context.WithTimeout(t.Context(), deadline)
	defer cancel()
	started := time.Now()
	// The published image does not matter: the rebuild never ends.
	rep, err := verify.Run(ctx, verify.Request{Source: dir, Commit: commit, Image: w.base, Network: builder.NetworkProxy, AllowDownloadHosts: []string{host}},
		w.bk, verify.Options{ProgressMode: "quiet"})
	if took := time.Since(started); took > deadline+30*time.Second {
		t.Errorf("verify returned %v after it started, %v past its deadline", took, took-deadline)
	}
	if rep.Verdict != verify.Error || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("verdict %s, error %v: want an error for the deadline", rep.Verdict, err)
	}
	var be *builder.BuildError
	if !errors.As(err, &be) || be.File != "Dockerfile" || be.Line != 3 || !strings.Contains(err.Error(), "still running: ") || !strings.Contains(err.Error(), "RUN wget -q -O /input.txt "+url) {
		t.Errorf("error %q does not name the step that hung (Dockerfile:3)", err)
	}
}
