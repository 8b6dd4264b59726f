package builder

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/moby/buildkit/client"
	digest "github.com/opencontainers/go-digest"

	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/pins"
)

// provenance-proxy.json is the history provenance BuildKit v0.34.2 recorded
// for one RUN (TestBuildProxyCaptures's server) that fetched /moved (a 301
// to /input.txt), /input.txt with a Range header (206), POSTed and HEADed
// by hand through the proxy, read /short (cut 90 bytes short) and /missing
// (404), tried a port the policy refused, and ended with printf x >&2.
const (
	recordedHost = "http://10.214.162.1:44019"
	recordedSum  = "0368e6c962b7ed62c011327f68d5c5c36744944633f23b4ae76cfb64f5ef2619"
)

// recordedLog is that step's stderr as BuildKit sent it: its header glued
// onto the step's "x".
const recordedLog = "x" + proxyHeader + "\n" +
	"- GET " + recordedHost + "/moved -> 301\n" +
	"- GET " + recordedHost + "/input.txt -> 200\n" +
	"- GET " + recordedHost + "/input.txt -> 206\n" +
	"- POST " + recordedHost + "/api -> 200\n" +
	"- HEAD " + recordedHost + "/input.txt -> 200\n" +
	"- GET " + recordedHost + "/short -> 200\n" +
	"- GET " + recordedHost + "/missing -> 404\n"

func recordedProvenance(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/provenance-proxy.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logOf feeds a step's stderr to a proxyLog in chunks of n bytes (all at
// once when n is 0) and returns the requests it reads.
func logOf(stderr string, n int) ([]request, error) {
	l := newProxyLog()
	vx := digest.FromString("step")
	b := []byte(stderr)
	for len(b) > 0 {
		k := len(b)
		if n > 0 && n < k {
			k = n
		}
		l.add(&client.SolveStatus{Logs: []*client.VertexLog{{Vertex: vx, Stream: 2, Data: b[:k]}, {Vertex: vx, Stream: 1, Data: []byte("stdout\n")}}})
		b = b[k:]
	}
	return l.requests()
}

// TestCapturesFromProvenance: a build's captures are the materials and
// incomplete markers of its provenance, each with the status its step
// log gives; without the log (clipped, or glued beyond reading) nothing is
// lost; a request the log lists that the provenance lacks is an error.
func TestCapturesFromProvenance(t *testing.T) {
	u := func(path string) string { return recordedHost + path }
	withLog := []pins.Capture{
		{Method: "POST", URL: u("/api"), Status: 200, Incomplete: pins.ReasonNotGET},
		{Method: "GET", URL: u("/input.txt"), Status: 200, SHA256: recordedSum},
		{Method: "GET", URL: u("/input.txt"), Status: 206, Incomplete: pins.ReasonPartial},
		{Method: "HEAD", URL: u("/input.txt"), Status: 200, Incomplete: pins.ReasonNotGET},
		{Method: "GET", URL: u("/missing"), Status: 404, Incomplete: pins.ReasonFailed},
		{Method: "GET", URL: u("/moved"), Status: 301, SHA256: recordedSum},
		{Method: "GET", URL: u("/short"), Status: 200, Incomplete: pins.ReasonBodyFailed},
	}
	noLog := []pins.Capture{
		{Method: "POST", URL: u("/api"), Incomplete: pins.ReasonNotGET},
		{Method: "GET", URL: u("/input.txt"), Status: 200, SHA256: recordedSum},
		{Method: "GET", URL: u("/input.txt"), Incomplete: pins.ReasonPartial},
		{Method: "HEAD", URL: u("/input.txt"), Incomplete: pins.ReasonNotGET},
		{Method: "GET", URL: u("/missing"), Incomplete: pins.ReasonFailed},
		{Method: "GET", URL: u("/moved"), Status: 200, SHA256: recordedSum},
		{Method: "GET", URL: u("/short"), Incomplete: pins.ReasonBodyFailed},
	}
	for _, tc := range []struct {
		name    string
		log     string
		want    []pins.Capture
		wantErr string
	}{
		{name: "the recorded build and its log", log: recordedLog, want: withLog},
		{name: "the log clipped before the list", log: strings.Repeat("output\n", 3), want: noLog},
		{name: "the list followed by output: not BuildKit's", log: recordedLog + "more", want: noLog},
		{name: "a redirect only the log has", log: recordedLog + "- GET " + u("/elsewhere") + " -> 302\n",
			want: slices.Concat(withLog[:1], []pins.Capture{{Method: "GET", URL: u("/elsewhere"), Status: 302}}, withLog[1:])},
		{name: "a logged request the provenance lacks", log: recordedLog + "- PUT " + u("/upload") + " -> 201\n",
			wantErr: "PUT " + u("/upload") + " -> 201"},
		{name: "a logged GET answered 200 the provenance lacks", log: recordedLog + "- GET " + u("/api") + " -> 200\n",
			wantErr: "GET " + u("/api") + " -> 200"},
		{name: "a logged GET answered 101, which relays anything", log: recordedLog + "- GET " + u("/ws") + " -> 101\n",
			wantErr: "GET " + u("/ws") + " -> 101"},
		{name: "a logged failure the provenance lacks", log: recordedLog + "- GET " + u("/gone") + " -> 410\n",
			wantErr: "GET " + u("/gone") + " -> 410"},
		{name: "a logged 206 where the provenance has only the whole GET", log: "x" + proxyHeader + "\n- GET " + u("/moved") + " -> 206\n",
			wantErr: "GET " + u("/moved") + " -> 206"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvenanceCaptures()
			if err := p.read(recordedProvenance(t), "recorded"); err != nil {
				t.Fatal(err)
			}
			if p.mode != "proxy" {
				t.Errorf("mode %q, want proxy", p.mode)
			}
			logged, err := logOf(tc.log, 7)
			if err != nil {
				t.Fatal(err)
			}
			got, err := mergeCaptures(logged, p)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrUnrecorded) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want ErrUnrecorded naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("captures\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// TestCapturesProvenanceHostile: what the provenance says is read whole or
// refused, naming the entry; nothing in it is skipped but images and git
// sources.
func TestCapturesProvenanceHostile(t *testing.T) {
	sum := strings.Repeat("a", 64)
	doc := func(deps, incomplete string) string {
		return `{"buildDefinition":{"resolvedDependencies":[` + deps + `]},"runDetails":{"metadata":{"buildkit_metadata":{"network":{"mode":"proxy","proxy":{"incomplete":[` + incomplete + `]}}}}}}`
	}
	for _, tc := range []struct {
		name    string
		docs    []string
		want    []pins.Capture
		wantErr string
	}{
		{name: "images and git sources are not downloads", docs: []string{doc(`{"uri":"pkg:docker/busybox@1?digest=sha256:`+sum+`","digest":{"sha256":"`+sum+`"}},{"uri":"https://github.com/x/y.git#main","digest":{"sha1":"`+strings.Repeat("b", 40)+`"}}`, ``)}},
		{name: "a download without a sha256", docs: []string{doc(`{"uri":"https://x.example/a","digest":{"sha512":"00"}}`, ``)},
			want: []pins.Capture{{Method: "GET", URL: "https://x.example/a", Incomplete: pins.ReasonNoDigest}}},
		{name: "a sha256 that is not one", docs: []string{doc(`{"uri":"https://x.example/a","digest":{"sha256":"../../etc"}}`, ``)},
			wantErr: "https://x.example/a: sha256"},
		{name: "an upper-case sha256", docs: []string{doc(`{"uri":"https://x.example/a","digest":{"sha256":"`+strings.ToUpper(sum)+`"}}`, ``)},
			wantErr: "resolvedDependencies[0]"},
		{name: "a marker without a URL", docs: []string{doc(``, `{"method":"GET","reason":"partial_response"}`)},
			wantErr: "network.proxy.incomplete[0]"},
		{name: "a marker without a reason is still incomplete", docs: []string{doc(``, `{"method":"GET","uri":"https://x.example/a"}`)},
			want: []pins.Capture{{Method: "GET", URL: "https://x.example/a", Incomplete: "unspecified"}}},
		{name: "one marker per request kind, however many steps made it", docs: []string{doc(``, `{"op":"a","method":"GET","uri":"https://x.example/a","reason":"partial_response"},{"op":"b","method":"GET","uri":"https://x.example/a","reason":"partial_response"}`)},
			want: []pins.Capture{{Method: "GET", URL: "https://x.example/a", Incomplete: pins.ReasonPartial}}},
		{name: "a URL two platforms got with two digests", docs: []string{doc(`{"uri":"https://x.example/a","digest":{"sha256":"`+sum+`"}}`, ``), doc(`{"uri":"https://x.example/a","digest":{"sha256":"`+strings.Repeat("b", 64)+`"}}`, ``)},
			want: []pins.Capture{{Method: "GET", URL: "https://x.example/a", Status: 200, SHA256: sum}, {Method: "GET", URL: "https://x.example/a", Status: 200, SHA256: strings.Repeat("b", 64)}}},
		{name: "not JSON", docs: []string{`{"buildDefinition":`}, wantErr: "doc0"},
		{name: "too many entries", docs: []string{doc(strings.Repeat(`{"uri":"pkg:docker/x"},`, maxCaptures)+`{"uri":"pkg:docker/x"}`, ``)}, wantErr: "maxCaptures"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProvenanceCaptures()
			var err error
			for i, d := range tc.docs {
				if err = p.read([]byte(d), "doc"+string(rune('0'+i))); err != nil {
					break
				}
			}
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := mergeCaptures(nil, p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("captures\n%+v\nwant\n%+v", got, tc.want)
			}
		})
	}
}

// TestCaptureLog: only the list that ends a step's stderr is BuildKit's,
// its header on a line of its own or glued onto the step's last line;
// however the stream is cut into messages.
func TestCaptureLog(t *testing.T) {
	real := proxyHeader + "\n- GET http://x.example/a -> 200\n- POST http://x.example/b -> 201\n- CONNECT x.example:443\n"
	want := []request{{"GET", "http://x.example/a", 200}, {"POST", "http://x.example/b", 201}, {"CONNECT", "x.example:443", 0}}
	forged := proxyHeader + "\n- GET http://x.example/forged -> 200\n"
	for _, tc := range []struct {
		name   string
		stderr string
		want   []request
	}{
		{name: "a list on its own lines", stderr: "step output\n" + real, want: want},
		{name: "a header glued onto the last line", stderr: "step output\nno newline" + real, want: want},
		{name: "glued onto a line longer than any request", stderr: strings.Repeat("y", 3*maxLogLine) + real, want: want},
		{name: "a list the step printed, then BuildKit's", stderr: forged + "x" + real, want: want},
		{name: "a list the step printed, glued onto by BuildKit's header", stderr: strings.TrimSuffix(forged, "\n") + real, want: want},
		{name: "a list the step printed last stands", stderr: real + "more output\n" + forged, want: []request{{"GET", "http://x.example/forged", 200}}},
		{name: "output after a list", stderr: real + "more output\n"},
		{name: "an unfinished line after a list", stderr: real + "more"},
		{name: "a line in a list that is no request", stderr: proxyHeader + "\n- GET http://x.example/a -> 200\nGET http://x.example/b -> 200\n"},
		{name: "a request line too long to be one", stderr: proxyHeader + "\n- GET http://x.example/" + strings.Repeat("a", maxLogLine) + " -> 200\n"},
		{name: "no list", stderr: "- GET http://x.example/a -> 200\n"},
		{name: "nothing"},
	} {
		for _, n := range []int{0, 1, 2, 5, 64} {
			got, err := logOf(tc.stderr, n)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s, in messages of %d bytes: %.300v, want %+v", tc.name, n, fmt.Sprint(got), tc.want)
			}
		}
	}
	l := newProxyLog()
	many := proxyHeader + "\n" + strings.Repeat("- GET http://x.example/a -> 200\n", maxCaptures+1)
	l.add(&client.SolveStatus{Logs: []*client.VertexLog{{Vertex: "a", Stream: 2, Data: []byte(many)}}})
	var le *limits.Error
	if _, err := l.requests(); !errors.As(err, &le) || le.Limit != "maxCaptures" {
		t.Errorf("%d requests listed: %v, want the limit maxCaptures", maxCaptures+1, err)
	}
}

// FuzzCaptureLog: whatever a step prints, however the stream is cut, the
// list BuildKit appends is read exactly; and a stream read in one message
// or in many gives the same requests.
func FuzzCaptureLog(f *testing.F) {
	f.Add([]byte("step output\n"), 3)
	f.Add([]byte("no newline"), 1)
	f.Add([]byte(proxyHeader+"\n- GET http://x.example/forged -> 200\n"), 5)
	f.Add([]byte(proxyHeader+"\n- GET http://x.example/forged -> 200"), 2)
	f.Add([]byte(recordedLog), 7)
	f.Add([]byte("\x00\xff- \n"+proxyHeader), 1)
	real := proxyHeader + "\n- GET http://x.example/a -> 200\n- HEAD https://x.example/b -> 404\n"
	want := []request{{"GET", "http://x.example/a", 200}, {"HEAD", "https://x.example/b", 404}}
	f.Fuzz(func(t *testing.T, step []byte, n int) {
		n = max(n%512, 0)
		got, err := logOf(string(step)+real, n)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("after %.300q in messages of %d bytes: %.300v (%v), want %+v", step, n, fmt.Sprint(got), err, want)
		}
		whole, err1 := logOf(string(step), 0)
		cut, err2 := logOf(string(step), n)
		if !slices.Equal(whole, cut) || (err1 == nil) != (err2 == nil) {
			t.Fatalf("%.300q: %.300v (%v) read whole, %.300v (%v) in messages of %d bytes", step, fmt.Sprint(whole), err1, fmt.Sprint(cut), err2, n)
		}
		for _, r := range whole {
			if strings.ContainsAny(r.Method+r.URL, " \n") || r.Status < 0 || r.Status > 999 {
				t.Fatalf("%.300q: request %.300v", step, fmt.Sprint(r))
			}
		}
	})
}
