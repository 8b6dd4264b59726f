package verify_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/verify"
)

// upstream is a download server whose requests are counted, and which
// can be made to answer 410 Gone to everything (the host went away).
type upstream struct {
	files    http.Handler
	requests atomic.Int64
	gone     atomic.Bool
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.requests.Add(1)
	if u.gone.Load() {
		http.Error(w, "gone", http.StatusGone)
		return
	}
	u.files.ServeHTTP(w, r)
}

// TestVerifyKitReplay: a release that ran apt-get update and apt-get
// install through the proxy, pinned by its provenance, and its kit made
// and pushed as a referrer right after (as docs/ci.md's release job does).
// Then the repository's index moves: with the kit (found by auto), the
// rebuild is reproducible with every download as released, served from
// the kit, and the repository saw no request. Then the repository goes
// away: the same. A kit tampered with, a kit of another image and a kit
// lacking a download: an error naming it, never a PASS.
func TestVerifyKitReplay(t *testing.T) {
	w := newWorld(t)
	up := &upstream{}
	rel := publishApt(t, w, "hello", "release/kit", func(h http.Handler) http.Handler { up.files = h; return up })
	dir, commit, repoDir, host, ref := rel.dir, rel.commit, rel.repoDir, rel.host, rel.ref

	// The release job: the kit, from the image's provenance, pushed.
	in, err := verify.ReadKitInputs(t.Context(), ref, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: in.Subject, Name: in.Repository, Pins: in.Pins, Params: in.Params, AllowHosts: []string{host},
		SourceDir: dir, Commit: commit})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	// A verifier's first verification keeps the same kit (--kit-out).
	req := verify.Request{Source: dir, Commit: commit, Image: ref, Network: builder.NetworkProxy, Kit: kit.None, AllowDownloadHosts: []string{host}}
	first, err := verify.Run(t.Context(), req, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil || first.Verdict != verify.Reproducible {
		t.Fatalf("first verification: verdict %s, error %v", first.Verdict, err)
	}
	kept, keptRepo, err := verify.KeepKit(t.Context(), first, req, verify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if kept.Digest() != k.Digest() || keptRepo != in.Repository {
		t.Errorf("kept kit %s in %s, want the release job's %s in %s", kept.Digest(), keptRepo, k.Digest(), in.Repository)
	}
	kept.Close()
	kitRef, err := k.Push(t.Context(), in.Repository, kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	kitDir := filepath.Join(t.TempDir(), "kit")
	if err := k.WriteTo(t.Context(), "oci:"+kitDir); err != nil {
		t.Fatal(err)
	}
	// A kit that lacks the .deb, made while the repository still served it.
	var lacking []pins.Pin
	deb := ""
	for _, p := range in.Pins {
		if strings.HasSuffix(p.URL, ".deb") {
			deb = p.URL
			continue
		}
		lacking = append(lacking, p)
	}
	short, err := kit.Make(t.Context(), kit.MakeOptions{Subject: in.Subject, Name: in.Repository, Pins: lacking, Params: in.Params, AllowHosts: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	shortDir := filepath.Join(t.TempDir(), "short")
	if err := short.WriteTo(t.Context(), "oci:"+shortDir); err != nil {
		t.Fatal(err)
	}
	short.Close()
	// A kit whose .deb blob was tampered with, its digest kept.
	badDir := filepath.Join(t.TempDir(), "bad")
	if err := os.CopyFS(badDir, os.DirFS(kitDir)); err != nil {
		t.Fatal(err)
	}
	debPin, _ := k.Pin(deb)
	blob := filepath.Join(badDir, "blobs", "sha256", debPin.SHA256)
	b, err := os.ReadFile(blob)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(blob, b, 0o644); err != nil {
		t.Fatal(err)
	}

	// The repository's index moves after the release.
	f, err := os.OpenFile(filepath.Join(repoDir, "Packages"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\nPackage: unrelated\nVersion: 1.0\nArchitecture: all\nMaintainer: nobody <nobody@example.org>\nFilename: ./unrelated_1.0_all.deb\nSize: 1\nSHA256: " + strings.Repeat("0", 64) + "\nDescription: a package published after the release\n"); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// A service's store of kits, holding this one (service.storeKit).
	kitStore := t.TempDir()
	if err := k.WriteTo(t.Context(), "oci-archive:"+verify.StoredKitPath(kitStore, in.Subject.Digest.String())); err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, where string, store ...string) (*verify.Report, error) {
		t.Helper()
		before := up.requests.Load()
		rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: builder.NetworkProxy, Kit: where},
			w.bk, verify.Options{ProgressMode: "quiet", ReplayAddr: net.JoinHostPort(host, "0"), KitDir: strings.Join(store, "")})
		if n := up.requests.Load() - before; n != 0 {
			t.Errorf("the repository got %d request(s) during a replay", n)
		}
		return rep, err
	}
	for _, c := range []struct {
		name, where string
		gone        bool
		store       string
	}{
		{"the index moved, the kit found by auto", "", false, ""},
		{"the repository gone, the kit as a layout", "oci:" + kitDir, true, ""},
		{"the kit by its reference", kitRef, true, ""},
		{"the kit kept in a store of kits", "", true, kitStore},
	} {
		t.Run(c.name, func(t *testing.T) {
			up.gone.Store(c.gone)
			rep, err := run(t, c.where, c.store)
			if err != nil || rep.Verdict != verify.Reproducible {
				t.Fatalf("verdict %s, error %v: want reproducible from the kit", rep.Verdict, err)
			}
			roundTrip(t, rep)
			if !rep.InputsAsReleased() || !rep.Verified(true) {
				t.Errorf("inputs %s: want every download as released, verified under strict", rep.Build.Inputs)
			}
			kitUse := rep.Build.Kit
			if kitUse == nil || kitUse.Digest != k.Digest().String() || kitUse.Served != len(in.Pins) || kitUse.Downloads != len(in.Pins) {
				t.Fatalf("build.kit %+v: want kit %s serving all %d pinned downloads", kitUse, k.Digest(), len(in.Pins))
			}
			for _, d := range rep.Build.Downloads {
				if d.State == string(pins.StatePinned) && !d.FromKit {
					t.Errorf("download %s: pinned but not from the kit", d.URL)
				}
			}
			wantFrom := c.where
			switch {
			case c.store != "":
				wantFrom = "oci-archive:" + verify.StoredKitPath(kitStore, in.Subject.Digest.String())
			case c.where == "":
				wantFrom = kitRef // the referrer
			}
			if kitUse.From != wantFrom {
				t.Errorf("kit from %q, want %q", kitUse.From, wantFrom)
			}
			if !strings.Contains(kitUse.String(), "no upstream reached") {
				t.Errorf("kit line %q", kitUse.String())
			}
			levels := rep.VerifiedLevels(true)
			if !slices.Contains(levels, attest.LevelInputsArchived) || !slices.Contains(levels, attest.LevelDownloadsPinned) {
				t.Errorf("verified levels %v: want %s and %s", levels, attest.LevelInputsArchived, attest.LevelDownloadsPinned)
			}
		})
	}
	up.gone.Store(true)
	for _, c := range []struct{ name, where, say string }{
		{"a kit lacking the .deb", "oci:" + shortDir, "lacks 1 pinned download(s): " + deb},
		{"a kit whose .deb was tampered with", "oci:" + badDir, deb},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := run(t, c.where)
			if !errors.Is(err, verify.ErrKit) || !strings.Contains(err.Error(), c.say) || rep.Verdict != verify.Error {
				t.Fatalf("verdict %s, err %v: want an error of the kit naming %q", rep.Verdict, err, c.say)
			}
		})
	}
	t.Run("no kit, the repository gone", func(t *testing.T) {
		rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: builder.NetworkProxy, Kit: kit.None, AllowDownloadHosts: []string{host}},
			w.bk, verify.Options{ProgressMode: "quiet"})
		if err == nil || rep.Verdict != verify.Error {
			t.Fatalf("verdict %s, err %v: want an error (the repository is gone)", rep.Verdict, err)
		}
	})
}

// TestVerifyKitAutoUnreadable: a referrer of the kit's artifact type that
// is not a kit (anyone who can push to the repository can attach one) is
// no kit when nobody named it: the verification goes on as without one,
// and a hint says why; named with --kit, it is an error naming it.
func TestVerifyKitAutoUnreadable(t *testing.T) {
	w := newWorld(t)
	dir, commit := fixtures.GitRepo(t, w.files(sample, nil), commitTime)
	x, _ := w.publish(dir, "", builder.Spec{})
	ref := w.push("release/kit-garbage", x)
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	garbage := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":%q,`+
		`"config":{"mediaType":%q,"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},`+
		`"layers":[],"subject":{"mediaType":%q,"digest":%q,"size":%d}}`, kit.ArtifactType, kit.ConfigMediaType, desc.MediaType, desc.Digest, desc.Size)
	if err := remote.WriteLayer(d.Repository, static.NewLayer([]byte("{}"), kit.ConfigMediaType)); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(garbage))
	if err := remote.Put(d.Repository.Digest("sha256:"+hex.EncodeToString(sum[:])), rawManifest(garbage)); err != nil {
		t.Fatal(err)
	}
	req := verify.Request{Source: dir, Commit: commit, Image: ref}
	rep, err := verify.Run(t.Context(), req, w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil || rep.Verdict != verify.Reproducible || rep.Build.Kit != nil {
		t.Fatalf("verdict %s, error %v, kit %+v: want reproducible without the kit", rep.Verdict, err, rep.Build.Kit)
	}
	if !slices.ContainsFunc(rep.Hints, func(h string) bool { return strings.HasPrefix(h, "The image's kit was not used: ") }) {
		t.Errorf("hints %q: want one saying the kit was not used", rep.Hints)
	}
	req.Kit = d.Repository.Digest("sha256:" + hex.EncodeToString(sum[:])).String()
	if rep, err := verify.Run(t.Context(), req, w.bk, verify.Options{ProgressMode: "quiet"}); err == nil || !strings.Contains(err.Error(), "kit") || rep.Verdict != verify.Error {
		t.Fatalf("named: verdict %s, error %v: want an error naming the kit", rep.Verdict, err)
	}
}

// rawManifest is a manifest's bytes, as go-containerregistry's remote.Put
// takes them.
type rawManifest string

func (r rawManifest) RawManifest() ([]byte, error) { return []byte(r), nil }
func (r rawManifest) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}
