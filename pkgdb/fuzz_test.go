package pkgdb

import (
	"path"
	"strings"
	"testing"
)

// Each parser of an image's databases is fuzzed, seeded with the
// testdata files and hostile cases: whatever the bytes, no panic, and
// every path it returns is an absolute, clean image path.

func checkPaths(t *testing.T, ps []string) {
	for _, p := range ps {
		if !strings.HasPrefix(p, "/") || path.Clean(p) != p || strings.IndexByte(p, 0) >= 0 {
			t.Fatalf("path %q is not an absolute, clean image path", p)
		}
	}
}

func FuzzDpkgStatus(f *testing.F) {
	f.Add(testdata(f, "dpkg/status"), false)
	f.Add([]byte("Package: a\nVersion: 1\n\n\n \n"), true)
	f.Add([]byte(" continuation first\n"), false)
	f.Add([]byte("Package: \xff\nVersion: 1\nStatus: install ok installed\r\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, optional bool) {
		ps, err := parseDpkgStatus("status", b, optional)
		if err != nil {
			return
		}
		for _, p := range ps {
			if p.Name == "" || p.Version == "" || p.Ecosystem != Deb {
				t.Fatalf("package %+v", p)
			}
		}
	})
}

func FuzzDpkgList(f *testing.F) {
	f.Add(testdata(f, "dpkg/info/jq.list"))
	f.Add([]byte("/.\n/usr/../../../etc\n//x/./y/\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := parseDpkgList("x.list", b)
		if err == nil {
			checkPaths(t, ps)
		}
	})
}

func FuzzDpkgMd5sums(f *testing.F) {
	f.Add(testdata(f, "dpkg/info/jq.md5sums"))
	f.Add([]byte("d41d8cd98f00b204e9800998ecf8427e  ../../etc/shadow\nd41d8cd98f00b204e9800998ecf8427e */abs\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := parseDpkgMd5sums("x.md5sums", b)
		if err == nil {
			checkPaths(t, ps)
		}
	})
}

func FuzzApkInstalled(f *testing.F) {
	f.Add(testdata(f, "apk/installed"))
	f.Add([]byte("P:a\nV:1\nF:../..\nR:x\n"))
	f.Add([]byte("P:a\nV:1\nF:usr\nR:a/../../b\n\nP:b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := parseApkInstalled("installed", b)
		if err != nil {
			return
		}
		for _, e := range es {
			checkPaths(t, e.Files)
		}
	})
}

func FuzzRecord(f *testing.F) {
	f.Add(testdata(f, "python/blinker-1.5.dist-info/RECORD"), "/usr/lib/python3/dist-packages")
	f.Add([]byte("../../../../bin/x,,\n/abs,,\n\"a,b\",,\n"), "/usr/lib/python3/site-packages")
	f.Add([]byte("a\x00b,,\n"), "/")
	f.Fuzz(func(t *testing.T, b []byte, site string) {
		if strings.IndexByte(site, 0) >= 0 {
			return // a tar entry's name has no NUL
		}
		site = path.Clean("/" + site)
		ps, err := parseRecord("RECORD", site, b)
		if err == nil {
			checkPaths(t, ps)
		}
	})
}

func FuzzMetadata(f *testing.F) {
	f.Add(testdata(f, "python/blinker-1.5.dist-info/METADATA"))
	f.Add([]byte("Name: x\nVersion: 1\n\nbody: without\nheaders at all\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if n, v, err := parseMetadata("METADATA", b); err == nil && (n == "" || v == "") {
			t.Fatalf("no error and name %q, version %q", n, v)
		}
	})
}

func FuzzPackageJSON(f *testing.F) {
	f.Add(testdata(f, "npm/node_modules/util-deprecate/package.json"))
	f.Add(testdata(f, "npm/node_modules/@isaacs/string-locale-compare/package.json"))
	f.Add([]byte(strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)))
	f.Add([]byte(`{"name":"x","version":"1","version":"2"}`))
	f.Add([]byte("{\"name\":\"\xff\",\"version\":\"1\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = parsePackageJSON("package.json", b, 64)
	})
}
