package verify_test

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

// TestTwice builds commits twice on one daemon: a deterministic
// Dockerfile is reproducible, one that writes the time or random bytes is
// a mismatch naming that file and nothing else, and what cannot be built
// (an unpinned base, a failing step) is an error naming the Dockerfile
// line.
func TestTwice(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name        string
		dockerfile  string
		wantVerdict verify.Verdict
		wantPaths   []string // the merged changes, exactly
		wantCauses  []string // their causes, in the same order
		wantErr     []string
	}{
		{name: "deterministic", dockerfile: sample, wantVerdict: verify.Reproducible},
		{name: "the time in a file", dockerfile: "FROM BASE\nCOPY app/ /app/\nRUN date +%s%N > /stamp\n",
			wantVerdict: verify.Mismatch, wantPaths: []string{"/stamp"}, wantCauses: []string{"timestamp"}},
		{name: "random bytes in a file", dockerfile: "FROM BASE\nRUN head -c 32 /dev/urandom > /random\n",
			wantVerdict: verify.Mismatch, wantPaths: []string{"/random"}, wantCauses: []string{"unknown"}},
		{name: "unpinned base", dockerfile: "FROM busybox:latest\nCOPY app/ /app/\n",
			wantErr: []string{"Dockerfile:1: unpinned-from"}},
		{name: "a failing step", dockerfile: "FROM BASE\nRUN echo broken >&2 && false\n",
			wantErr: []string{"Dockerfile:2:", "broken"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, commit := fixtures.GitRepo(t, w.files(tc.dockerfile, nil), commitTime)
			rep, err := verify.Twice(t.Context(), verify.Request{Source: dir, Commit: commit}, w.bk, verify.Options{Progress: os.Stderr, ProgressMode: "quiet"})
			roundTripOf(t, rep, verify.ReadTwiceReport)
			if len(tc.wantErr) > 0 {
				if err == nil || rep.Verdict != verify.Error || rep.Error != err.Error() {
					t.Fatalf("verdict %s error %v, want the error in the report", rep.Verdict, err)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				if rep.Second != nil {
					t.Errorf("a second build ran after an error: %+v", rep.Second)
				}
				return
			}
			if err != nil {
				t.Fatalf("twice: %v", err)
			}
			if rep.Verdict != tc.wantVerdict {
				t.Errorf("verdict %s, want %s; hints %q", rep.Verdict, tc.wantVerdict, rep.Hints)
			}
			var merged, causes []string
			for _, p := range rep.Platforms {
				for _, f := range p.Files {
					merged, causes = append(merged, f.Path), append(causes, f.Cause)
				}
			}
			if !slices.Equal(merged, tc.wantPaths) {
				t.Errorf("changed files %q, want %q", merged, tc.wantPaths)
			}
			if !slices.Equal(causes, tc.wantCauses) {
				t.Errorf("causes %q, want %q", causes, tc.wantCauses)
			}
			checkTwiceBuilds(t, rep, commit)
		})
	}
}

// checkTwiceBuilds checks what every finished Twice reports: the commit,
// its time as SOURCE_DATE_EPOCH, the daemon's platform, and a second
// build that started in a later second than the first finished.
func checkTwiceBuilds(t *testing.T, rep *verify.TwiceReport, commit string) {
	t.Helper()
	if rep.Source == nil || rep.Source.Commit != commit || rep.SourceDateEpoch == nil || *rep.SourceDateEpoch != commitTime.Unix() {
		t.Errorf("source %+v SOURCE_DATE_EPOCH %v, want %s at the commit time %d", rep.Source, rep.SourceDateEpoch, commit, commitTime.Unix())
	}
	if rep.First == nil || rep.Second == nil {
		t.Fatalf("first %+v second %+v, want both builds", rep.First, rep.Second)
	}
	if rep.Second.Started.Unix() <= rep.First.Finished.Unix() || rep.First.Finished.Before(rep.First.Started) || rep.Second.Finished.Before(rep.Second.Started) {
		t.Errorf("first build %s – %s, second %s – %s: want the second started in a later second than the first finished",
			rep.First.Started, rep.First.Finished, rep.Second.Started, rep.Second.Finished)
	}
	if (rep.First.Digest == rep.Second.Digest) != (len(rep.Platforms) == 1 && rep.Platforms[0].Verdict == verify.Reproducible) {
		t.Errorf("verdict %s (platforms %+v) with digests %s and %s", rep.Verdict, rep.Platforms, rep.First.Digest, rep.Second.Digest)
	}
	if rep.Build == nil || len(rep.Build.Platforms) != 1 || len(rep.Platforms) != 1 || rep.Platforms[0].Platform != rep.Build.Platforms[0] {
		t.Errorf("build %+v, platforms %+v: want the daemon's one platform", rep.Build, rep.Platforms)
	}
}

// TestTwiceProxy: with --network proxy and no lock file, the first build's
// downloads pin the second's: the same bytes twice are reproducible, a
// download that served other bytes the second time is a mismatch naming
// its URL and both digests, even when the images are bit-identical; with
// a lock file, both builds are held to it.
func TestTwiceProxy(t *testing.T) {
	w := newWorld(t)
	var n atomic.Int64
	srv := fixtures.BridgeServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/stable.txt":
			fmt.Fprint(rw, "stable\n")
		case "/moving.txt":
			fmt.Fprintf(rw, "version %d\n", n.Add(1))
		default:
			http.NotFound(rw, r)
		}
	}))
	host, _, _ := strings.Cut(srv, ":")
	stable, moving := "http://"+srv+"/stable.txt", "http://"+srv+"/moving.txt"
	lock := fmt.Sprintf(`{"lockVersion":1,"downloads":[{"url":%q,"sha256":%q}]}`, stable, sha("stable\n"))
	tests := []struct {
		name        string
		dockerfile  string
		files       map[string]string
		wantVerdict verify.Verdict
		pinsFrom    string
		wantChanged []string // URLs of the download changes
	}{
		{name: "the same bytes twice", dockerfile: "FROM BASE\nRUN wget -q -O /stable.txt " + stable + "\n",
			wantVerdict: verify.Reproducible, pinsFrom: verify.FromFirstBuild},
		{name: "a download that changed, not kept in the image", dockerfile: "FROM BASE\nRUN wget -q -O /tmp/m " + moving + " && rm /tmp/m\n",
			wantVerdict: verify.Mismatch, pinsFrom: verify.FromFirstBuild, wantChanged: []string{moving}},
		{name: "pinned by the lock file", dockerfile: "FROM BASE\nRUN wget -q -O /stable.txt " + stable + "\n", files: map[string]string{pins.LockFile: lock},
			wantVerdict: verify.Reproducible, pinsFrom: pins.FromLock},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, commit := fixtures.GitRepo(t, w.files(tc.dockerfile, tc.files), commitTime)
			before := n.Load()
			rep, err := verify.Twice(t.Context(), verify.Request{Source: dir, Commit: commit, Network: builder.NetworkProxy, AllowDownloadHosts: []string{host}},
				w.bk, verify.Options{ProgressMode: "quiet"})
			roundTripOf(t, rep, verify.ReadTwiceReport)
			if err != nil {
				t.Fatalf("twice: %v", err)
			}
			if rep.Verdict != tc.wantVerdict {
				t.Errorf("verdict %s, want %s; hints %q", rep.Verdict, tc.wantVerdict, rep.Hints)
			}
			if b := rep.Build; b.Network != builder.NetworkProxy || b.Pins == nil || b.Pins.From != tc.pinsFrom {
				t.Errorf("network %s pins %+v, want proxy pinned by %s", b.Network, b.Pins, tc.pinsFrom)
			}
			var changed []string
			for _, d := range rep.DownloadChanges {
				changed = append(changed, d.URL)
				want := []string{sha(fmt.Sprintf("version %d\n", before+1)), sha(fmt.Sprintf("version %d\n", before+2))}
				if d.First != want[0] || d.Second != want[1] {
					t.Errorf("%s: first %s second %s, want %q", d.URL, d.First, d.Second, want)
				}
				if hints := strings.Join(rep.Hints, "\n"); !strings.Contains(hints, d.URL) || !strings.Contains(hints, d.First) || !strings.Contains(hints, d.Second) {
					t.Errorf("hints %q do not name %s with both digests", rep.Hints, d.URL)
				}
			}
			if !slices.Equal(changed, tc.wantChanged) {
				t.Errorf("download changes %q, want %q", changed, tc.wantChanged)
			}
			if len(rep.Platforms) != 1 || rep.Platforms[0].Verdict != verify.Reproducible {
				t.Errorf("platforms %+v, want the images bit-identical (no download is kept in them)", rep.Platforms)
			}
			checkTwiceBuilds(t, rep, commit)
		})
	}
}
