package main

import (
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reprover/reprover/fixtures"
)

// TestDiffRegistryCredentials: a registry that demands basic auth is read
// with the credentials of the Docker config ($DOCKER_CONFIG/config.json),
// and without them the error names the image. The auth check is a wrapper
// in front of the real registry: go-containerregistry's registry has none.
func TestDiffRegistryCredentials(t *testing.T) {
	var locked atomic.Bool
	var sawAuth atomic.Int64
	reg := fixtures.StartRegistry(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if locked.Load() {
				user, pass, ok := r.BasicAuth()
				if !ok || user != "auditor" || pass != "s3cret" {
					w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
				sawAuth.Add(1)
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Cleanup(reg.Close)
	c := fixtures.Cases()[0]
	a := reg.MustPush(t, "private/app", "a", c.A)
	b := reg.MustPush(t, "private/app", "b", c.B)
	locked.Store(true)

	empty := t.TempDir()
	t.Setenv("DOCKER_CONFIG", empty)
	stdout, stderr := tempFile(t), tempFile(t)
	if code := run(t.Context(), []string{"diff", a, b}, nil, stdout, stderr); code != exitError {
		t.Fatalf("without credentials: exit %d, want 2", code)
	}
	if msg := readBack(t, stderr); !strings.Contains(msg, "private/app") || !strings.Contains(strings.ToLower(msg), "unauthorized") {
		t.Errorf("without credentials, stderr does not name the image and the refusal: %s", msg)
	}

	withCreds := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte("auditor:s3cret"))
	cfg := `{"auths": {"` + reg.Host + `": {"auth": "` + auth + `"}}}`
	if err := os.WriteFile(filepath.Join(withCreds, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", withCreds)
	stdout, stderr = tempFile(t), tempFile(t)
	if code := run(t.Context(), []string{"diff", a, b}, nil, stdout, stderr); code != exitOK {
		t.Fatalf("with credentials: exit %d, want 0; stderr: %s", code, readBack(t, stderr))
	}
	if sawAuth.Load() == 0 {
		t.Error("the registry saw no authenticated request")
	}
}
