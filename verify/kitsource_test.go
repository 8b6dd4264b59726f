package verify_test

import (
	"bytes"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/verify"
)

// TestVerifyAirGapped: a release that ran apt-get through the proxy,
// whose provenance names its source (a local repository, as a CI checkout
// would be a URL) and commit, and its kit made with the source
// (oci-archive:). Then the source repository is deleted and the download
// server goes away. With no source given, the source the provenance names
// refused (not allowed by name) or gone, verify takes the commit's tree
// from the kit's git objects and its downloads from the kit: reproducible,
// the report says the source came from the kit, and the repository saw no
// request. {Source} kit asks for it outright. A kit whose source is
// another commit is an error naming both, never a PASS.
func TestVerifyAirGapped(t *testing.T) {
	w := newWorld(t)
	img, err := fixtures.DebianBase()
	if err != nil {
		t.Fatal(err)
	}
	base := w.reg.MustPush(t, "base/debian", "bookworm", img)
	_, repoDir := fixtures.AptRepoCopy(t)
	up := &upstream{files: http.FileServer(http.Dir(repoDir))}
	repo := fixtures.BridgeServer(t, up)
	host, _, _ := net.SplitHostPort(repo)
	dockerfile := "FROM " + base + "\nCOPY app.sh /usr/local/bin/app.sh\nRUN echo \"deb [trusted=yes] http://" + repo + "/ ./\" > /etc/apt/sources.list.d/local.list" +
		" && rm -f /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list" +
		" && apt-get update && apt-get install -y --no-install-recommends hello" +
		" && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache\n"
	parent := t.TempDir()
	src := filepath.Join(parent, "app")
	if err := os.Mkdir(src, 0o755); err != nil {
		t.Fatal(err)
	}
	commit, err := fixtures.MakeGitRepo(src, map[string]string{"Dockerfile": dockerfile, "app.sh": "#!/bin/sh\necho app\n"}, commitTime)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := w.publish(src, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{repo}, Provenance: true, ProvenanceMode: "max",
		VCS: map[string]string{"source": src, "revision": commit}})
	ref := w.push("release/airgapped", x)

	in, err := verify.ReadKitInputs(t.Context(), ref, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	makeKit := func(commit string) string {
		k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: in.Subject, Name: in.Repository, Pins: in.Pins, Params: in.Params,
			AllowHosts: []string{host}, SourceDir: src, Commit: commit})
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		file := filepath.Join(t.TempDir(), "kit.tar")
		if err := k.WriteTo(t.Context(), "oci-archive:"+file); err != nil {
			t.Fatal(err)
		}
		return "oci-archive:" + file
	}
	kitFile := makeKit(commit)
	// A later commit: a kit of it is not the release's source.
	later, err := fixtures.MakeGitRepo(src, map[string]string{"app.sh": "#!/bin/sh\necho other\n"}, commitTime.Add(3600e9))
	if err != nil {
		t.Fatal(err)
	}
	laterKit := makeKit(later)

	// The source and the download server are gone.
	if err := os.RemoveAll(src); err != nil {
		t.Fatal(err)
	}
	up.gone.Store(true)
	run := func(t *testing.T, req verify.Request) (*verify.Report, error) {
		t.Helper()
		req.Image, req.Network = ref, builder.NetworkProxy
		before := up.requests.Load()
		rep, err := verify.Run(t.Context(), req, w.bk, verify.Options{ProgressMode: "quiet", ReplayAddr: net.JoinHostPort(host, "0")})
		if n := up.requests.Load() - before; n != 0 {
			t.Errorf("the repository got %d request(s)", n)
		}
		return rep, err
	}
	for _, c := range []struct {
		name string
		req  verify.Request
		hint string
	}{
		{"the provenance's source refused", verify.Request{Kit: kitFile}, "could not be used"},
		{"the provenance's source gone", verify.Request{Kit: kitFile, AllowSourceHosts: []string{parent}}, "could not be used"},
		{"the source from the kit, asked for", verify.Request{Kit: kitFile, Source: verify.SourceKit}, "The commit's tree came from the kit"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := run(t, c.req)
			if err != nil || rep.Verdict != verify.Reproducible {
				t.Fatalf("verdict %s, error %v: want reproducible from the kit", rep.Verdict, err)
			}
			roundTrip(t, rep)
			if rep.Source == nil || !rep.Source.FromKit || rep.Source.Commit != commit {
				t.Errorf("source %+v: want commit %s from the kit", rep.Source, commit)
			}
			if k := rep.Build.Kit; k == nil || !k.Source || k.Served != len(in.Pins) {
				t.Errorf("build.kit %+v: want the source and all %d downloads served from it", k, len(in.Pins))
			}
			if !rep.InputsAsReleased() {
				t.Errorf("inputs %s: want every download as released", rep.Build.Inputs)
			}
			var hint bool
			for _, h := range rep.Hints {
				hint = hint || strings.Contains(h, c.hint) && strings.Contains(h, "they are commit "+commit)
				if strings.Contains(h, "The source given (kit)") {
					t.Errorf("hint %q", h)
				}
			}
			if !hint {
				t.Errorf("hints %q: want one saying %q and naming the commit", rep.Hints, c.hint)
			}
			var text bytes.Buffer
			if err := rep.WriteText(&text, compare.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"@ " + commit + " (from the kit's git objects)", "downloads, the source served from it"} {
				if !strings.Contains(text.String(), want) {
					t.Errorf("text does not say %q:\n%s", want, text.String())
				}
			}
		})
	}
	for _, c := range []struct {
		name string
		req  verify.Request
		say  []string
	}{
		{"a kit of a later commit", verify.Request{Kit: laterKit}, []string{"holds the source at commit " + later + ", and the release's is " + commit, "the kit cannot stand in for it"}},
		{"a kit of a later commit, asked for", verify.Request{Kit: laterKit, Source: verify.SourceKit}, []string{"holds the source at commit " + later + ", and the release's is " + commit}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := run(t, c.req)
			if !errors.Is(err, verify.ErrKit) || rep.Verdict != verify.Error {
				t.Fatalf("verdict %s, err %v: want an error of the kit", rep.Verdict, err)
			}
			for _, s := range c.say {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %v: want it to say %q", err, s)
				}
			}
		})
	}
}
