package compare_test

import (
	"bytes"
	"crypto/md5"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// debStanza is one package of a dpkg status file, as dpkg writes it.
func debStanza(name, version, arch, multi string) string {
	return fmt.Sprintf("Package: %s\nStatus: install ok installed\nPriority: optional\nSection: utils\nInstalled-Size: 100\n"+
		"Maintainer: Debian <debian@example.org>\nArchitecture: %s\nMulti-Arch: %s\nVersion: %s\nDescription: %s\n the package %s\n\n",
		name, arch, multi, version, name, name)
}

func md5sum(s string) string { return fmt.Sprintf("%x", md5.Sum([]byte(s))) }

// debImage is a Debian-like image: a base layer with adduser (the same in
// every image), and a layer that installed jq and libjq1 at version
// (and libonig5 when onig is set), with a file of its own (stamp) and
// dpkg's log.
func debImage(version string, onig bool, stamp string) any {
	base := fixtures.Step{Instruction: "ADD rootfs.tar /", Entries: []fixtures.Entry{
		fixtures.File("var/lib/dpkg/status", debStanza("adduser", "3.134", "all", "foreign")),
		fixtures.File("var/lib/dpkg/info/adduser.list", "/.\n/usr\n/usr/sbin\n/usr/sbin/adduser\n"),
		fixtures.File("usr/sbin/adduser", "#!/usr/bin/perl\n"),
	}}
	status := debStanza("adduser", "3.134", "all", "foreign") + debStanza("jq", version, "amd64", "foreign") + debStanza("libjq1", version, "amd64", "same")
	entries := []fixtures.Entry{
		fixtures.Dir("usr/share/doc/jq"),
		fixtures.File("usr/bin/jq", "jq "+version+"\n"),
		fixtures.File("usr/lib/x86_64-linux-gnu/libjq.so.1.0.4", "libjq "+version+"\n"),
		fixtures.File("usr/share/doc/jq/README", "jq\n"),
		fixtures.File("var/lib/dpkg/info/jq.list", "/.\n/usr\n/usr/bin\n/usr/bin/jq\n/usr/share/doc/jq\n"),
		fixtures.File("var/lib/dpkg/info/jq.md5sums", md5sum("jq "+version+"\n")+"  usr/bin/jq\n"),
		fixtures.File("var/lib/dpkg/info/libjq1:amd64.list", "/.\n/usr\n/usr/lib/x86_64-linux-gnu/libjq.so.1.0.4\n"),
		fixtures.File("var/lib/dpkg/info/libjq1:amd64.md5sums", md5sum("libjq "+version+"\n")+"  usr/lib/x86_64-linux-gnu/libjq.so.1.0.4\n"),
		fixtures.File("var/lib/dpkg/info/libjq1:amd64.triggers", "activate-noawait ldconfig\n"),
		fixtures.File("var/log/dpkg.log", "2026-12-06 "+stamp+" install jq:amd64 "+version+"\n"),
		fixtures.File("app/stamp", "built at 2026-12-06T"+stamp+"Z\n"),
	}
	if onig {
		status += debStanza("libonig5", "6.9.8-1", "amd64", "same")
		entries = append(entries, fixtures.File("usr/lib/x86_64-linux-gnu/libonig.so.5", "onig\n"),
			fixtures.File("var/lib/dpkg/info/libonig5:amd64.list", "/usr/lib/x86_64-linux-gnu/libonig.so.5\n"))
	}
	return fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{base,
		{Instruction: "RUN apt-get install -y jq", Entries: append(entries, fixtures.File("var/lib/dpkg/status", status))}}})
}

// langImage is an image with an npm package and a Python one, at the
// versions given, and a file of its own (stamp).
func langImage(npm, py string) any {
	site := "usr/lib/python3/site-packages/"
	dist := site + "blinker-" + py + ".dist-info/"
	return fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "RUN npm ci && pip install blinker", Entries: []fixtures.Entry{
		fixtures.File("app/node_modules/util-deprecate/package.json", `{"name": "util-deprecate", "version": "`+npm+`", "main": "node.js"}`),
		fixtures.File("app/node_modules/util-deprecate/node.js", "module.exports = require('util').deprecate; // "+npm+"\n"),
		fixtures.File(site+"blinker/__init__.py", "__version__ = '"+py+"'\n"),
		fixtures.File(dist+"METADATA", "Metadata-Version: 2.1\nName: blinker\nVersion: "+py+"\n\nFast, simple object-to-object and broadcast signaling\n"),
		fixtures.File(dist+"RECORD", "blinker/__init__.py,sha256=x,10\nblinker-"+py+".dist-info/METADATA,,\nblinker-"+py+".dist-info/RECORD,,\n"),
		fixtures.File("app/stamp", "built at "+npm+py+"\n"),
	}}}})
}

// TestPackageChanged: two images built in code with dpkg databases, whose
// jq and libjq1 differ (or not), compared through a real registry: the
// packages that changed are listed, summed up at the top of the report
// (text, JSON, page), and name the cause of the files they own and of
// dpkg's records of them; the other files keep their causes.
func TestPackageChanged(t *testing.T) {
	const u3, u4 = "1.6-2.1+deb12u3", "1.6-2.1+deb12u4"
	jqDeb := "http://deb.debian.org/debian/pool/main/j/jq/jq_" + u4 + "_amd64.deb"
	jqDebReleased := "http://deb.debian.org/debian/pool/main/j/jq/jq_" + u3 + "_amd64.deb"
	for _, c := range []struct {
		name      string
		a, b      any
		downloads []compare.Download
		packages  []string          // "name rebuilt published download"
		causes    map[string]string // path → cause: evidence (a prefix)
		hint      string
	}{
		{
			name: "jq and libjq1 moved on",
			a:    debImage(u4, false, "12:00:00"), b: debImage(u3, false, "12:01:35"),
			downloads: []compare.Download{{URL: jqDeb, State: "new", SHA256: strings.Repeat("b", 64)},
				{URL: "http://deb.debian.org/debian/dists/bookworm/InRelease", State: "changed", SHA256: strings.Repeat("c", 64), Pinned: strings.Repeat("d", 64)},
				{URL: jqDebReleased, State: "missing", Pinned: strings.Repeat("e", 64)}},
			packages: []string{"jq " + u4 + " " + u3 + " " + jqDeb + " " + jqDebReleased + " ", "libjq1 " + u4 + " " + u3 + " "},
			causes: map[string]string{
				"/usr/bin/jq": "package-changed: package jq (deb, amd64) changed: " + u4 + " in A, " + u3 + " in B; its download " + jqDeb + " is new (sha256:" + strings.Repeat("b", 64) +
					"); its download " + jqDebReleased + ", the release's (sha256:" + strings.Repeat("e", 64) + "), was not fetched",
				"/usr/lib/x86_64-linux-gnu/libjq.so.1.0.4": "package-changed: package libjq1 (deb, amd64) changed: " + u4 + " in A, " + u3 + " in B",
				"/var/lib/dpkg/status":                     "package-changed: 2 packages changed (A → B): jq " + u4 + " → " + u3 + ", libjq1 " + u4 + " → " + u3,
				"/var/lib/dpkg/info/jq.md5sums":            "package-changed: package jq (deb, amd64)",
				"/var/lib/dpkg/info/libjq1:amd64.md5sums":  "package-changed: package libjq1 (deb, amd64)",
				"/var/log/dpkg.log":                        "package-manager-files:",
				"/app/stamp":                               "timestamp:",
			},
			hint: "2 packages changed (A → B): jq " + u4 + " → " + u3 + ", libjq1 " + u4 + " → " + u3 + " (https://github.com/reprover/reprover/blob/main/docs/causes.md#package-changed).",
		},
		{
			name: "a package only in B",
			a:    debImage(u3, false, "12:00:00"), b: debImage(u3, true, "12:01:35"),
			packages: []string{"libonig5  6.9.8-1 "},
			causes: map[string]string{
				"/usr/lib/x86_64-linux-gnu/libonig.so.5": "package-changed: package libonig5 (deb, amd64) changed: none in A, 6.9.8-1 in B",
				"/var/lib/dpkg/info/libonig5:amd64.list": "package-changed: package libonig5",
				"/var/lib/dpkg/status":                   "package-changed: package libonig5",
				"/app/stamp":                             "timestamp:",
			},
			hint: "1 package changed (A → B): libonig5 none → 6.9.8-1",
		},
		{
			name: "npm and Python packages",
			a:    langImage("1.0.2", "1.5"), b: langImage("1.0.3", "1.5"),
			packages: []string{"util-deprecate 1.0.2 1.0.3 "},
			causes: map[string]string{
				"/app/node_modules/util-deprecate/node.js":      "package-changed: package util-deprecate (npm) changed: 1.0.2 in A, 1.0.3 in B",
				"/app/node_modules/util-deprecate/package.json": "package-changed: package util-deprecate (npm)",
				"/app/stamp": "unknown:",
			},
			hint: "1 package changed (A → B): util-deprecate 1.0.2 → 1.0.3",
		},
		{
			name: "a Python package moved on",
			a:    langImage("1.0.2", "1.5"), b: langImage("1.0.2", "1.6"),
			packages: []string{"blinker 1.5 1.6 "},
			causes: map[string]string{
				"/usr/lib/python3/site-packages/blinker/__init__.py":            "package-changed: package blinker (pypi) changed: 1.5 in A, 1.6 in B",
				"/usr/lib/python3/site-packages/blinker-1.5.dist-info/RECORD":   "package-changed: package blinker (pypi)",
				"/usr/lib/python3/site-packages/blinker-1.6.dist-info/METADATA": "package-changed: package blinker (pypi)",
				"/usr/lib/python3/site-packages/blinker-1.5.dist-info/METADATA": "package-changed: package blinker (pypi)",
				"/usr/lib/python3/site-packages/blinker-1.6.dist-info/RECORD":   "package-changed: package blinker (pypi)",
				"/app/stamp": "unknown:",
			},
			hint: "1 package changed (A → B): blinker 1.5 → 1.6",
		},
		{
			name: "the same packages",
			a:    debImage(u3, false, "12:00:00"), b: debImage(u3, false, "12:01:35"),
			causes: map[string]string{"/var/log/dpkg.log": "package-manager-files:", "/app/stamp": "timestamp:"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := compareImages(t, c.a, c.b, compare.Options{Downloads: c.downloads})
			p := rep.Platforms[0]
			var got []string
			for _, pc := range p.Packages {
				s := pc.Name + " " + pc.Rebuilt + " " + pc.Published + " "
				for _, d := range pc.Downloads {
					s += d.URL + " "
				}
				got = append(got, s)
			}
			if !slices.Equal(got, c.packages) {
				t.Errorf("packages %q, want %q", got, c.packages)
			}
			causes := map[string]string{}
			for _, f := range p.Files {
				causes[f.Path] = f.Cause + ": " + f.Evidence
			}
			for path, want := range c.causes {
				if !strings.HasPrefix(causes[path], want) {
					t.Errorf("%s: %q, want %q", path, causes[path], want)
				}
			}
			for path, cause := range causes {
				if strings.HasPrefix(cause, "package-changed") && c.causes[path] == "" {
					t.Errorf("%s: %q, want another cause", path, cause)
				}
			}
			if strings.HasPrefix(causes["/usr/share/doc/jq"], "package-changed") {
				t.Errorf("a directory is given a package's cause: %s", causes["/usr/share/doc/jq"])
			}
			var txt, page bytes.Buffer
			if err := rep.WriteText(&txt, compare.TextOptions{}); err != nil {
				t.Fatal(err)
			}
			if err := rep.WriteHTML(&page); err != nil {
				t.Fatal(err)
			}
			if c.hint == "" {
				if strings.Contains(txt.String(), "changed (A → B)") || strings.Contains(page.String(), "packages changed") {
					t.Errorf("a summary of packages where none changed:\n%s", txt.String())
				}
				return
			}
			if len(rep.Hints) == 0 || !strings.HasPrefix(rep.Hints[0], c.hint) {
				t.Errorf("first hint %q, want %q", rep.Hints, c.hint)
			}
			if !strings.Contains(strings.Split(txt.String(), "\nplatform")[0], c.hint) {
				t.Errorf("the text does not say %q above the platforms:\n%s", c.hint, txt.String())
			}
			if i, j := strings.Index(page.String(), "<h2>packages changed</h2>"), strings.Index(page.String(), "<h2>linux/amd64"); i < 0 || i > j {
				t.Errorf("the page does not lead with the packages (at %d, the platform at %d)", i, j)
			}
		})
	}
}

// TestPackageDatabaseHostile: a status file that is not one, or over its
// limit, is a finding naming it, and its packages are not compared: no
// file is explained by half a database.
func TestPackageDatabaseHostile(t *testing.T) {
	broken := fixtures.Image(fixtures.Spec{Steps: []fixtures.Step{{Instruction: "RUN x", Entries: []fixtures.Entry{
		fixtures.File("var/lib/dpkg/status", "Package: jq\nnot a field\n"),
		fixtures.File("var/lib/dpkg/info/jq.list", "/usr/bin/jq\n"),
		fixtures.File("usr/bin/jq", "jq 2\n"),
	}}}})
	for _, c := range []struct {
		name    string
		b       any
		lim     compare.Limits
		finding string
	}{
		{"not a status file", broken, compare.Limits{}, "/var/lib/dpkg/status:2: not a field"},
		{"over MaxPackageFileBytes", debImage("1.6-2.1+deb12u3", false, "12:01:35"), compare.Limits{MaxPackageFileBytes: 100}, "exceeds limit MaxPackageFileBytes=100"},
		{"over MaxPackages, named as compare's", debImage("1.6-2.1+deb12u3", false, "12:01:35"), compare.Limits{MaxPackages: 2}, "packages: 3 exceeds limit MaxPackages=2"},
		{"over MaxPackageFiles", debImage("1.6-2.1+deb12u3", false, "12:01:35"), compare.Limits{MaxPackageFiles: 1}, "exceeds limit MaxPackageFiles=1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := compareImages(t, debImage("1.6-2.1+deb12u4", false, "12:00:00"), c.b, compare.Options{Limits: c.lim})
			p := rep.Platforms[0]
			if len(p.Packages) != 0 {
				t.Errorf("packages %+v from a database set aside", p.Packages)
			}
			found := false
			for _, f := range p.Findings {
				found = found || f.Kind == "packageDatabase" && f.Path == "/var/lib/dpkg/status" && strings.Contains(f.Message, c.finding)
			}
			if !found {
				t.Errorf("no finding on the status file with %q: %+v", c.finding, p.Findings)
			}
			for _, f := range p.Files {
				if f.Cause == "package-changed" {
					t.Errorf("%s: %s", f.Path, f.Evidence)
				}
			}
		})
	}
}

// compareImages pushes a and b to a registry in process and compares them.
func compareImages(t *testing.T, a, b any, o compare.Options) *compare.Report {
	t.Helper()
	reg := fixtures.NewRegistry(t)
	var sides [2]*image.Resolved
	for i, x := range []any{a, b} {
		r, err := image.Open(t.Context(), reg.MustPush(t, "packages/x", []string{"a", "b"}[i], x), image.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		sides[i] = r
	}
	rep, err := compare.Images(t.Context(), sides[0], sides[1], o)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestPackageNamesBounded: a version of a megabyte in a status file is
// shown as far as a person reads it, in the report and in the evidence.
func TestPackageNamesBounded(t *testing.T) {
	huge := "1." + strings.Repeat("9", 1<<20)
	rep := compareImages(t, debImage("1.6-2.1+deb12u4", false, "12:00:00"), debImage(huge, false, "12:01:35"), compare.Options{})
	p := rep.Platforms[0]
	if len(p.Packages) != 2 || len(p.Packages[0].Published) > 256 || !strings.HasPrefix(p.Packages[0].Published, "1.999") {
		t.Fatalf("packages: %d, the first's version %d bytes", len(p.Packages), len(p.Packages[0].Published))
	}
	for _, f := range p.Files {
		if len(f.Evidence) > 2048 {
			t.Errorf("%s: evidence of %d bytes", f.Path, len(f.Evidence))
		}
	}
	for _, h := range rep.Hints {
		if len(h) > 4096 {
			t.Errorf("a hint of %d bytes", len(h))
		}
	}
}
