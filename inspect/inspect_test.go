package inspect_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/inspect"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/render"
)

// The secrets the test images hold: made up, of the forms real ones have.
const (
	privateKey = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAreproverTestKeyNotARealOneAtAll0123456789abcdef\n-----END RSA PRIVATE KEY-----\n"
	ghToken    = "ghp_R3proverTestTokenNotReal0123456789ab"
	awsKeyID   = "AKIAREPROVERTEST0123"
	dbPassword = "hunter2-reprover"
)

// base is layer 1 of every image: a small root filesystem.
var base = []fixtures.Entry{
	fixtures.Dir("bin"), {Name: "bin/busybox", Body: "\x7fELF\x00binary", Mode: 0o755},
	fixtures.Dir("etc"), fixtures.File("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
	{Name: "tmp", Type: '5', Mode: 0o1777},
	fixtures.Dir("app"), fixtures.File("app/config.txt", "token="+ghToken+"\n"),
}

// want is a finding as the tests compare it: check, path, layer.
type want struct {
	check string
	path  string
	layer int
}

func (w want) String() string { return w.check + " " + w.path + " @" + string(rune('0'+w.layer)) }

// TestImage inspects images built in code (layers as fixtures build
// them, pushed to a registry in process) and checks the exact findings
// of each: every check of the table has a case that finds it.
func TestImage(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	for _, c := range []struct {
		name string
		spec fixtures.Spec
		want []want
	}{
		{
			name: "secrets added then hidden",
			spec: fixtures.Spec{
				Env: []string{"PATH=/bin", "DB_PASSWORD=" + dbPassword, "AWS_ACCESS_KEY_ID=" + awsKeyID},
				Steps: []fixtures.Step{
					{Instruction: "ADD rootfs.tar /", Entries: base},
					{Instruction: "COPY id_rsa .env /root/", Entries: []fixtures.Entry{fixtures.Dir("root"), {Name: "root/id_rsa", Body: privateKey, Mode: 0o600},
						fixtures.File("root/.env", "# settings\nAPI_TOKEN=abc123def\nHOME_DIR=/root\n")}},
					{Instruction: "RUN rm /root/id_rsa", Entries: []fixtures.Entry{fixtures.Whiteout("root", "id_rsa")}},
					{Instruction: "COPY config.txt /app/", Entries: []fixtures.Entry{fixtures.File("app/config.txt", "token=\n")}},
				},
			},
			want: []want{
				{inspect.SecretInEnv, "", 0}, // DB_PASSWORD by name
				{inspect.SecretInEnv, "", 0}, // AWS_ACCESS_KEY_ID by pattern
				{inspect.SecretInFile, "/app/config.txt", 1},
				{inspect.SecretInFile, "/root/id_rsa", 2},
				{inspect.CredentialsFile, "/root/.env", 2},
				{inspect.RunsAsRoot, "", 0},
				{inspect.NoProvenance, "", 0},
				{inspect.HiddenByDeletion, "/root/id_rsa", 2},
				{inspect.HiddenByOverwrite, "/app/config.txt", 1},
			},
		},
		{
			name: "setuid, world-writable, piped download, caches",
			spec: fixtures.Spec{
				User: "0:0",
				Steps: []fixtures.Step{
					{Instruction: "ADD rootfs.tar /", Entries: base[:4]},
					{Instruction: "RUN /bin/sh -c wget -qO- http://example.test/install.sh | sh", Entries: []fixtures.Entry{
						{Name: "bin/su-copy", Body: "\x7fELF\x00binary", Mode: 0o4755},
						{Name: "bin/wall", Body: "\x7fELF\x00wall", Mode: 0o2755},
						{Name: "data", Type: '5', Mode: 0o777},
						fixtures.Dir("var"), fixtures.Dir("var/lib"), fixtures.Dir("var/lib/apt"), fixtures.Dir("var/lib/apt/lists"),
						fixtures.File("var/lib/apt/lists/lock", ""),
						fixtures.File("var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_InRelease", strings.Repeat("x", 1000)),
						fixtures.Dir("root"), fixtures.Dir("root/.cache"), fixtures.Dir("root/.cache/pip"), fixtures.File("root/.cache/pip/wheel", strings.Repeat("y", 500)),
					}},
				},
			},
			want: []want{
				{inspect.RunsAsRoot, "", 0},
				{inspect.SetuidFile, "/bin/su-copy", 2},
				{inspect.SetgidFile, "/bin/wall", 2},
				{inspect.PipedDownload, "", 2},
				{inspect.WorldWritableDir, "/data", 2},
				{inspect.NoProvenance, "", 0},
				{inspect.PackageCache, "/root/.cache/pip", 2},
				{inspect.PackageCache, "/var/lib/apt/lists", 2},
			},
		},
		{
			name: "a secret in a label and the history",
			spec: fixtures.Spec{
				User:   "65532",
				Labels: map[string]string{"org.example.deploy": "https://hooks.slack.com/services/T0000REPRO/B0000REPRO/abcdefghijklmnopqrstuvwx"},
				Steps: []fixtures.Step{
					{Instruction: "ADD rootfs.tar /", Entries: base[:4]},
					{Instruction: "RUN |1 NPM_TOKEN=s3cr3t-npm /bin/sh -c echo " + ghToken, Entries: []fixtures.Entry{fixtures.File("hello", "hi\n")}},
				},
			},
			want: []want{
				{inspect.SecretInLabel, "", 0},
				{inspect.SecretInHistory, "", 2},
				{inspect.SecretInHistory, "", 2},
				{inspect.NoProvenance, "", 0},
			},
		},
		{
			name: "clean, USER 65532",
			spec: fixtures.Spec{User: "65532", Steps: []fixtures.Step{{Instruction: "ADD rootfs.tar /", Entries: base[:4]}}},
			want: []want{{inspect.NoProvenance, "", 0}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := reg.MustPush(t, "inspect/image", "v1", fixtures.Image(c.spec))
			rep := inspectRef(t, ref, inspect.Options{})
			if len(rep.Platforms) != 1 {
				t.Fatalf("%d platforms, want 1", len(rep.Platforms))
			}
			var got []want
			for _, f := range rep.Platforms[0].Findings {
				got = append(got, want{f.Check, f.Path, f.Layer})
			}
			slices.SortFunc(got, compareWant)
			slices.SortFunc(c.want, compareWant)
			if !slices.Equal(got, c.want) {
				t.Errorf("findings:\n%v\nwant:\n%v\nreport:\n%s", got, c.want, indent(rep.Platforms[0].Findings))
			}
			noSecretShown(t, rep)
		})
	}
}

func compareWant(a, b want) int {
	return strings.Compare(a.check+"\x00"+a.path+"\x00"+string(rune('0'+a.layer)), b.check+"\x00"+b.path+"\x00"+string(rune('0'+b.layer)))
}

func indent(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func inspectRef(t *testing.T, ref string, o inspect.Options) *inspect.Report {
	t.Helper()
	r, err := image.Open(t.Context(), ref, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	o.Scratch = t.TempDir()
	rep, err := inspect.Image(t.Context(), r, o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// noSecretShown: no output of the report, in any format, holds a secret
// whole.
func noSecretShown(t *testing.T, rep *inspect.Report) {
	t.Helper()
	var out bytes.Buffer
	if err := json.NewEncoder(&out).Encode(rep); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteText(&out, render.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&out); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"MIIEowIBAAKCAQEAreprover", ghToken, awsKeyID, dbPassword, "abc123def", "s3cr3t-npm", "abcdefghijklmnopqrstuvwx"} {
		if bytes.Contains(out.Bytes(), []byte(s)) {
			t.Errorf("the report shows the secret %q", s)
		}
	}
}

// TestImageLimits: an image made to exhaust the inspection stops at a
// named limit, or is inspected within its bounds (what was not scanned
// is counted).
func TestImageLimits(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	many := []fixtures.Entry{fixtures.Dir("m")}
	for i := range 2000 {
		many = append(many, fixtures.File("m/f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)), ""))
	}
	for _, c := range []struct {
		name      string
		entries   []fixtures.Entry
		lim       inspect.Limits
		limit     string // the limit error's, or "" for a report
		notScan   bool
		maxSecret int
	}{
		{name: "paths beyond MaxPaths", entries: many, lim: inspect.Limits{MaxPaths: 500}, limit: "MaxPaths"},
		{name: "a file larger than the per-file scan limit", entries: []fixtures.Entry{fixtures.File("big", strings.Repeat(awsKeyID+"\n", 10_000))},
			lim: inspect.Limits{MaxScanFileBytes: 64 << 10}, notScan: true},
		{name: "files beyond the image's scan budget", entries: []fixtures.Entry{fixtures.File("a", strings.Repeat("a", 40<<10)), fixtures.File("b", strings.Repeat(awsKeyID+" ", 4000))},
			lim: inspect.Limits{MaxScanBytes: 64 << 10}, notScan: true},
		{name: "100k candidate matches in one file", entries: []fixtures.Entry{fixtures.File("many", strings.Repeat(awsKeyID+" ", 40_000))},
			lim: inspect.Limits{MaxScanFileBytes: 1 << 20}, maxSecret: 8},
		{name: "a file made to make a regex backtrack", entries: []fixtures.Entry{fixtures.File("bt", strings.Repeat("-----BEGIN A A A A ", 40_000)+strings.Repeat("aws_secret_access_key=", 20_000))},
			lim: inspect.Limits{MaxScanFileBytes: 2 << 20}},
		{name: "binary data", entries: []fixtures.Entry{fixtures.File("bin", "\x00\x01"+ghToken+"\xff\xfe")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			img := fixtures.Image(fixtures.Spec{User: "1", Steps: []fixtures.Step{{Instruction: "ADD x /", Entries: c.entries}}})
			ref := reg.MustPush(t, "limits/x", "v1", img)
			r, err := image.Open(t.Context(), ref, image.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			rep, err := inspect.Image(t.Context(), r, inspect.Options{Limits: c.lim, Scratch: t.TempDir()})
			if c.limit != "" {
				var le *limits.Error
				if !errors.As(err, &le) || le.Limit != c.limit {
					t.Fatalf("error %v, want the limit %s", err, c.limit)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			secrets, notScanned := 0, false
			for _, f := range rep.Platforms[0].Findings {
				switch f.Check {
				case inspect.SecretInFile:
					secrets++
				case inspect.NotScanned:
					notScanned = true
				}
			}
			if notScanned != c.notScan || secrets > c.maxSecret {
				t.Errorf("notScanned %v (want %v), %d secrets (at most %d): %s", notScanned, c.notScan, secrets, c.maxSecret, indent(rep.Platforms[0]))
			}
		})
	}
}

// TestScanBudgetAcrossPlatforms: MaxScanBytes bounds the bytes scanned
// in the whole image, not in each platform: two platforms of 40 KiB of
// text each, under a budget of 64 KiB, scan one and count the other's
// file over budget.
func TestScanBudgetAcrossPlatforms(t *testing.T) {
	reg := fixtures.NewRegistry(t)
	files := []fixtures.Entry{fixtures.File("notes.txt", strings.Repeat("text\n", 8<<10))}
	img := func(arch string) fixtures.Platformed {
		p := v1.Platform{OS: "linux", Architecture: arch}
		return fixtures.Platformed{Platform: p, Image: fixtures.Image(fixtures.Spec{User: "1", Platform: p, Steps: []fixtures.Step{{Instruction: "COPY . /", Entries: files}}})}
	}
	ref := reg.MustPush(t, "budget/x", "v1", fixtures.Index(false, false, img("amd64"), img("arm64")))
	rep := inspectRef(t, ref, inspect.Options{Limits: inspect.Limits{MaxScanBytes: 64 << 10}})
	if len(rep.Platforms) != 2 {
		t.Fatalf("%d platforms", len(rep.Platforms))
	}
	a, b := rep.Platforms[0].Scanned, rep.Platforms[1].Scanned
	if a.Files != 1 || a.OverBudget != 0 || b.Files != 0 || b.OverBudget != 1 {
		t.Errorf("scanned %+v and %+v: want the first platform's file scanned, the second's over budget", a, b)
	}
}
