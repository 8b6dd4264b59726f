package verify_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

// aptLeftovers are what apt-get and dpkg leave in an image besides the
// packages: logs with the wall-clock time of the build (apt and dpkg ignore
// SOURCE_DATE_EPOCH), the binary package caches (pkgcache.bin records the
// size and mtime of /var/lib/dpkg/status, which dpkg rewrites at build time,
// and a checksum over the cache), the downloaded lists, and ldconfig's
// aux-cache (inode and ctime of the libraries it scanned).
var aptLeftovers = []string{
	"/var/log/apt/", "/var/log/dpkg.log", "/var/log/alternatives.log",
	"/var/cache/apt/pkgcache.bin", "/var/cache/apt/srcpkgcache.bin",
	"/var/lib/apt/lists/", "/var/cache/ldconfig/aux-cache",
}

func isAptLeftover(path string) bool {
	return slices.ContainsFunc(aptLeftovers, func(p string) bool {
		return path == p || (strings.HasSuffix(p, "/") && strings.HasPrefix(path, p))
	})
}

// TestVerifyApt: a release on a Debian base whose RUN runs apt-get update
// and apt-get install from a flat apt repository, published through
// BuildKit's capturing proxy with provenance, is rebuilt through the proxy:
// the Packages index and the .deb are each pinned by the release's
// provenance, apt's probes (InRelease, Release, compressed indexes) are
// recorded as 404s needing no pin. A RUN that leaves apt's logs and caches
// is a mismatch naming only those files; one that removes them verifies as
// reproducible, pinned by its provenance or by a lock file written from
// the publisher's captures.
func TestVerifyApt(t *testing.T) {
	w := newWorld(t)
	img, err := fixtures.DebianBase()
	if err != nil {
		t.Fatal(err)
	}
	base := w.reg.MustPush(t, "base/debian", "bookworm", img)
	repo := fixtures.AptRepo(t)
	host, _, _ := strings.Cut(repo, ":")
	packagesURL, packagesSum := "http://"+repo+"/./Packages", fileSHA256(t, filepath.Join(fixtures.AptRepoPath(), "Packages"))
	debs, _ := filepath.Glob(filepath.Join(fixtures.AptRepoPath(), "hello_*_amd64.deb"))
	if len(debs) != 1 {
		t.Fatalf("the apt repository %s has %d hello .debs, want 1 (make tools)", fixtures.AptRepoPath(), len(debs))
	}
	debURL, debSum := "http://"+repo+"/./"+filepath.Base(debs[0]), fileSHA256(t, debs[0])

	install := "RUN echo \"deb [trusted=yes] http://" + repo + "/ ./\" > /etc/apt/sources.list.d/local.list" +
		" && rm -f /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list" +
		" && apt-get update && apt-get install -y --no-install-recommends hello"
	const clean = " && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log /var/log/alternatives.log /var/cache/ldconfig/aux-cache"

	// release publishes the Dockerfile from a commit through the proxy
	// with provenance, as a release pipeline would, and returns the
	// pushed image, the source and what the proxy captured.
	release := func(t *testing.T, name, dockerfile string) (ref, dir, commit string, captures []pins.Capture) {
		t.Helper()
		files := map[string]string{"Dockerfile": dockerfile, "README.md": "apt release\n"}
		dir, commit = fixtures.GitRepo(t, files, commitTime)
		s := builder.Spec{
			ContextDir: dir, DockerfilePath: filepath.Join(dir, "Dockerfile"), DockerfileName: "Dockerfile",
			SourceDateEpoch: commitTime.Unix(), OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "published"),
			Network: builder.NetworkProxy, ProxyHosts: []string{repo}, Provenance: true,
		}
		res, err := w.bk.Build(t.Context(), s, os.Stderr, "quiet")
		if err != nil {
			t.Fatalf("publishing: %v", err)
		}
		x, err := fixtures.FromLayout(s.OutputDir, res.Digest)
		if err != nil {
			t.Fatal(err)
		}
		// apt and dpkg write the time to the second: the rebuild must not
		// run in the same second as the publisher's build, or the logs
		// would match by chance.
		built := time.Now().Unix()
		fixtures.WaitFor(t, 5*time.Second, "the next second on the clock", func() (bool, string, error) {
			return time.Now().Unix() > built, "", nil
		})
		return w.push("release/apt-"+name, x), dir, commit, res.Captures
	}
	rebuild := func(t *testing.T, ref, dir, commit, pinsFrom string) *verify.Report {
		t.Helper()
		req := verify.Request{Source: dir, Commit: commit, Image: ref, Network: "proxy", AllowDownloadHosts: []string{host}}
		rep, err := verify.Run(t.Context(), req, w.bk, verify.Options{ProgressMode: "quiet"})
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		roundTrip(t, rep)
		checkAptDownloads(t, rep, repo, pinsFrom, map[string]string{packagesURL: packagesSum, debURL: debSum})
		return rep
	}

	t.Run("apt leaves its logs and caches", func(t *testing.T) {
		ref, dir, commit, _ := release(t, "logs", "FROM "+base+"\n"+install+"\n")
		rep := rebuild(t, ref, dir, commit, pins.FromProvenance)
		if rep.Verdict != verify.Mismatch {
			t.Fatalf("verdict %s, want mismatch (apt's logs hold the build's wall-clock time)", rep.Verdict)
		}
		var changed []string
		for _, p := range rep.Platforms {
			for _, c := range p.Config {
				if c.Field != "rootfs.diff_ids" { // follows from the RUN layer
					t.Errorf("config field %s differs: %s, published %s", c.Field, c.Rebuilt, c.Published)
				}
			}
			for _, f := range p.Files {
				changed = append(changed, f.Path)
				t.Logf("differs: %s %s %v", f.Path, f.Change, f.Aspects)
				if !isAptLeftover(f.Path) {
					t.Errorf("%s differs (%s %v): not one of apt's logs or caches %q", f.Path, f.Change, f.Aspects, aptLeftovers)
				}
				if f.Change != "modified" || !slices.Equal(f.Aspects, []string{"content"}) {
					t.Errorf("%s: %s %v, want only its content modified", f.Path, f.Change, f.Aspects)
				}
				if f.Cause != causes.PackageManagerFiles.ID {
					t.Errorf("%s: cause %s (%s), want %s", f.Path, f.Cause, f.Evidence, causes.PackageManagerFiles.ID)
				}
			}
			if len(p.Causes) != 1 || p.Causes[0].Cause != causes.PackageManagerFiles.ID {
				t.Errorf("causes %+v, want only %s", p.Causes, causes.PackageManagerFiles.ID)
			}
			for _, l := range p.Layers {
				for _, f := range l.Files {
					if !isAptLeftover(f.Path) {
						t.Errorf("layer %d: %s differs: not one of apt's logs or caches", l.Index, f.Path)
					}
				}
			}
		}
		for _, p := range []string{"/var/log/dpkg.log", "/var/log/apt/history.log", "/var/log/apt/term.log", "/var/cache/apt/pkgcache.bin"} {
			if !slices.Contains(changed, p) {
				t.Errorf("%s does not differ; changed: %q", p, changed)
			}
		}
	})

	t.Run("apt's logs and caches removed", func(t *testing.T) {
		dockerfile := "FROM " + base + "\n" + install + clean + "\n"
		ref, dir, commit, captures := release(t, "clean", dockerfile)
		rep := rebuild(t, ref, dir, commit, pins.FromProvenance)
		if rep.Verdict != verify.Reproducible {
			for _, p := range rep.Platforms {
				for _, f := range p.Files {
					t.Logf("differs: %s %s %v", f.Path, f.Change, f.Aspects)
				}
			}
			t.Fatalf("verdict %s, want reproducible", rep.Verdict)
		}

		// The maintainer commits a lock file written from what the
		// publisher's build downloaded: the same release verifies from
		// that commit, pinned by the lock instead of the provenance.
		lock, err := pins.LockOf(captures)
		if err != nil {
			t.Fatal(err)
		}
		if got := len(lock.Downloads); got != 2 {
			t.Errorf("the lock of the publisher's captures pins %d URLs, want the Packages index and the .deb: %+v", got, lock.Downloads)
		}
		data, err := lock.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		files := map[string]string{"Dockerfile": dockerfile, "README.md": "apt release\n", pins.LockFile: string(data)}
		dir, commit = fixtures.GitRepo(t, files, commitTime)
		rep = rebuild(t, ref, dir, commit, pins.FromLock)
		if rep.Verdict != verify.Reproducible {
			t.Errorf("verdict with the lock file %s, want reproducible", rep.Verdict)
		}
	})
}

// checkAptDownloads checks the evidence of an apt rebuild: every request
// went to the repository; the wanted URLs answered 200 with their sha256,
// each pinned by pinsFrom; every other request is a 404 (apt probing
// InRelease, Release and compressed indexes) with no digest and no pin.
func checkAptDownloads(t *testing.T, rep *verify.Report, repo, pinsFrom string, want map[string]string) {
	t.Helper()
	b := rep.Build
	if b == nil || b.Network != "proxy" || b.Pins == nil || b.Pins.From != pinsFrom {
		t.Fatalf("build %+v, want network proxy pinned by %s", b, pinsFrom)
	}
	got, probes := map[string]string{}, 0
	for _, d := range b.Downloads {
		if !strings.HasPrefix(d.URL, "http://"+repo+"/") || d.Method != "GET" {
			t.Errorf("%s %s: not a GET from the apt repository", d.Method, d.URL)
		}
		switch d.Status {
		case 200:
			got[d.URL] = d.SHA256
			if d.PinnedBy != pinsFrom {
				t.Errorf("%s: pinned by %q, want %s", d.URL, d.PinnedBy, pinsFrom)
			}
		case 404:
			probes++
			if d.PinnedBy != "" || d.SHA256 != "" {
				t.Errorf("%s answered 404 but has sha256 %q pinned by %q", d.URL, d.SHA256, d.PinnedBy)
			}
		default:
			t.Errorf("%s answered %d", d.URL, d.Status)
		}
	}
	for u, sum := range want {
		if got[u] != sum {
			t.Errorf("GET %s: sha256 %q, want %s", u, got[u], sum)
		}
	}
	if len(got) != len(want) {
		t.Errorf("downloads %v, want only %v", got, want)
	}
	for _, p := range []string{"InRelease", "Release"} {
		if !slices.ContainsFunc(b.Downloads, func(d verify.Download) bool {
			return d.URL == "http://"+repo+"/./"+p && d.Status == 404
		}) {
			t.Errorf("apt's probe of %s is not recorded as a 404: %+v", p, b.Downloads)
		}
	}
	t.Logf("%d downloads: %d pinned by %s, %d probes answered 404", len(b.Downloads), len(got), pinsFrom, probes)
}

func fileSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (make tools)", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
