package pkgdb

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprover/reprover/internal/limits"
)

// image is where each testdata file sits in the image the tests make:
// dpkg's, apk's, Python's and npm's databases as the tools write them
// (copied from a Debian 12 system; apk's written as Alpine's apk does).
var image = map[string]string{
	"/var/lib/dpkg/status":                                                              "dpkg/status",
	"/var/lib/dpkg/info/jq.list":                                                        "dpkg/info/jq.list",
	"/var/lib/dpkg/info/jq.md5sums":                                                     "dpkg/info/jq.md5sums",
	"/var/lib/dpkg/info/libjq1:amd64.list":                                              "dpkg/info/libjq1_amd64.list",
	"/var/lib/dpkg/info/libjq1:amd64.md5sums":                                           "dpkg/info/libjq1_amd64.md5sums",
	"/var/lib/dpkg/info/libonig5:amd64.list":                                            "dpkg/info/libonig5_amd64.list",
	"/var/lib/dpkg/info/adduser.list":                                                   "dpkg/info/adduser.list",
	"/usr/lib/python3/dist-packages/blinker-1.5.dist-info/RECORD":                       "python/blinker-1.5.dist-info/RECORD",
	"/usr/lib/python3/dist-packages/blinker-1.5.dist-info/METADATA":                     "python/blinker-1.5.dist-info/METADATA",
	"/usr/lib/node_modules/npm/node_modules/util-deprecate/package.json":                "npm/node_modules/util-deprecate/package.json",
	"/usr/lib/node_modules/npm/node_modules/@isaacs/string-locale-compare/package.json": "npm/node_modules/@isaacs/string-locale-compare/package.json",
}

func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// load makes a DB of the test image, with edit applied to each file
// (what an edit breaks is then in the DB's Broken).
func load(t *testing.T, edit func(p string, b []byte) []byte) *DB {
	t.Helper()
	db := New(Limits{})
	for p, f := range image {
		if !Wanted(p) {
			t.Fatalf("%s is not wanted", p)
		}
		b := testdata(t, f)
		if edit != nil {
			b = edit(p, b)
		}
		if err := db.Add(p, b); err != nil && edit == nil {
			t.Fatal(err)
		}
	}
	return db
}

func TestOwner(t *testing.T) {
	db := load(t, nil)
	for _, c := range []struct {
		name, path string
		want       Package
	}{
		{"dpkg .list", "/usr/bin/jq", Package{Deb, "jq", "1.6-2.1+deb12u1", "amd64", ""}},
		{"dpkg multi-arch .list", "/usr/lib/x86_64-linux-gnu/libjq.so.1.0.4", Package{Deb, "libjq1", "1.6-2.1+deb12u1", "amd64", ""}},
		{"dpkg .md5sums", "/usr/share/doc/jq/README", Package{Deb, "jq", "1.6-2.1+deb12u1", "amd64", ""}},
		{"dpkg arch all", "/usr/sbin/adduser", Package{Deb, "adduser", "3.134", "all", ""}},
		{"python RECORD", "/usr/lib/python3/dist-packages/blinker/__init__.py", Package{PyPI, "blinker", "1.5", "", "/usr/lib/python3/dist-packages"}},
		{"npm", "/usr/lib/node_modules/npm/node_modules/util-deprecate/node.js", Package{Npm, "util-deprecate", "1.0.2", "", "/usr/lib/node_modules/npm/node_modules/util-deprecate"}},
		{"npm scoped", "/usr/lib/node_modules/npm/node_modules/@isaacs/string-locale-compare/index.js", Package{Npm, "@isaacs/string-locale-compare", "1.1.0", "", "/usr/lib/node_modules/npm/node_modules/@isaacs/string-locale-compare"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := db.Owner(c.path)
			if !ok || got != c.want {
				t.Errorf("Owner(%s) = %+v, %v; want %+v", c.path, got, ok, c.want)
			}
		})
	}
	apk := New(Limits{})
	if err := apk.Add("/lib/apk/db/installed", testdata(t, "apk/installed")); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]Package{
		"/usr/lib/libonig.so.5.3.0": {Apk, "oniguruma", "6.9.8-r1", "x86_64", ""},
		"/usr/bin/jq":               {Apk, "jq", "1.6-r3", "x86_64", ""},
	} {
		if got, ok := apk.Owner(p); !ok || got != want {
			t.Errorf("apk: Owner(%s) = %+v, %v; want %+v", p, got, ok, want)
		}
	}
	for _, p := range []string{"/etc/hostname", "/usr/lib/node_modules/npm/lib/npm.js", "/usr/lib/node_modules/.bin/x"} {
		if got, ok := db.Owner(p); ok {
			t.Errorf("Owner(%s) = %+v, want none", p, got)
		}
	}
}

// TestDiffExplain: jq and libjq1 move to deb12u2 in B; the files they own
// and the database files about them are explained by their changes, the
// status file by both, and nothing else by either.
func TestDiffExplain(t *testing.T) {
	a := load(t, nil)
	b := load(t, func(p string, b []byte) []byte {
		if p == "/var/lib/dpkg/status" {
			return []byte(strings.ReplaceAll(string(b), "1.6-2.1+deb12u1", "1.6-2.1+deb12u2"))
		}
		return b
	})
	changes := Diff(a, b)
	var got []string
	for _, c := range changes {
		got = append(got, c.A.Name+" "+c.A.Version+" "+c.B.Version)
	}
	if want := []string{"jq 1.6-2.1+deb12u1 1.6-2.1+deb12u2", "libjq1 1.6-2.1+deb12u1 1.6-2.1+deb12u2"}; !slices.Equal(got, want) {
		t.Fatalf("Diff = %q, want %q", got, want)
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{"/usr/bin/jq", []string{"jq"}},
		{"/usr/lib/x86_64-linux-gnu/libjq.so.1", []string{"libjq1"}},
		{"/var/lib/dpkg/status", []string{"jq", "libjq1"}},
		{"/var/lib/dpkg/info/jq.list", []string{"jq"}},
		{"/var/lib/dpkg/info/jq.postinst", []string{"jq"}},
		{"/var/lib/dpkg/info/libjq1:amd64.triggers", []string{"libjq1"}},
		{"/var/lib/dpkg/info/libonig5:amd64.list", nil},
		{"/usr/sbin/adduser", nil},
		{"/lib/apk/db/installed", nil},
		{"/etc/hostname", nil},
	} {
		var names []string
		for _, ch := range Explain(a, b, changes, c.path) {
			names = append(names, ch.Package().Name)
		}
		if !slices.Equal(names, c.want) {
			t.Errorf("Explain(%s) = %q, want %q", c.path, names, c.want)
		}
	}
}

// TestDiffOnlyInOne: a package only one image has is a change; an
// ecosystem one image's database of could not be read is not compared.
func TestDiffOnlyInOne(t *testing.T) {
	installed := testdata(t, "apk/installed")
	a := load(t, nil)
	b := load(t, func(p string, b []byte) []byte {
		if strings.HasSuffix(p, "util-deprecate/package.json") {
			return []byte(`{"name": "util-deprecate", "version": "1.0.2", "version": "9.9.9"}`)
		}
		return b
	})
	if err := a.Add("/lib/apk/db/installed", installed); err != nil {
		t.Fatal(err)
	}
	if err := b.Add("/lib/apk/db/installed", installed[:strings.Index(string(installed), "\n\n")+2]); err != nil { // oniguruma only
		t.Fatal(err)
	}
	if err := b.Broken(Npm); err == nil {
		t.Errorf("a package.json with two versions did not set npm aside")
	}
	changes := Diff(a, b)
	if len(changes) != 1 || changes[0].A.Name != "jq" || changes[0].A.Ecosystem != Apk || changes[0].B.Name != "" {
		t.Fatalf("Diff = %+v, want apk's jq only in A", changes)
	}
	// /usr/bin/jq is dpkg's jq's too in this made-up image, which did
	// not change: the first file list that names a path owns it.
	if got := Explain(a, b, changes, "/lib/apk/db/installed"); len(got) != 1 {
		t.Errorf("Explain(/lib/apk/db/installed) = %+v", got)
	}
}

// TestHostile: what an image's author may write in its databases is
// refused by the parser, naming the file and line, or bounded by a
// named limit.
func TestHostile(t *testing.T) {
	small := Limits{MaxFileBytes: 1 << 10, MaxTotalBytes: 4 << 10, MaxFiles: 5, MaxPackages: 2, MaxOwnedPaths: 3, MaxJSONDepth: 8}
	for _, c := range []struct {
		name    string
		files   [][2]string // path, content, added in order
		err     string      // in the last Add's error
		limit   string      // or the limit it names
		noOwner string      // a path no package may own after all
	}{
		{name: "status larger than MaxFileBytes", files: [][2]string{{"/var/lib/dpkg/status", strings.Repeat("Package: a\nVersion: 1\n\n", 100)}}, limit: "MaxFileBytes"},
		{name: "a million stanzas, MaxPackages", files: [][2]string{{"/var/lib/dpkg/status", strings.Repeat("Package: a\nVersion: 1\nStatus: install ok installed\n\nPackage: b\nVersion: 1\nStatus: install ok installed\n\nPackage: c\nVersion: 1\nStatus: install ok installed\n\n", 1)}}, limit: "MaxPackages"},
		{name: "more files than MaxFiles", files: [][2]string{
			{"/n/node_modules/a/package.json", "{}"}, {"/n/node_modules/b/package.json", "{}"}, {"/n/node_modules/c/package.json", "{}"},
			{"/n/node_modules/d/package.json", "{}"}, {"/n/node_modules/e/package.json", "{}"}, {"/n/node_modules/f/package.json", "{}"},
		}, limit: "MaxFiles"},
		{name: "total over MaxTotalBytes", files: [][2]string{
			{"/a/node_modules/x/package.json", `{"d":"` + strings.Repeat("x", 900) + `"}`},
			{"/a/node_modules/y/package.json", `{"d":"` + strings.Repeat("x", 900) + `"}`},
			{"/a/node_modules/z/package.json", `{"d":"` + strings.Repeat("x", 900) + `"}`},
			{"/a/node_modules/w/package.json", `{"d":"` + strings.Repeat("x", 900) + `"}`},
			{"/a/node_modules/v/package.json", `{"d":"` + strings.Repeat("x", 900) + `"}`},
		}, limit: "MaxTotalBytes"},
		{name: "file list over MaxOwnedPaths", files: [][2]string{{"/var/lib/dpkg/info/a.list", "/a\n/b\n/c\n/d\n"}}, limit: "MaxOwnedPaths"},
		{name: "JSON bomb, nested", files: [][2]string{{"/node_modules/x/package.json", strings.Repeat("[", 500) + strings.Repeat("]", 500)}}, err: "/node_modules/x/package.json"},
		{name: "JSON case-variant key", files: [][2]string{{"/node_modules/x/package.json", `{"name":"x","Version":"2","version":"1"}`}}, err: "/node_modules/x/package.json"},
		{name: "status line not a field", files: [][2]string{{"/var/lib/dpkg/status", "Package: a\nVersion: 1\ngarbage\n"}}, err: "/var/lib/dpkg/status:3: not a field"},
		{name: "status stanza without version", files: [][2]string{{"/var/lib/dpkg/status", "Package: a\nStatus: install ok installed\n"}}, err: "/var/lib/dpkg/status:1: a stanza without Package or Version"},
		{name: "list with a relative path", files: [][2]string{{"/var/lib/dpkg/info/a.list", "/usr\n../../etc/passwd\n"}}, err: "a.list:2: not an absolute path"},
		{name: "md5sums climbing out", files: [][2]string{{"/var/lib/dpkg/info/a.md5sums", "d41d8cd98f00b204e9800998ecf8427e  ../../../etc/shadow\n"}}, err: "a.md5sums:1:", noOwner: "/etc/shadow"},
		{name: "RECORD with traversal names", files: [][2]string{{"/usr/lib/python3/site-packages/x-1.dist-info/RECORD", "x/__init__.py,,\n../../../../../../etc/passwd,,\n"}}, err: "RECORD:2: path \"../../../../../../etc/passwd\" is not in the image", noOwner: "/etc/passwd"},
		{name: "RECORD not CSV", files: [][2]string{{"/s/x-1.dist-info/RECORD", "a,\"b\n"}}, err: "/s/x-1.dist-info/RECORD:"},
		{name: "apk file before its directory", files: [][2]string{{"/lib/apk/db/installed", "P:a\nV:1\nR:x\n"}}, err: "installed:3: a file before its directory"},
		{name: "apk file climbing out", files: [][2]string{{"/lib/apk/db/installed", "P:a\nV:1\nF:usr\nR:../etc/passwd\n"}}, err: "installed:4: file"},
		{name: "invalid UTF-8 is data", files: [][2]string{{"/var/lib/dpkg/status", "Package: \xff\xfe\nVersion: 1\nStatus: install ok installed\n"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := New(small)
			var err error
			for _, f := range c.files {
				if err = db.Add(f[0], []byte(f[1])); err != nil {
					break
				}
			}
			var le *limits.Error
			switch {
			case c.limit != "":
				if !errors.As(err, &le) || le.Limit != c.limit {
					t.Errorf("error %v, want the limit %s", err, c.limit)
				}
			case c.err != "":
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("error %v, want one with %q", err, c.err)
				}
			case err != nil:
				t.Errorf("error %v", err)
			}
			if c.noOwner != "" {
				if p, ok := db.Owner(c.noOwner); ok {
					t.Errorf("%s is owned by %+v", c.noOwner, p)
				}
			}
		})
	}
}

func TestCarries(t *testing.T) {
	jq := Package{Ecosystem: Deb, Name: "jq", Version: "1.6-2.1+deb12u1", Arch: "amd64"}
	epoch := Package{Ecosystem: Deb, Name: "libc6", Version: "1:2.36-9", Arch: "amd64"}
	for _, c := range []struct {
		name string
		url  string
		p    Package
		want bool
	}{
		{"deb", "http://deb.debian.org/debian/pool/main/j/jq/jq_1.6-2.1+deb12u1_amd64.deb", jq, true},
		{"deb escaped plus", "http://x/pool/jq_1.6-2.1%2Bdeb12u1_amd64.deb", jq, true},
		{"deb other version", "http://x/pool/jq_1.6-2.1+deb12u2_amd64.deb", jq, false},
		{"deb other arch", "http://x/pool/jq_1.6-2.1+deb12u1_arm64.deb", jq, false},
		{"deb other package", "http://x/pool/libjq1_1.6-2.1+deb12u1_amd64.deb", jq, false},
		{"deb epoch escaped", "http://x/libc6_1%3a2.36-9_amd64.deb", epoch, true},
		{"deb epoch left out", "http://x/libc6_2.36-9_amd64.deb", epoch, true},
		{"deb query ignored", "http://x/jq_1.6-2.1+deb12u1_amd64.deb?x=y", jq, true},
		{"apk", "https://dl-cdn.alpinelinux.org/alpine/v3.18/main/x86_64/jq-1.6-r3.apk", Package{Ecosystem: Apk, Name: "jq", Version: "1.6-r3"}, true},
		{"wheel", "https://files.pythonhosted.org/packages/x/zope_interface-6.0-cp311-cp311-manylinux_2_17_x86_64.whl", Package{Ecosystem: PyPI, Name: "zope.interface", Version: "6.0"}, true},
		{"sdist", "https://files.pythonhosted.org/packages/x/PyYAML-6.0.tar.gz", Package{Ecosystem: PyPI, Name: "PyYAML", Version: "6.0"}, true},
		{"wheel other version", "https://x/blinker-1.6-py3-none-any.whl", Package{Ecosystem: PyPI, Name: "blinker", Version: "1.5"}, false},
		{"npm", "https://registry.npmjs.org/util-deprecate/-/util-deprecate-1.0.2.tgz", Package{Ecosystem: Npm, Name: "util-deprecate", Version: "1.0.2"}, true},
		{"npm scoped", "https://registry.npmjs.org/@isaacs/string-locale-compare/-/string-locale-compare-1.1.0.tgz", Package{Ecosystem: Npm, Name: "@isaacs/string-locale-compare", Version: "1.1.0"}, true},
		{"an index", "http://deb.debian.org/debian/dists/bookworm/main/binary-amd64/Packages.gz", jq, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Carries(c.url, c.p); got != c.want {
				t.Errorf("Carries(%s, %+v) = %v, want %v", c.url, c.p, got, c.want)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		path         string
		wanted, isDB bool
	}{
		{"/var/lib/dpkg/status", true, true},
		{"/var/lib/dpkg/status-old", false, false},
		{"/var/lib/dpkg/info/jq.list", true, true},
		{"/var/lib/dpkg/info/jq.postinst", false, true},
		{"/var/lib/dpkg/info/format", false, false},
		{"/var/lib/dpkg/status.d/base-files", true, true},
		{"/var/lib/dpkg/status.d/base-files.md5sums", true, true},
		{"/lib/apk/db/installed", true, true},
		{"/lib/apk/db/scripts.tar", false, true},
		{"/usr/lib/python3/site-packages/x-1.dist-info/RECORD", true, true},
		{"/usr/lib/python3/site-packages/x-1.dist-info/WHEEL", false, true},
		{"/usr/lib/python3/site-packages/.dist-info/RECORD", false, false},
		{"/app/node_modules/x/package.json", true, true},
		{"/app/node_modules/@s/x/package.json", true, true},
		{"/app/node_modules/x/lib/package.json", false, false},
		{"/app/package.json", false, false},
		{"/app/node_modules/.bin/package.json", false, false},
	} {
		if w, d := Wanted(c.path), IsDatabase(c.path); w != c.wanted || d != c.isDB {
			t.Errorf("%s: Wanted %v, IsDatabase %v; want %v, %v", c.path, w, d, c.wanted, c.isDB)
		}
	}
}
