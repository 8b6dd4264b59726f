package verify_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/sirupsen/logrus"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

func TestMain(m *testing.M) {
	// BuildKit's client logs through logrus; its warnings (no fsverity
	// here) are noise in test output.
	logrus.SetLevel(logrus.ErrorLevel)
	code := m.Run()
	fixtures.StopBuildkit()
	os.Exit(code)
}

// commitTime is when the test releases are committed and built.
var commitTime = fixtures.ReleaseTime

// world is the test world of one test: a registry with a busybox base, a
// buildkitd, and a way to publish releases.
type world struct {
	t    testing.TB
	reg  *fixtures.Registry
	bk   *builder.Client
	base string // HOST/REPO@sha256:… of the busybox base
}

func newWorld(t testing.TB) *world {
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	c, err := builder.Connect(t.Context(), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	w := &world{t: t, reg: fixtures.NewRegistry(t), bk: c}
	w.base = w.reg.PushBusybox(t)
	return w
}

// publish builds the source at its commit as a release pipeline would and
// pushes it; spec fields not set default to a careful publisher.
func (w *world) publish(dir, dockerfile string, s builder.Spec) (any, string) {
	w.t.Helper()
	s.ContextDir = filepath.Join(dir, s.ContextDir)
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	s.DockerfilePath = filepath.Join(dir, dockerfile)
	s.DockerfileName = dockerfile
	if s.SourceDateEpoch == 0 {
		s.SourceDateEpoch = commitTime.Unix()
	}
	s.OCIMediaTypes = true
	s.OutputDir = filepath.Join(w.t.TempDir(), "published")
	res, err := w.bk.Build(w.t.Context(), s, os.Stderr, "quiet")
	if err != nil {
		w.t.Fatalf("publishing: %v", err)
	}
	x, err := fixtures.FromLayout(s.OutputDir, res.Digest)
	if err != nil {
		w.t.Fatal(err)
	}
	return x, s.OutputDir
}

func (w *world) push(name string, x any) string {
	w.t.Helper()
	ref, err := fixtures.PushAny(w.reg.Host+"/"+name+":release", x)
	if err != nil {
		w.t.Fatal(err)
	}
	return ref
}

// dockerfile is the sample release: a base, a COPY, a RUN.
func (w *world) files(dockerfile string, extra map[string]string) map[string]string {
	files := map[string]string{
		"Dockerfile":    strings.ReplaceAll(dockerfile, "BASE", w.base),
		"app/hello.txt": "hello\n",
		"app/run.sh":    "#!/bin/sh\necho hi\n",
		"README.md":     "sample release\n",
	}
	for k, v := range extra {
		files[k] = v
	}
	return files
}

const sample = "FROM BASE\nCOPY app/ /app/\nRUN echo built > /app/built.txt && chmod 0644 /app/built.txt\nENV APP=1\nCMD [\"/app/run.sh\"]\n"

func TestVerify(t *testing.T) {
	w := newWorld(t)
	type tc struct {
		name         string
		files        map[string]string
		dockerfile   string // path of the Dockerfile in the source
		req          func(r *verify.Request)
		publish      builder.Spec
		unpublished  bool // refused before any build: nothing is published, the request names the base image
		tamper       func(img v1.Image) v1.Image
		asLayout     bool
		wantVerdict  verify.Verdict
		wantPaths    []string // changed paths the report must name
		onlyPaths    bool     // and no others (merged view)
		wantErr      []string // substrings of the error (verdict error)
		wantHint     string
		wantEncoding string
	}
	tests := []tc{
		{name: "deterministic", files: w.files(sample, nil), wantVerdict: verify.Reproducible},
		{name: "time written into a file", files: w.files("FROM BASE\nCOPY app/ /app/\nRUN mkdir -p /out && sleep 1 && date > /out/when\n", nil),
			wantVerdict: verify.Mismatch, wantPaths: []string{"/out/when"}, onlyPaths: true},
		{name: "injected file", files: w.files(sample, nil), tamper: func(img v1.Image) v1.Image {
			return mustRebuild(t, img, func(ls []v1.Layer) ([]v1.Layer, error) {
				l, err := fixtures.AppendToLayer(ls[1], fixtures.Gzip, fixtures.File("app/.hook.so", "evil\n"))
				ls[1] = l
				return ls, err
			}, nil)
		}, wantVerdict: verify.Mismatch, wantPaths: []string{"/app/.hook.so"}, wantHint: "injected after the build"},
		{name: "injected env", files: w.files(sample, nil), tamper: func(img v1.Image) v1.Image {
			return mustRebuild(t, img, nil, func(cf *v1.ConfigFile) { cf.Config.Env = append(cf.Config.Env, "LD_PRELOAD=/x.so") })
		}, wantVerdict: verify.Mismatch, wantHint: "LD_PRELOAD"},
		{name: "changed mode", files: w.files(sample, nil), tamper: func(img v1.Image) v1.Image {
			return mustRebuild(t, img, func(ls []v1.Layer) ([]v1.Layer, error) {
				l, err := fixtures.AppendToLayer(ls[1], fixtures.Gzip, fixtures.Entry{Name: "app/hello.txt", Body: "hello\n", Mode: 0o4755, ModTime: commitTime})
				ls[1] = l
				return ls, err
			}, nil)
		}, wantVerdict: verify.Mismatch, wantPaths: []string{"/app/hello.txt"}},
		{name: "file hidden by a whiteout", files: w.files(sample, nil), tamper: func(img v1.Image) v1.Image {
			return mustRebuild(t, img, func(ls []v1.Layer) ([]v1.Layer, error) {
				l, err := fixtures.AppendToLayer(ls[1], fixtures.Gzip, fixtures.File("app/payload", "exfiltrate\n"))
				ls[1] = l
				l2, err2 := fixtures.AppendToLayer(ls[2], fixtures.Gzip, fixtures.Whiteout("app", "payload"))
				ls[2] = l2
				return ls, errors.Join(err, err2)
			}, nil)
		}, wantVerdict: verify.Mismatch, wantPaths: []string{"/app/payload"}},
		{name: "recompressed layers", files: w.files(sample, nil), tamper: func(img v1.Image) v1.Image {
			return mustRebuild(t, img, func(ls []v1.Layer) ([]v1.Layer, error) {
				for i := range ls {
					l, err := fixtures.Recompress(ls[i], fixtures.GzipBest)
					if err != nil {
						return nil, err
					}
					ls[i] = l
				}
				return ls, nil
			}, nil)
		}, wantVerdict: compare.Equivalent, wantEncoding: compare.EncCompression},
		{name: "published without SOURCE_DATE_EPOCH", files: w.files(sample, nil), publish: builder.Spec{SourceDateEpoch: -1},
			req:         func(r *verify.Request) { r.SourceDateEpoch = "1740830400" },
			wantVerdict: verify.Mismatch, wantHint: "SOURCE_DATE_EPOCH"},
		{name: "unpinned FROM", files: w.files("FROM busybox:latest\nCOPY app/ /app/\n", nil), unpublished: true,
			wantErr: []string{"Dockerfile:1: unpinned-from"}},
		{name: "ADD without checksum", files: w.files("FROM BASE\nADD https://example.com/tool.tar.gz /opt/\n", nil), unpublished: true,
			wantErr: []string{"Dockerfile:2: add-url-without-checksum"}},
		{name: "RUN needs the network", files: w.files("FROM BASE\nRUN true\nRUN wget -q -O /x http://"+w.reg.Host+"/v2/\n", nil), unpublished: true,
			wantErr: []string{"Dockerfile:3:", "wget"}},
		{name: "unknown commit", files: w.files(sample, nil), req: func(r *verify.Request) { r.Commit = strings.Repeat("e", 40) },
			wantErr: []string{strings.Repeat("e", 40), "commit not found"}},
		{name: "missing image", files: w.files(sample, nil), req: func(r *verify.Request) { r.Image = w.reg.Host + "/nothing/here:v1" },
			wantErr: []string{w.reg.Host + "/nothing/here:v1", "not found"}},
		{name: "multi-stage with target and args", files: w.files("ARG GREETING=hello\nFROM BASE AS build\nARG GREETING\nRUN echo $GREETING > /greeting\nFROM BASE AS release\nCOPY --from=build /greeting /greeting\nFROM BASE AS debug\nRUN echo debug > /debug\n", nil),
			publish: builder.Spec{Target: "release", BuildArgs: map[string]string{"GREETING": "bonjour"}},
			req: func(r *verify.Request) {
				r.Target = "release"
				r.BuildArgs = map[string]string{"GREETING": "bonjour"}
			}, wantVerdict: verify.Reproducible},
		{name: "multi-stage with the wrong build arg", files: w.files("ARG GREETING=hello\nFROM BASE AS build\nARG GREETING\nRUN echo $GREETING > /greeting\nFROM BASE AS release\nCOPY --from=build /greeting /greeting\n", nil),
			publish:     builder.Spec{Target: "release", BuildArgs: map[string]string{"GREETING": "bonjour"}},
			req:         func(r *verify.Request) { r.Target = "release" },
			wantVerdict: verify.Mismatch, wantPaths: []string{"/greeting"}, onlyPaths: true},
		{name: "Dockerfile in a subdirectory", files: map[string]string{"build/Dockerfile": strings.ReplaceAll("FROM BASE\nCOPY app/ /app/\n", "BASE", w.base), "app/a.txt": "a\n"},
			dockerfile: "build/Dockerfile", req: func(r *verify.Request) { r.Dockerfile = "build/Dockerfile" }, wantVerdict: verify.Reproducible},
		{name: "source as a git URL", files: w.files(sample, nil), req: func(r *verify.Request) { r.Source = "file://" + r.Source },
			wantVerdict: verify.Reproducible},
		{name: "published as an OCI layout", files: w.files(sample, nil), asLayout: true, wantVerdict: verify.Reproducible},
		{name: "provenance attached at publish time", files: w.files(sample, nil), publish: builder.Spec{Provenance: true}, wantVerdict: verify.Reproducible},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, commit := fixtures.GitRepo(t, tc.files, commitTime)
			req := verify.Request{Source: dir, Commit: commit, Image: w.base}
			if !tc.unpublished {
				x, layoutDir := w.publish(dir, tc.dockerfile, tc.publish)
				if tc.tamper != nil {
					x = tc.tamper(x.(v1.Image))
				}
				req.Image = w.push("release/"+strings.ToLower(strings.ReplaceAll(tc.name, " ", "-")), x)
				if tc.asLayout {
					req.Image = "oci:" + layoutDir
				}
			}
			if tc.req != nil {
				tc.req(&req)
			}
			rep, err := verify.Run(t.Context(), req, w.bk, verify.Options{Progress: os.Stderr, ProgressMode: "quiet"})
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("verdict %s, want an error", rep.Verdict)
				}
				if rep.Verdict != verify.Error || rep.Error == "" {
					t.Errorf("report verdict %q error %q, want verdict error with the reason", rep.Verdict, rep.Error)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				roundTrip(t, rep)
				return
			}
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if rep.Verdict != tc.wantVerdict {
				t.Errorf("verdict %s, want %s; hints %q", rep.Verdict, tc.wantVerdict, rep.Hints)
			}
			var merged, all []string
			for _, p := range rep.Platforms {
				for _, f := range p.Files {
					merged = append(merged, f.Path)
					all = append(all, f.Path)
				}
				for _, l := range p.Layers {
					for _, f := range l.Files {
						all = append(all, f.Path)
					}
				}
			}
			for _, p := range tc.wantPaths {
				if !slices.Contains(all, p) {
					t.Errorf("report does not name %s; it names %q", p, all)
				}
			}
			if tc.onlyPaths && !slices.Equal(merged, tc.wantPaths) {
				t.Errorf("merged changes %q, want only %q", merged, tc.wantPaths)
			}
			if tc.wantHint != "" && !strings.Contains(strings.Join(rep.Hints, "\n"), tc.wantHint) {
				t.Errorf("hints %q lack %q", rep.Hints, tc.wantHint)
			}
			if tc.wantEncoding != "" && !slices.Contains(rep.Encoding, tc.wantEncoding) {
				t.Errorf("encoding %q lacks %s", rep.Encoding, tc.wantEncoding)
			}
			if tc.publish.Provenance {
				if b := rep.Build; b == nil || len(b.Provenance) == 0 {
					t.Errorf("the publisher's provenance was not read: %+v", rep.Build)
				}
				key, err := attest.GenerateKey(filepath.Join(t.TempDir(), "k"), attest.Ed25519)
				if err != nil {
					t.Fatal(err)
				}
				envs, err := verify.Attestations(t.Context(), rep, req, key, verify.AttestOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var env struct{ Payload string }
				json.Unmarshal(envs[0], &env)
				payload, _ := base64.StdEncoding.DecodeString(env.Payload)
				if !strings.Contains(string(payload), `"inputAttestations"`) {
					t.Errorf("the verification summary lists no input attestation: %s", payload)
				}
			}
			if rep.Source == nil || rep.Source.Commit != commit || rep.Published == nil || rep.Rebuilt == nil || rep.Build == nil || rep.SourceDateEpoch == nil {
				t.Errorf("report lacks source, published, rebuilt, build or sourceDateEpoch: %+v", rep)
			}
			// Where the time went; a reproducible rebuild reads no layer.
			if tm := rep.Timings; tm == nil || tm.BuildSeconds <= 0 || tm.LayersRead+tm.LayersSkipped != layerCount(rep) ||
				(rep.Verdict == verify.Reproducible && tm.LayersRead != 0) {
				t.Errorf("timings %+v, want the build's time and %d layers in all (none read when reproducible)", tm, layerCount(rep))
			}
			roundTrip(t, rep)
		})
	}
}

func layerCount(rep *verify.Report) int {
	n := 0
	for _, p := range rep.Platforms {
		n += len(p.Layers)
	}
	return n
}

// TestVerifyTwoPlatforms: a release for linux/amd64 and linux/386 whose
// published index has only its 386 image tampered: that platform is a
// mismatch naming the file, the other is reproducible.
func TestVerifyTwoPlatforms(t *testing.T) {
	w := newWorld(t)
	amd, err := fixtures.Busybox(fixtures.BusyboxPath, v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	i386, err := fixtures.Busybox(fixtures.Busybox386Path(), v1.Platform{OS: "linux", Architecture: "386"})
	if err != nil {
		t.Fatal(err)
	}
	base := w.reg.MustPush(t, "base/busybox-multi", "1", fixtures.Index(false, false,
		fixtures.Platformed{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Image: amd},
		fixtures.Platformed{Platform: v1.Platform{OS: "linux", Architecture: "386"}, Image: i386}))
	files := map[string]string{
		"Dockerfile":    "FROM " + base + "\nCOPY app/ /app/\nRUN uname -m > /app/arch\n",
		"app/hello.txt": "hello\n",
	}
	dir, commit := fixtures.GitRepo(t, files, commitTime)
	x, _ := w.publish(dir, "", builder.Spec{Platforms: []string{"linux/amd64", "linux/386"}})
	idx, ok := x.(v1.ImageIndex)
	if !ok {
		t.Fatalf("a two-platform build gave %T, want an index", x)
	}
	tampered, err := fixtures.MapIndex(idx, func(p v1.Platform, img v1.Image) (v1.Image, error) {
		if p.Architecture != "386" {
			return img, nil
		}
		return fixtures.Rebuild(img, func(ls []v1.Layer) ([]v1.Layer, error) {
			l, err := fixtures.AppendToLayer(ls[len(ls)-2], fixtures.Gzip, fixtures.File("app/cryptominer", "xmrig\n"))
			ls[len(ls)-2] = l
			return ls, err
		}, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := w.push("release/multi", tampered)
	rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref}, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != verify.Mismatch {
		t.Errorf("verdict %s, want mismatch", rep.Verdict)
	}
	got := map[string]verify.Verdict{}
	for _, p := range rep.Platforms {
		got[p.Platform] = p.Verdict
		if p.Platform == "linux/386" && (len(p.Files) != 1 || p.Files[0].Path != "/app/cryptominer") {
			t.Errorf("linux/386 changes %+v, want only /app/cryptominer", p.Files)
		}
	}
	roundTrip(t, rep)
	if got["linux/amd64"] != verify.Reproducible || got["linux/386"] != verify.Mismatch {
		t.Errorf("platform verdicts %v, want amd64 reproducible and 386 mismatch", got)
	}

	// Verifying only linux/amd64 passes for that manifest, and the signed
	// summary must not vouch for the index (whose 386 image is tampered).
	req := verify.Request{Source: dir, Commit: commit, Image: ref, Platforms: []string{"linux/amd64"}}
	rep, err = verify.Run(t.Context(), req, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != verify.Reproducible || len(rep.Platforms) != 1 {
		t.Fatalf("amd64 only: verdict %s on %d platforms", rep.Verdict, len(rep.Platforms))
	}
	key, err := attest.GenerateKey(filepath.Join(t.TempDir(), "k"), attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	envs, err := verify.Attestations(t.Context(), rep, req, key, verify.AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := []*attest.PublicKey{key.Public()}
	indexDigest := ref[strings.LastIndex(ref, "@")+1:]
	if v, _ := attest.Check(t.Context(), envs, indexDigest, keys, 1, attest.Limits{}); v.Passed {
		t.Error("a summary of one platform passes for the whole index")
	}
	if v, _ := attest.Check(t.Context(), envs, rep.Platforms[0].Published, keys, 1, attest.Limits{}); !v.Passed {
		t.Errorf("the verified amd64 manifest does not pass: %s", v.Reason)
	}
}

// TestVerifyEmulatedPlatform: a linux/arm64 release, whose RUN steps run
// under qemu-user-static (installed and registered by make tools), is
// rebuilt for its own platform and verifies as reproducible.
func TestVerifyEmulatedPlatform(t *testing.T) {
	w := newWorld(t)
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	img, err := fixtures.Busybox(fixtures.BusyboxArm64Path(), arm)
	if err != nil {
		t.Fatal(err)
	}
	base := w.reg.MustPush(t, "base/busybox-arm64", "1", img)
	dir, commit := fixtures.GitRepo(t, map[string]string{
		"Dockerfile":    "FROM " + base + "\nCOPY app/ /app/\nRUN uname -m > /app/arch && grep -qx aarch64 /app/arch\n",
		"app/hello.txt": "hello\n",
	}, commitTime)
	x, _ := w.publish(dir, "", builder.Spec{Platforms: []string{"linux/arm64"}})
	ref := w.push("release/arm64", x)
	rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref}, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Verdict != verify.Reproducible || len(rep.Platforms) != 1 || rep.Platforms[0].Platform != "linux/arm64" {
		t.Errorf("verdict %s on %+v, want reproducible on linux/arm64", rep.Verdict, rep.Platforms)
	}
}

func mustRebuild(t *testing.T, img v1.Image, f func([]v1.Layer) ([]v1.Layer, error), cfg func(*v1.ConfigFile)) v1.Image {
	t.Helper()
	out, err := fixtures.Rebuild(img, f, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var reportSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return jsonschema.NewCompiler().Compile(filepath.Join("..", "docs", "report.schema.json"))
})

// roundTrip checks that the report matches the published schema, and
// that the report, written as JSON and read back, is the
// report: nothing (provenance, the comparison's verdicts, config values)
// is lost or changes type on the way.
func roundTrip(t *testing.T, rep *verify.Report) {
	t.Helper()
	roundTripOf(t, rep, verify.ReadReport)
}

// roundTripOf is roundTrip for any report that verify writes and reads.
func roundTripOf[R interface{ WriteJSON(io.Writer) error }](t *testing.T, rep R, read func([]byte) (R, error)) {
	t.Helper()
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	sch, err := reportSchema()
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(doc); err != nil {
		t.Errorf("the report does not match docs/report.schema.json: %v\n%s", err, buf.String())
	}
	back, err := read(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rep) {
		var again bytes.Buffer
		_ = back.WriteJSON(&again)
		t.Errorf("the report read back differs from the report written:\nwritten %+v\nread    %+v\nJSON written:\n%s\nJSON of what was read:\n%s", rep, back, buf.String(), again.String())
	}
}
