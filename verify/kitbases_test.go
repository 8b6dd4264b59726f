package verify_test

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/verify"
)

// TestVerifyKitBases: a release FROM a base in a registry of its own, with
// its provenance; its kit made with the base (--with-bases) and pushed as
// a referrer; then the base's registry stopped. On a daemon that never saw
// the base, verify without the kit cannot rebuild (naming the base), and
// with it (auto) the rebuild takes the base from the kit and is
// reproducible, build.kit counting one base.
func TestVerifyKitBases(t *testing.T) {
	w := newWorld(t)
	baseReg := fixtures.StartRegistry(nil)
	defer baseReg.Close()
	img, err := fixtures.Busybox(fixtures.BusyboxPath, v1.Platform{OS: "linux", Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	baseRef := baseReg.MustPush(t, "base/busybox", "1", img)
	files := w.files("", map[string]string{"Dockerfile": strings.ReplaceAll(sample, "BASE", baseRef)})
	dir, commit := fixtures.GitRepo(t, files, commitTime)
	x, _ := w.publish(dir, "", builder.Spec{Provenance: true})
	ref := w.push("release/bases", x)

	// The release job: the kit, with the base the provenance names.
	in, err := verify.ReadKitInputs(t.Context(), ref, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	bases, err := verify.KitBases(t.Context(), ref, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(bases) != 1 || bases[0] != baseRef {
		t.Fatalf("the provenance's bases %q, want %s", bases, baseRef)
	}
	k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: in.Subject, Name: in.Repository, Params: in.Params, Bases: bases})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if _, err := k.Push(t.Context(), in.Repository, kit.Options{}); err != nil {
		t.Fatal(err)
	}
	baseReg.Close()

	d, err := builder.StartDaemon(t.Context(), builder.DaemonOptions{Binary: fixtures.BuildkitdBinary()})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	c, err := d.Connect(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	req := verify.Request{Source: dir, Commit: commit, Image: ref}

	req.Kit = kit.None
	if _, err := verify.Run(t.Context(), req, c, verify.Options{ProgressMode: "quiet"}); err == nil || !strings.Contains(err.Error(), strings.Split(baseRef, "@")[0]) {
		t.Fatalf("without the kit, the base's registry gone: error %v; want one naming the base", err)
	}

	req.Kit = ""
	rep, err := verify.Run(t.Context(), req, c, verify.Options{ProgressMode: "quiet"})
	if err != nil || rep.Verdict != verify.Reproducible {
		t.Fatalf("with the kit: verdict %v, error %v", rep.Verdict, err)
	}
	roundTrip(t, rep)
	if u := rep.Build.Kit; u == nil || u.Bases != 1 || u.Digest != k.Digest().String() {
		t.Errorf("build.kit %+v, want kit %s with 1 base", u, k.Digest())
	} else if s := u.String(); !strings.Contains(s, "1 base image(s) served from it") {
		t.Errorf("the kit's line %q does not count the base", s)
	}
}
