package verify_test

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// TestCausesOfRealBuilds publishes a release whose Dockerfile is not
// reproducible in one way per cause (a RUN date, Python bytecode compiled
// in the build, a gzip made in a RUN, a random id), then verifies it:
// each differing file, and only those, gets exactly its cause; a faithful
// rebuild of a reproducible release gets none. (Apt's logs and caches:
// TestApt, which builds through the proxy network.)
func TestCausesOfRealBuilds(t *testing.T) {
	w := newWorld(t)
	py, err := fixtures.PythonBase()
	if err != nil {
		t.Fatal(err)
	}
	pyRef := w.reg.MustPush(t, "base/python", "minimal", py)
	const dockerfile = "FROM BASE\n" +
		"RUN date +%s%N > /stamp\n" +
		"RUN echo hello > /h.txt && gzip /h.txt\n" +
		"RUN echo 'x = 1' > /m.py && $(ls /usr/bin/python3.* | head -1) -m py_compile /m.py\n" +
		"RUN cat /proc/sys/kernel/random/uuid > /etc/machine-id\n" +
		"RUN echo stable > /same.txt\n"
	files := w.files("", map[string]string{"Dockerfile": strings.ReplaceAll(dockerfile, "BASE", pyRef)})
	dir, commit := fixtures.GitRepo(t, files, commitTime)
	x, _ := w.publish(dir, "", builder.Spec{})
	ref := w.push("release/causes", x)
	// The rebuild runs in a later second than the release: the times the
	// build writes (gzip's header, the .pyc's source mtime) then differ.
	published := time.Now().Unix()
	fixtures.WaitFor(t, 3*time.Second, "the next second", func() (bool, string, error) {
		return time.Now().Unix() > published, "", nil
	})
	rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref}, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, rep)
	if rep.Verdict != verify.Mismatch {
		t.Fatalf("verdict %s, want mismatch", rep.Verdict)
	}
	want := map[string]string{
		"/stamp":                         causes.Timestamp.ID,
		"/h.txt.gz":                      causes.GzipHeader.ID,
		"/__pycache__/m.cpython-311.pyc": causes.PythonBytecode.ID,
		"/etc/machine-id":                causes.RandomID.ID,
	}
	got := map[string]string{}
	for _, p := range rep.Platforms {
		for _, f := range p.Files {
			got[f.Path] = f.Cause
			t.Logf("%s %v: %s: %s", f.Path, f.Aspects, f.Cause, f.Evidence)
		}
		// Each RUN's layer names the same cause for its file.
		for _, l := range p.Layers {
			for _, f := range l.Files {
				if c, ok := want[f.Path]; ok && f.Cause != c {
					t.Errorf("layer %d: %s: cause %s (%s), want %s", l.Index+1, f.Path, f.Cause, f.Evidence, c)
				}
			}
		}
		if len(p.Causes) != len(want) {
			t.Errorf("the platform's causes %+v, want one each of %v", p.Causes, slices.Sorted(maps.Values(want)))
		}
	}
	// The interpreter's version is the Debian release's: match the .pyc by
	// its directory.
	for p, c := range got {
		if strings.HasPrefix(p, "/__pycache__/m.cpython-") && c == causes.PythonBytecode.ID {
			got["/__pycache__/m.cpython-311.pyc"] = c
			if p != "/__pycache__/m.cpython-311.pyc" {
				delete(got, p)
			}
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("causes of the differing files:\n got  %v\n want %v", got, want)
	}
	// The base's layers (Debian, Python) are the same blobs in both
	// images, and the RUN layers' paths are on both sides: the comparison
	// reads only the layers the Dockerfile made.
	if tm := rep.Timings; tm == nil || tm.LayersSkipped != 4 || tm.LayersRead != 5 {
		t.Errorf("timings %+v, want the 4 base layers not read and the 5 RUN layers read", tm)
	}
	if !strings.Contains(strings.Join(rep.Hints, "\n"), "1 of 4 differences: a timestamp inside the content (/stamp)") {
		t.Errorf("hints %q do not count the timestamp", rep.Hints)
	}

	t.Run("a faithful rebuild has no cause", func(t *testing.T) {
		dir, commit := fixtures.GitRepo(t, w.files(sample, nil), commitTime)
		x, _ := w.publish(dir, "", builder.Spec{})
		rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: w.push("release/faithful", x)}, w.bk, verify.Options{ProgressMode: "quiet"})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Verdict != verify.Reproducible {
			t.Fatalf("verdict %s, want reproducible", rep.Verdict)
		}
		for _, p := range rep.Platforms {
			if len(p.Causes) > 0 || len(p.Files) > 0 {
				t.Errorf("a reproducible platform has causes %+v, files %+v", p.Causes, p.Files)
			}
		}
		for _, h := range rep.Hints {
			if strings.Contains(h, "differences:") {
				t.Errorf("a reproducible verdict has a cause hint: %s", h)
			}
		}
	})
}
