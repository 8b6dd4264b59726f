package verify_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// TestVerifyFromImage: an auditor holding only the image digest verifies
// a release whose provenance (or labels) say how it was built; what is
// missing is exit 2 naming the flag that supplies it, and a source only
// the image names is not cloned from this machine unless allowed.
func TestVerifyFromImage(t *testing.T) {
	w := newWorld(t)
	const dockerfile = "ARG V=1\nFROM BASE AS build\nARG V\nRUN echo $V > /v\nFROM BASE AS release\nARG REV=unknown\nLABEL org.opencontainers.image.revision=$REV\nCOPY --from=build /v /v\n"
	dir, commit := fixtures.GitRepo(t, w.files(dockerfile, nil), commitTime)
	vcs := map[string]string{"source": dir, "revision": commit}
	publish := func(name string, s builder.Spec) string {
		s.Target = "release"
		if s.BuildArgs == nil {
			s.BuildArgs = map[string]string{"V": "2"}
		}
		x, _ := w.publish(dir, "", s)
		return w.push("release/from-image-"+name, x)
	}
	maxRef := publish("max", builder.Spec{Provenance: true, ProvenanceMode: "max", VCS: vcs})
	minRef := publish("min", builder.Spec{Provenance: true, ProvenanceMode: "min", VCS: vcs})
	labelRef := publish("labels", builder.Spec{BuildArgs: map[string]string{"V": "2", "REV": commit}})
	bareRef := publish("bare", builder.Spec{})
	for _, tc := range []struct {
		name    string
		req     verify.Request
		want    verify.Verdict
		from    map[string]string // parameter → where it came from
		wantErr []string
		errIs   error
		hint    string
		policy  func(string) error // Options.SourcePolicy
	}{
		{name: "everything from the provenance (mode=max)", req: verify.Request{Image: maxRef, AllowSourceHosts: []string{dir}}, want: verify.Reproducible,
			from: map[string]string{"source": "provenance", "commit": "provenance", "target": "provenance", "buildArgs.V": "provenance", "sourceDateEpoch": "provenance", "dockerfile": "provenance", "context": "default"}},
		{name: "a local source the image names is not cloned unless allowed", req: verify.Request{Image: maxRef},
			wantErr: []string{dir, "AllowSourceHosts"}},
		{name: "the caller's source policy judges a source the image names", req: verify.Request{Image: maxRef, AllowSourceHosts: []string{dir}},
			policy:  func(src string) error { return errors.New("not under sources.allow: " + src) },
			wantErr: []string{"not under sources.allow: " + dir}},
		{name: "mode=min does not record build args", req: verify.Request{Image: minRef, AllowSourceHosts: []string{dir}},
			wantErr: []string{"mode=min", "ARG REV, V", "BuildArgs"}, errIs: verify.ErrMissingParameter},
		{name: "mode=min with the build args given", req: verify.Request{Image: minRef, AllowSourceHosts: []string{dir}, BuildArgs: map[string]string{"V": "2", "REV": "unknown"}},
			want: verify.Reproducible, from: map[string]string{"source": "provenance", "target": "provenance", "buildArgs.V": "flag"}},
		{name: "commit from the label", req: verify.Request{Image: labelRef, Source: dir, Target: "release", BuildArgs: map[string]string{"V": "2", "REV": commit}},
			want: verify.Reproducible, from: map[string]string{"source": "flag", "commit": "label", "target": "flag"}},
		{name: "nothing names the source", req: verify.Request{Image: bareRef},
			wantErr: []string{"give Source"}, errIs: verify.ErrMissingParameter},
		{name: "a flag that contradicts the provenance is a hint", req: verify.Request{Image: maxRef, Source: dir, Target: "build"},
			want: verify.Mismatch, hint: "The target given (build) is not the one the published provenance records (release)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := verify.Run(t.Context(), tc.req, w.bk, verify.Options{ProgressMode: "quiet", SourcePolicy: tc.policy})
			roundTrip(t, rep)
			if len(tc.wantErr) > 0 {
				if err == nil {
					t.Fatalf("verdict %s, want an error", rep.Verdict)
				}
				for _, s := range tc.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if tc.errIs != nil && !errors.Is(err, tc.errIs) {
					t.Errorf("error %v is not %v", err, tc.errIs)
				}
				return
			}
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if rep.Verdict != tc.want {
				t.Errorf("verdict %s, want %s; hints %q", rep.Verdict, tc.want, rep.Hints)
			}
			for name, from := range tc.from {
				if got := rep.Parameters[name]; got.From != from {
					t.Errorf("parameter %s: %+v, want from %s", name, got, from)
				}
			}
			if rep.Source == nil || rep.Source.Commit != commit {
				t.Errorf("source %+v, want commit %s", rep.Source, commit)
			}
			if tc.hint != "" && !strings.Contains(strings.Join(rep.Hints, "\n"), tc.hint) {
				t.Errorf("hints %q lack %q", rep.Hints, tc.hint)
			}
		})
	}
}

// TestVerifyBake: the project's bake file, read from the commit, gives the
// target's Dockerfile, stage and build args as the release used them; a
// variable the release's environment set is given with --bake-var and
// named in the report.
func TestVerifyBake(t *testing.T) {
	w := newWorld(t)
	const dockerfile = "ARG V=1\nFROM BASE AS build\nARG V\nRUN echo $V > /v\nFROM BASE AS release\nCOPY --from=build /v /v\n"
	const bakefile = `variable "VERSION" { default = "1" }
target "base" { dockerfile = "build/Dockerfile" }
target "release" {
  inherits = ["base"]
  target = "release"
  args = { V = "${VERSION}" }
}
group "default" { targets = ["release"] }
`
	const matrixfile = `target "many" {
  matrix = { v = ["1", "2"] }
  name = "many-${v}"
}
`
	files := w.files("", map[string]string{"build/Dockerfile": strings.ReplaceAll(dockerfile, "BASE", w.base), "docker-bake.hcl": bakefile, "ci/matrix.hcl": matrixfile})
	delete(files, "Dockerfile")
	dir, commit := fixtures.GitRepo(t, files, commitTime)
	x, _ := w.publish(dir, "build/Dockerfile", builder.Spec{Target: "release", BuildArgs: map[string]string{"V": "2"}})
	ref := w.push("release/bake", x)
	for _, tc := range []struct {
		name    string
		req     verify.Request
		env     map[string]string
		want    verify.Verdict
		from    map[string]string
		wantErr string
		hint    string
		words   func(string) string
	}{
		{name: "the bake file with the release's variable", req: verify.Request{Image: ref, Source: dir, Commit: commit, Bake: "docker-bake.hcl"}, env: map[string]string{"VERSION": "2"},
			want: verify.Reproducible, from: map[string]string{"dockerfile": "bake", "target": "bake", "buildArgs.V": "bake", "env.VERSION": "environment"},
			hint: `The bake file's variable VERSION was set to "2" (BakeEnv), as the release's environment did.`},
		{name: "the hint in the caller's words", req: verify.Request{Image: ref, Source: dir, Commit: commit, Bake: "docker-bake.hcl"}, env: map[string]string{"VERSION": "2"},
			words: func(p string) string { return "<" + p + ">" },
			want:  verify.Reproducible, hint: `The bake file's variable VERSION was set to "2" (<BakeEnv>), as the release's environment did.`},
		{name: "the variable's default is not what the release used", req: verify.Request{Image: ref, Source: dir, Commit: commit, Bake: "docker-bake.hcl"},
			want: verify.Mismatch, from: map[string]string{"buildArgs.V": "bake"}},
		{name: "a flag wins over the bake file", req: verify.Request{Image: ref, Source: dir, Commit: commit, Bake: "docker-bake.hcl", BuildArgs: map[string]string{"V": "2"}},
			want: verify.Reproducible, from: map[string]string{"target": "bake", "buildArgs.V": "flag"}},
		{name: "a bake file the commit does not have", req: verify.Request{Image: ref, Source: dir, Commit: commit, Bake: "ci/docker-bake.hcl"}, wantErr: "Bake ci/docker-bake.hcl"},
		{name: "matrix is not supported", req: verify.Request{Image: ref, Source: dir, Commit: commit, Bake: "ci/matrix.hcl", BakeTarget: "many"}, wantErr: "ci/matrix.hcl:2:3: unsupported bake feature: matrix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := verify.Run(t.Context(), tc.req, w.bk, verify.Options{ProgressMode: "quiet", BakeEnv: tc.env, Words: tc.words})
			roundTrip(t, rep)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != tc.want {
				t.Errorf("verdict %s, want %s", rep.Verdict, tc.want)
			}
			for name, from := range tc.from {
				if got := rep.Parameters[name]; got.From != from {
					t.Errorf("parameter %s: %+v, want from %s", name, got, from)
				}
			}
			if tc.hint != "" && !slices.Contains(rep.Hints, tc.hint) {
				t.Errorf("hints %q, want %q", rep.Hints, tc.hint)
			}
		})
	}
}
