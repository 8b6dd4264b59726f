package verify_test

import (
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

// TestVerifyAptIndexMoved: a release that ran apt-get update and apt-get
// install through the proxy, pinned by its provenance; then the
// repository's index gains an unrelated package (as Debian republishes its
// indexes every few days) while the .deb stays the same bytes. The
// verification once stopped there for ever ("do not match the pins"); now
// the rebuild is compared: reproducible, the changed index named with both
// digests, and not verified under strict.
func TestVerifyAptIndexMoved(t *testing.T) {
	w := newWorld(t)
	rel := publishApt(t, w, "hello", "release/apt-moved", nil)
	dir, commit, repo, repoDir, host, ref := rel.dir, rel.commit, rel.repo, rel.repoDir, rel.host, rel.ref
	built := time.Now().Unix() // apt writes times to the second
	fixtures.WaitFor(t, 5*time.Second, "the next second on the clock", func() (bool, string, error) {
		return time.Now().Unix() > built, "", nil
	})
	index := filepath.Join(repoDir, "Packages")
	old := fileSHA256(t, index)
	f, err := os.OpenFile(index, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nPackage: unrelated\nVersion: 1.0\nArchitecture: all\nMaintainer: nobody <nobody@example.org>\nFilename: ./unrelated_1.0_all.deb\nSize: 1\nSHA256: " + strings.Repeat("0", 64) + "\nDescription: a package published after the release\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: builder.NetworkProxy, AllowDownloadHosts: []string{host}},
		w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil || rep.Verdict != verify.Reproducible {
		t.Fatalf("verdict %s, error %v: want reproducible, the index moved and the packages not", rep.Verdict, err)
	}
	roundTrip(t, rep)
	if got := rep.Build.Inputs.String(); got != "1 of 2 downloads as released; Packages changed" {
		t.Errorf("inputs %q", got)
	}
	var changed []verify.Download
	for _, d := range rep.Build.Downloads {
		if d.State == string(pins.StateChanged) {
			changed = append(changed, d)
		}
	}
	if len(changed) != 1 || changed[0].URL != "http://"+repo+"/./Packages" || changed[0].Pinned != old || changed[0].SHA256 != fileSHA256(t, index) {
		t.Errorf("changed downloads %+v, want the index from sha256:%s to sha256:%s", changed, old, fileSHA256(t, index))
	}
	if rep.Verified(true) || !rep.Verified(false) {
		t.Errorf("verified %v, strict %v: want verified, not under strict", rep.Verified(false), rep.Verified(true))
	}
}

// aptRelease is a release whose RUN installs one package with apt from
// the test world's repository (a copy of it, on a test bridge) through the
// proxy, pinned by its provenance, pushed as name.
type aptRelease struct {
	dir, commit string // its source
	ref         string // the published image
	repo        string // the repository's host:port
	repoDir     string // its files, to move after the release
	host        string
}

// publishApt publishes an aptRelease of pkg; wrap, when set, wraps the
// repository's file server (to count or refuse requests); extra files of
// the source, when given, are copied into the image after the install.
func publishApt(t testing.TB, w *world, pkg, name string, wrap func(http.Handler) http.Handler, extra ...map[string]string) aptRelease {
	t.Helper()
	img, err := fixtures.DebianBase()
	if err != nil {
		t.Fatal(err)
	}
	base := w.reg.MustPush(t, "base/debian", "bookworm", img)
	repo, repoDir := fixtures.AptRepoCopy(t)
	if wrap != nil {
		repo = fixtures.BridgeServer(t, wrap(http.FileServer(http.Dir(repoDir))))
	}
	host, _, _ := strings.Cut(repo, ":")
	dockerfile := "FROM " + base + "\nRUN echo \"deb [trusted=yes] http://" + repo + "/ ./\" > /etc/apt/sources.list.d/local.list" +
		" && rm -f /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list" +
		" && apt-get update && apt-get install -y --no-install-recommends " + pkg +
		" && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache\n"
	files := map[string]string{}
	for _, e := range extra {
		maps.Copy(files, e)
		dockerfile += "COPY data/ /data/\n"
	}
	files["Dockerfile"] = dockerfile
	dir, commit := fixtures.GitRepo(t, files, commitTime)
	x, _ := w.publish(dir, "", builder.Spec{Network: builder.NetworkProxy, ProxyHosts: []string{repo}, Provenance: true})
	return aptRelease{dir: dir, commit: commit, ref: w.push(name, x), repo: repo, repoDir: repoDir, host: host}
}
