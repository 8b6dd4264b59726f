package pins

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/reprover/reprover/internal/limits"
)

var (
	sumA = strings.Repeat("a", 64)
	sumB = strings.Repeat("b", 64)
)

func get(url string, status int, sum string) Capture {
	return Capture{Method: "GET", URL: url, Status: status, SHA256: sum, Size: 3}
}

func TestCheck(t *testing.T) {
	set, err := NewSet(FromLock, "reprover.lock.json", []Pin{{URL: "https://deb.example/dists/x/InRelease", SHA256: sumA}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		capture  Capture
		kind     string // the problem, "" none
		pinnedBy string
		say      []string // in the error
	}{
		{name: "pinned", capture: get("https://deb.example/dists/x/InRelease", 200, sumA), pinnedBy: FromLock},
		{name: "a probe that failed needs no pin", capture: get("https://deb.example/dists/x/Release", 404, "")},
		{name: "HEAD needs no pin", capture: Capture{Method: "HEAD", URL: "https://deb.example/x", Status: 200}},
		{name: "changed", capture: get("https://deb.example/dists/x/InRelease", 200, sumB), kind: Changed,
			say: []string{"https://deb.example/dists/x/InRelease", "sha256:" + sumB, "sha256:" + sumA, "reprover.lock.json"}},
		{name: "unpinned", capture: get("https://deb.example/pool/evil.deb", 200, sumB), kind: Unpinned,
			say: []string{"https://deb.example/pool/evil.deb", "sha256:" + sumB, "no pin"}},
		{name: "not captured whole", capture: get("https://deb.example/dists/x/InRelease", 200, ""), kind: Incomplete,
			say: []string{"did not capture the whole body"}},
		{name: "POST with content", capture: Capture{Method: "POST", URL: "https://deb.example/api", Status: 200}, kind: NotGET,
			say: []string{"POST https://deb.example/api", "only GETs"}},
		// What BuildKit's provenance marks incomplete, by its reason.
		{name: "a ranged GET", capture: Capture{Method: "GET", URL: "https://deb.example/x.deb", Status: 206, Incomplete: ReasonPartial}, kind: Incomplete,
			say: []string{"GET https://deb.example/x.deb answered 206", "partial_response", "digest is unknown"}},
		{name: "a ranged GET of a pinned URL, its status not logged", capture: Capture{Method: "GET", URL: "https://deb.example/dists/x/InRelease", Incomplete: ReasonPartial}, kind: Incomplete,
			say: []string{"https://deb.example/dists/x/InRelease", "status not in the step's log", "partial_response"}},
		{name: "a body cut short", capture: Capture{Method: "GET", URL: "https://deb.example/x.deb", Status: 200, Incomplete: ReasonBodyFailed}, kind: Incomplete,
			say: []string{"body_read_failed", "cut short"}},
		{name: "a body decompressed on its way", capture: Capture{Method: "GET", URL: "https://deb.example/x", Status: 200, Incomplete: ReasonTransformed}, kind: Incomplete,
			say: []string{"response_transformed"}},
		{name: "a reason BuildKit may add later", capture: Capture{Method: "GET", URL: "https://deb.example/x", Status: 200, Incomplete: "too_large"}, kind: Incomplete,
			say: []string{"too_large", "does not know"}},
		{name: "a POST whose answer is not logged", capture: Capture{Method: "POST", URL: "https://deb.example/api", Incomplete: ReasonNotGET}, kind: NotGET,
			say: []string{"POST https://deb.example/api", "method_not_materializable", "only GETs"}},
		{name: "a POST that failed is still a POST", capture: Capture{Method: "POST", URL: "https://deb.example/api", Status: 404, Incomplete: ReasonNotGET}, kind: NotGET,
			say: []string{"POST https://deb.example/api answered 404"}},
		{name: "a material without a sha256", capture: Capture{Method: "GET", URL: "https://deb.example/dists/x/InRelease", Incomplete: ReasonNoDigest}, kind: Incomplete,
			say: []string{ReasonNoDigest}},
		{name: "a HEAD marked incomplete needs no pin", capture: Capture{Method: "HEAD", URL: "https://deb.example/x", Incomplete: ReasonNotGET}},
		{name: "a GET that failed, marked incomplete, needs no pin", capture: Capture{Method: "GET", URL: "https://deb.example/dists/x/Release", Status: 404, Incomplete: ReasonFailed}},
		{name: "a server not reached needs no pin", capture: Capture{Method: "GET", URL: "https://deb.example/x", Status: 502, Incomplete: ReasonUpstream}},
		{name: "a redirect with the digest of where it led must be pinned", capture: get("https://deb.example/dists/x/InRelease", 301, sumA), pinnedBy: FromLock},
		{name: "a redirect led to content no pin names", capture: get("https://deb.example/latest", 302, sumB), kind: Unpinned,
			say: []string{"https://deb.example/latest answered 302", "no pin"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			checked, err := set.Check([]Capture{c.capture})
			if len(checked) != 1 || checked[0].PinnedBy != c.pinnedBy {
				t.Errorf("checked %+v, want pinned by %q", checked, c.pinnedBy)
			}
			var pe *Error
			if c.kind == "" {
				if err != nil {
					t.Fatalf("err %v, want none", err)
				}
				return
			}
			if !errors.As(err, &pe) || len(pe.Problems) != 1 || pe.Problems[0].Kind != c.kind {
				t.Fatalf("err %v, want one %s problem", err, c.kind)
			}
			for _, s := range c.say {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("%q does not say %q", err, s)
				}
			}
		})
	}
}

func TestHosts(t *testing.T) {
	set, err := NewSet(FromProvenance, "p", []Pin{{URL: "https://b.example/x", SHA256: sumA}, {URL: "http://a.example:8080/y", SHA256: sumA}, {URL: "https://b.example/z", SHA256: sumB}})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Hosts(); !reflect.DeepEqual(got, []string{"a.example:8080", "b.example"}) {
		t.Errorf("hosts %q", got)
	}
	if _, err := NewSet(FromLock, "l", []Pin{{URL: "https://b.example/x", SHA256: sumA}, {URL: "https://b.example/x", SHA256: sumB}}); err == nil {
		t.Error("a URL pinned to two digests was accepted")
	}
}

// TestLockRoundTrip: the lock of a build is sorted, stable, matches the
// schema, and reads back as written.
func TestLockRoundTrip(t *testing.T) {
	caps := []Capture{
		get("https://z.example/b", 200, sumB), get("https://a.example/a", 200, sumA), get("https://a.example/missing", 404, ""),
		get("https://z.example/b", 200, sumB), {Method: "HEAD", URL: "https://a.example/h", Status: 200},
		{Method: "HEAD", URL: "https://a.example/h", Incomplete: ReasonNotGET}, {Method: "GET", URL: "https://a.example/gone", Incomplete: ReasonFailed},
	}
	l, err := LockOf(caps)
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "lockVersion": 1,
  "downloads": [
    {
      "url": "https://a.example/a",
      "sha256": "` + sumA + `",
      "size": 3
    },
    {
      "url": "https://z.example/b",
      "sha256": "` + sumB + `",
      "size": 3
    }
  ]
}
`
	if string(b) != want {
		t.Errorf("lock:\n%s\nwant:\n%s", b, want)
	}
	back, err := ParseLock(b, "reprover.lock.json", Limits{})
	if err != nil || !reflect.DeepEqual(back, l) {
		t.Errorf("read back %+v (%v), want %+v", back, err, l)
	}
	sch, err := jsonschema.NewCompiler().Compile(filepath.Join("..", "docs", "lock.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("the lock does not match docs/lock.schema.json: %v", err)
	}
	for _, bad := range [][]Capture{
		{get("https://a.example/a", 200, sumA), get("https://a.example/a", 200, sumB)},
		{get("https://a.example/a", 200, "")},
		{{Method: "PUT", URL: "https://a.example/a", Status: 201}},
		{{Method: "GET", URL: "https://a.example/a", Status: 206, Incomplete: ReasonPartial}},
		{{Method: "POST", URL: "https://a.example/a", Incomplete: ReasonNotGET}},
	} {
		if _, err := LockOf(bad); err == nil {
			t.Errorf("locked %+v", bad)
		}
	}
}

// TestParseLockHostile: a lock file is the source's, as untrusted as the
// rest: every way it can lie or overflow is refused, naming the file.
func TestParseLockHostile(t *testing.T) {
	pin := `{"url":"https://a.example/x","sha256":"` + sumA + `"}`
	lock := func(downloads string) string { return `{"lockVersion":1,"downloads":[` + downloads + `]}` }
	for _, c := range []struct {
		name, doc string
		lim       Limits
		say       string
	}{
		{"too big", lock(pin), Limits{MaxLockBytes: 10}, "MaxLockBytes"},
		{"too many pins", lock(pin + "," + strings.Replace(pin, "/x", "/y", 1)), Limits{MaxPins: 1}, "MaxPins"},
		{"URL too long", lock(strings.Replace(pin, "/x", "/"+strings.Repeat("x", 100), 1)), Limits{MaxURLBytes: 50}, "MaxURLBytes"},
		{"duplicate key", `{"lockVersion":1,"lockVersion":1,"downloads":[]}`, Limits{}, "duplicate key"},
		{"key in another case", lock(`{"url":"https://a.example/x","URL":"https://b.example/x","sha256":"` + sumA + `"}`), Limits{}, "differ only in case"},
		{"unknown field", lock(`{"url":"https://a.example/x","sha256":"` + sumA + `","sha512":"x"}`), Limits{}, "unknown field"},
		{"other version", `{"lockVersion":2,"downloads":[]}`, Limits{}, "lockVersion 2"},
		{"file URL", lock(strings.Replace(pin, "https://a.example/x", "file:///etc/passwd", 1)), Limits{}, "absolute http or https"},
		{"relative URL", lock(strings.Replace(pin, "https://a.example/x", "/x", 1)), Limits{}, "absolute http or https"},
		{"short digest", lock(strings.Replace(pin, sumA, "abc", 1)), Limits{}, "64 lower-case hex"},
		{"upper-case digest", lock(strings.Replace(pin, sumA, strings.ToUpper(sumA), 1)), Limits{}, "64 lower-case hex"},
		{"negative size", lock(`{"url":"https://a.example/x","sha256":"` + sumA + `","size":-1}`), Limits{}, "negative"},
		{"URL twice", lock(pin + "," + pin), Limits{}, "listed twice"},
		// Spelled otherwise than BuildKit's proxy records a download: no
		// capture could name it (TestCanonicalURL).
		{"https default port", lock(strings.Replace(pin, "a.example/", "a.example:443/", 1)), Limits{}, "https://a.example/x"},
		{"http default port", lock(strings.Replace(pin, "https://a.example/", "http://a.example:80/", 1)), Limits{}, "http://a.example/x"},
		{"upper-case scheme", lock(strings.Replace(pin, "https://", "HTTPS://", 1)), Limits{}, "https://a.example/x"},
		{"credentials", lock(strings.Replace(pin, "https://", "https://u:secret@", 1)), Limits{}, "https://xxxxx:xxxxx@a.example/x"},
		{"a redirect", lock(`{"url":"https://a.example/x","sha256":"` + sumA + `","redirect":"https://b.example/x"}`), Limits{}, "only a kit records"},
		{"trailing data", lock(pin) + " {}", Limits{}, "after"},
		{"not an object", `[]`, Limits{}, "cannot unmarshal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseLock([]byte(c.doc), "src/reprover.lock.json", c.lim)
			if err == nil || !strings.Contains(err.Error(), c.say) || !strings.Contains(err.Error(), "src/reprover.lock.json") {
				t.Errorf("err %v, want one naming the file and saying %q", err, c.say)
			}
			if strings.HasPrefix(c.say, "Max") {
				var le *limits.Error
				if !errors.As(err, &le) {
					t.Errorf("%v is not a *limits.Error", err)
				}
			}
		})
	}
	t.Run("not a regular file", func(t *testing.T) {
		fifo := filepath.Join(t.TempDir(), "reprover.lock.json")
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadLockFile(fifo, "", Limits{}); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("file read under the limit", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "reprover.lock.json")
		if err := os.WriteFile(p, []byte(lock(pin)+strings.Repeat(" ", 1000)), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadLockFile(p, "", Limits{MaxLockBytes: 200}); err == nil || !strings.Contains(err.Error(), "MaxLockBytes") {
			t.Errorf("err %v", err)
		}
	})
}

// FuzzParseLock: ParseLock never panics, and a lock it accepts marshals to
// a lock it accepts again, with the same pins.
func FuzzParseLock(f *testing.F) {
	f.Add([]byte(`{"lockVersion":1,"downloads":[{"url":"https://a.example/x","sha256":"` + sumA + `","size":1}]}`))
	f.Add([]byte(`{"lockVersion":1,"downloads":[]}`))
	f.Add([]byte(`{"lockVersion":1,"downloads":[{"url":"http://[::1]:80/a?b#c","sha256":"` + sumB + `"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLock(b, "fuzz", Limits{})
		if err != nil {
			return
		}
		out, err := l.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseLock(out, "again", Limits{})
		if err != nil {
			t.Fatalf("a marshalled lock is refused: %v\n%s", err, out)
		}
		if len(again.Downloads) != len(l.Downloads) {
			t.Fatalf("%d pins became %d", len(l.Downloads), len(again.Downloads))
		}
	})
}

// TestValidate: a pin from elsewhere than a lock file (the provenance) is
// held to the lock file's rules.
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		p   Pin
		say string
	}{
		{Pin{URL: "https://deb.example/x", SHA256: sumA}, ""},
		{Pin{URL: "https://deb.example/x"}, "64 lower-case hex"},
		{Pin{URL: "file:///etc/passwd", SHA256: sumA}, "absolute http or https"},
		{Pin{URL: "https://deb.example:443/x", SHA256: sumA}, "not spelled as BuildKit's proxy records"},
		{Pin{URL: "https://deb.example:8443/x", SHA256: sumA}, ""},
		{Pin{URL: "HTTP://deb.example/x", SHA256: sumA}, "http://deb.example/x"},
		{Pin{URL: "https://deb.example/x", SHA256: sumA, Redirect: "https://cdn.example/x"}, ""},
		{Pin{URL: "https://deb.example/x", SHA256: sumA, Redirect: "https://deb.example/x"}, "redirects to itself"},
		{Pin{URL: "https://deb.example/x", SHA256: sumA, Redirect: "file:///etc/passwd"}, "redirect \"file:///etc/passwd\": want an absolute http or https URL"},
		{Pin{URL: "https://deb.example/x", SHA256: sumA, Redirect: "https://cdn.example:443/x"}, "https://cdn.example/x"},
	} {
		err := Validate(c.p)
		if (c.say == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.say)) {
			t.Errorf("%+v: %v, want %q", c.p, err, c.say)
		}
	}
}

// TestCanonicalURL: a URL as BuildKit v0.34.2's proxy records it
// (proxyprovider.captureURL, read in its source): scheme lower-cased by
// net/url, default port dropped, credentials masked; the host's case, other
// ports, escapes and queries kept. NewSet and Validate refuse any other
// spelling, naming the canonical one.
func TestCanonicalURL(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"canonical", "https://deb.example/a.deb", "https://deb.example/a.deb"},
		{"http :80", "http://h.example:80/x", "http://h.example/x"},
		{"https :443", "https://h.example:443/x", "https://h.example/x"},
		{"http :443 kept", "http://h.example:443/x", "http://h.example:443/x"},
		{"https :80 kept", "https://h.example:80/x", "https://h.example:80/x"},
		{"another port", "https://h.example:8443/x", "https://h.example:8443/x"},
		{"IPv6 :80", "http://[fd00::1]:80/x", "http://[fd00::1]/x"},
		{"upper-case scheme", "HTTP://h.example/x", "http://h.example/x"},
		{"upper-case scheme and :80", "HTTP://h.example:80/x", "http://h.example/x"},
		{"host case kept", "http://H.Example/x", "http://H.Example/x"},
		{"escape kept", "http://h.example/%78", "http://h.example/%78"},
		{"query kept", "http://h.example/p?b=2&a=1", "http://h.example/p?b=2&a=1"},
		{"user and password", "https://u:p@h.example/x", "https://xxxxx:xxxxx@h.example/x"},
		{"user", "https://u@h.example/x", "https://xxxxx@h.example/x"},
		{"masked already", "https://xxxxx:xxxxx@h.example/x", "https://xxxxx:xxxxx@h.example/x"},
		{"not absolute", "/x", "/x"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := CanonicalURL(c.in); got != c.want {
				t.Errorf("CanonicalURL(%q) = %q, want %q", c.in, got, c.want)
			}
			_, err := NewSet(FromLock, "reprover.lock.json", []Pin{{URL: c.in, SHA256: sumA}})
			var nc *NotCanonicalError
			switch {
			case c.in == c.want && err != nil:
				t.Errorf("NewSet(%q): %v", c.in, err)
			case c.in != c.want && !errors.As(err, &nc):
				t.Errorf("NewSet(%q): %v, want a *NotCanonicalError", c.in, err)
			case err != nil && (!strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "reprover.lock.json") || strings.Contains(err.Error(), "u:p@")):
				t.Errorf("NewSet(%q): %v, want it to name the file and %s, never the credentials", c.in, err, c.want)
			}
		})
	}
}

// FuzzCanonicalURL: CanonicalURL is a fixed point of itself, so a URL as
// BuildKit's proxy recorded it is never refused as not canonical.
func FuzzCanonicalURL(f *testing.F) {
	for _, s := range []string{"https://u:p@h.example:443/a%2Fb?q=1#f", "http://[fd00::1]:80/x", "HTTP://H/x", "http://h/a b", "http://h/%zz", "http://h:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := CanonicalURL(s)
		if again := CanonicalURL(c); again != c {
			t.Fatalf("CanonicalURL(%q) = %q, and again %q", s, c, again)
		}
	})
}
