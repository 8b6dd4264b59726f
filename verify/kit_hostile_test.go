package verify_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/pins"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/verify"
)

// TestVerifyKitUnused: on a daemon reprover did not start and with no
// ReplayAddr, a kit found by auto does not serve the downloads (a hint
// says so): they come from the upstream. Whatever kits are attached to
// the image then change nothing: a second kit pushed by anyone (auto
// cannot choose) is no kit, and a hint says why. (Red-team, session 6.)
func TestVerifyKitUnused(t *testing.T) {
	w := newWorld(t)
	up := &upstream{files: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a.txt" {
			rw.Write([]byte("the release's input\n"))
			return
		}
		http.NotFound(rw, r)
	})}
	repo := fixtures.BridgeServer(t, up)
	host, _, _ := net.SplitHostPort(repo)
	dir, commit := fixtures.GitRepo(t, map[string]string{"Dockerfile": "FROM " + w.base + "\nRUN wget -q -O /a http://" + repo + "/a.txt\n"}, commitTime)
	x, _ := w.publish(dir, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{repo}, Provenance: true})
	ref := w.push("release/unused", x)
	in, err := verify.ReadKitInputs(t.Context(), ref, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T) (*verify.Report, error) {
		t.Helper()
		return verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: builder.NetworkProxy, AllowDownloadHosts: []string{host}},
			w.bk, verify.Options{ProgressMode: "quiet"})
	}
	push := func(t *testing.T, target string) {
		t.Helper()
		k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: in.Subject, Name: in.Repository, Pins: in.Pins,
			Params: kit.Params{Target: target}, AllowHosts: []string{host}})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if _, err := k.Push(t.Context(), in.Repository, kit.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	push(t, "")
	t.Run("one kit, unused", func(t *testing.T) {
		rep, err := run(t)
		if err != nil || rep.Verdict != verify.Reproducible || rep.Build.Kit != nil {
			t.Fatalf("verdict %s, err %v: want reproducible from the upstream, the kit unused", rep.Verdict, err)
		}
	})
	push(t, "someone-elses")
	t.Run("a second kit pushed by anyone, unused either way", func(t *testing.T) {
		rep, err := run(t)
		if err != nil || rep.Verdict != verify.Reproducible {
			t.Errorf("verdict %s, err %v: a kit that would not be used made the verification fail", rep.Verdict, err)
		}
		if err != nil && !strings.Contains(err.Error(), "name the one to use") {
			t.Errorf("err %v", err)
		}
	})
}

// TestVerifyNamedKitNoPins: an auditor names a kit (--kit oci:DIR) to
// rebuild with no request reaching any upstream. For a release whose
// provenance pins nothing (AllowUnpinnedDownloads) the kit has nothing to
// serve: an error (ErrKit), never a rebuild from the upstreams; a named
// kit that does not exist is an error too. (Red-team, session 6.)
func TestVerifyNamedKitNoPins(t *testing.T) {
	w := newWorld(t)
	body := "the release's input\n"
	up := &upstream{files: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/a.txt" {
			rw.Write([]byte(body))
			return
		}
		http.NotFound(rw, r)
	})}
	repo := fixtures.BridgeServer(t, up)
	host, _, _ := net.SplitHostPort(repo)
	dir, commit := fixtures.GitRepo(t, map[string]string{"Dockerfile": "FROM " + w.base + "\nRUN wget -q -O /a http://" + repo + "/a.txt\n"}, commitTime)
	x, _ := w.publish(dir, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{repo}}) // no provenance: no pins
	ref := w.push("release/nopins", x)
	in, err := verify.ReadKitInputs(t.Context(), ref, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: in.Subject, Name: in.Repository, AllowHosts: []string{host},
		Pins: []pins.Pin{{URL: "http://" + repo + "/a.txt", SHA256: sha256hex(body)}}})
	if err != nil {
		t.Fatal(err)
	}
	kitDir := filepath.Join(t.TempDir(), "kit")
	if err := k.WriteTo(t.Context(), "oci:"+kitDir); err != nil {
		t.Fatal(err)
	}
	k.Close()
	for _, where := range []string{"oci:" + kitDir, "oci:" + filepath.Join(t.TempDir(), "no-such-kit")} {
		t.Run(where, func(t *testing.T) {
			before := up.requests.Load()
			rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: builder.NetworkProxy, Kit: where,
				AllowUnpinnedDownloads: true, AllowDownloadHosts: []string{host}},
				w.bk, verify.Options{ProgressMode: "quiet", ReplayAddr: net.JoinHostPort(host, "0")})
			if n := up.requests.Load() - before; n != 0 || err == nil || rep.Verdict != verify.Error {
				t.Errorf("--kit %s: verdict %s, error %v, the upstream got %d request(s): want an error and no request", where, rep.Verdict, err, n)
			}
		})
	}
}

func sha256hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestKeepKitTagMoved: verify --kit-out/--push-kit of an image named by
// a tag keeps the kit of the image verified (its digest), even when the
// tag moved in between (by the publisher, or anyone who can push): never
// a kit holding the verified release's downloads with another image as
// its subject. (Red-team, session 6.)
func TestKeepKitTagMoved(t *testing.T) {
	w := newWorld(t)
	up := &upstream{files: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Write([]byte("input " + r.URL.Path + "\n"))
	})}
	repo := fixtures.BridgeServer(t, up)
	host, _, _ := net.SplitHostPort(repo)
	release := func(path string) (string, string, any) {
		dir, commit := fixtures.GitRepo(t, map[string]string{"Dockerfile": "FROM " + w.base + "\nRUN wget -q -O /a http://" + repo + path + "\n"}, commitTime)
		x, _ := w.publish(dir, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{repo}, Provenance: true})
		return dir, commit, x
	}
	dir, commit, first := release("/one.txt")
	_, _, second := release("/two.txt")
	w.push("release/moving", first)
	tag := w.reg.Host + "/release/moving:release"
	req := verify.Request{Source: dir, Commit: commit, Image: tag, Network: builder.NetworkProxy, Kit: kit.None, AllowDownloadHosts: []string{host}}
	rep, err := verify.Run(t.Context(), req, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil || rep.Verdict != verify.Reproducible || !rep.InputsAsReleased() {
		t.Fatalf("verdict %s, err %v", rep.Verdict, err)
	}
	w.push("release/moving", second) // the tag moves
	kept, _, err := verify.KeepKit(t.Context(), rep, req, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	if got := kept.Config.Subject.Digest; got != rep.Published.Digest {
		t.Errorf("kept a kit for %s (where the tag is now), holding %v; the image verified is %s", got, kept.URLs(), rep.Published.Digest)
	}
}
