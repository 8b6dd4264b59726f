package verify_test

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/verify"
)

// TestVerifyPackageChanged: a release installed jq from the apt test
// world's repository; after the release the repository ships a new jq (the
// .deb rebuilt with dpkg-deb: its version bumped, its binary changed, the
// index pointing at it), as a Debian point release does. The rebuild gets
// the new jq: a mismatch, never a pass, whose report names the package and
// both versions at the top, gives /usr/bin/jq and dpkg's records of jq the
// cause package-changed, and links the new .deb download with its digest.
func TestVerifyPackageChanged(t *testing.T) {
	const released, next = "1.6-2.1+deb12u2", "1.6-2.1+deb12u3"
	w := newWorld(t)
	rel := publishApt(t, w, "jq", "release/apt-jq-moved", nil)
	dir, commit, repo, repoDir, host, ref := rel.dir, rel.commit, rel.repo, rel.repoDir, rel.host, rel.ref
	built := time.Now().Unix() // apt writes times to the second
	fixtures.WaitFor(t, 5*time.Second, "the next second on the clock", func() (bool, string, error) {
		return time.Now().Unix() > built, "", nil
	})
	deb := bumpDeb(t, repoDir, "jq", released, next)

	rep, err := verify.Run(t.Context(), verify.Request{Source: dir, Commit: commit, Image: ref, Network: builder.NetworkProxy, AllowDownloadHosts: []string{host}},
		w.bk, verify.Options{ProgressMode: "quiet"})
	if err != nil || rep.Verdict != verify.Mismatch || rep.Verified(false) {
		t.Fatalf("verdict %s, error %v: want a mismatch, the rebuild got another jq", rep.Verdict, err)
	}
	roundTrip(t, rep)
	debURL := "http://" + repo + "/./" + strings.ReplaceAll(filepath.Base(deb), "+", "%2b") // as apt asks for it
	p := rep.Platforms[0]
	releasedURL := "http://" + repo + "/./jq_" + strings.ReplaceAll(released, "+", "%2b") + "_amd64.deb"
	want := compare.PackageChange{Ecosystem: "deb", Name: "jq", Arch: "amd64", Rebuilt: next, Published: released, Downloads: []compare.Download{
		{URL: debURL, State: "new", SHA256: fileSHA256(t, deb)},
		{URL: releasedURL, State: "missing", Pinned: fileSHA256(t, filepath.Join(repoDir, "jq_"+released+"_amd64.deb"))},
	}}
	if len(p.Packages) != 1 {
		t.Fatalf("packages %+v, want jq's change only", p.Packages)
	}
	if got := p.Packages[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("jq's change %+v, want %+v", got, want)
	}
	causes := map[string]string{}
	for _, f := range p.Files {
		causes[f.Path] = f.Cause + ": " + f.Evidence
	}
	for path, want := range map[string]string{
		"/usr/bin/jq": "package-changed: package jq (deb, amd64) changed: " + next + " in rebuilt, " + released + " in published; its download " +
			debURL + " is new (sha256:" + fileSHA256(t, deb) + "); its download " + releasedURL + ", the release's (sha256:" + want.Downloads[1].Pinned + "), was not fetched",
		"/var/lib/dpkg/status":          "package-changed: package jq (deb, amd64) changed: " + next,
		"/var/lib/dpkg/info/jq.md5sums": "package-changed: package jq (deb, amd64) changed: " + next,
	} {
		if !strings.HasPrefix(causes[path], want) {
			t.Errorf("%s: %q, want %q", path, causes[path], want)
		}
	}
	var txt bytes.Buffer
	if err := rep.WriteText(&txt, compare.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	summary := "1 package changed (rebuilt → published): jq " + next + " → " + released
	if top, _, _ := strings.Cut(txt.String(), "\nplatform"); !strings.Contains(top, summary) {
		t.Errorf("the text does not say %q above the platforms:\n%s", summary, txt.String())
	}
}

// bumpDeb rebuilds the repository's NAME_OLD_amd64.deb as version next
// (dpkg-deb -R, DEBIAN/control's Version and the first binary of
// usr/bin changed, its md5sums with it, dpkg-deb -b, in a scratch
// directory), puts it in the repository beside the old one, and points
// the index at it; it returns the new .deb's path.
func bumpDeb(t *testing.T, repoDir, name, old, next string) string {
	t.Helper()
	tree := filepath.Join(t.TempDir(), "tree")
	run := func(args ...string) {
		if out, err := exec.CommandContext(t.Context(), args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	oldDeb := filepath.Join(repoDir, name+"_"+old+"_amd64.deb")
	run("dpkg-deb", "-R", oldDeb, tree)
	edit := func(path string, f func(string) string) {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(f(string(b))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	edit(filepath.Join(tree, "DEBIAN", "control"), func(s string) string {
		return strings.Replace(s, "\nVersion: "+old+"\n", "\nVersion: "+next+"\n", 1)
	})
	bin := filepath.Join(tree, "usr", "bin", name)
	f, err := os.OpenFile(bin, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("\x00" + next); err != nil { // bytes past the ELF's sections: it still runs
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	binBytes, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	edit(filepath.Join(tree, "DEBIAN", "md5sums"), func(s string) string {
		var out []string
		for _, l := range strings.Split(s, "\n") {
			if strings.HasSuffix(l, "  usr/bin/"+name) {
				l = fmt.Sprintf("%x  usr/bin/%s", md5.Sum(binBytes), name)
			}
			out = append(out, l)
		}
		return strings.Join(out, "\n")
	})
	deb := filepath.Join(repoDir, name+"_"+next+"_amd64.deb")
	run("dpkg-deb", "--root-owner-group", "-b", tree, deb)
	b, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	edit(filepath.Join(repoDir, "Packages"), func(s string) string {
		stanzas := strings.Split(s, "\n\n")
		for i, st := range stanzas {
			if !strings.HasPrefix(strings.TrimLeft(st, "\n"), "Package: "+name+"\n") {
				continue
			}
			var ls []string
			for _, l := range strings.Split(st, "\n") {
				k, _, _ := strings.Cut(l, ": ")
				switch k {
				case "Version":
					l = "Version: " + next
				case "Filename":
					l = "Filename: ./" + filepath.Base(deb)
				case "Size":
					l = fmt.Sprintf("Size: %d", len(b))
				case "MD5sum":
					l = fmt.Sprintf("MD5sum: %x", md5.Sum(b))
				case "SHA1":
					l = fmt.Sprintf("SHA1: %x", sha1.Sum(b))
				case "SHA256":
					l = fmt.Sprintf("SHA256: %x", sha256.Sum256(b))
				}
				ls = append(ls, l)
			}
			stanzas[i] = strings.Join(ls, "\n")
		}
		return strings.Join(stanzas, "\n\n")
	})
	return deb
}
