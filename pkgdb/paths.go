package pkgdb

import (
	"path"
	"strings"
)

// kind is what a path is to the package databases.
type kind uint8

const (
	notDB        kind = iota
	dpkgStatus        // /var/lib/dpkg/status: every deb package
	dpkgStatusD       // /var/lib/dpkg/status.d/NAME: one package's stanza (distroless)
	dpkgList          // /var/lib/dpkg/info/NAME.list: a package's files
	dpkgMd5sums       // /var/lib/dpkg/info/NAME.md5sums, status.d/NAME.md5sums
	dpkgInfo          // any other file of /var/lib/dpkg/info (scripts, conffiles, …)
	apkInstalled      // /lib/apk/db/installed: every apk package and its files
	apkOther          // the rest of /lib/apk/db
	distRecord        // DIR/NAME-VERSION.dist-info/RECORD: a Python package's files
	distMetadata      // DIR/NAME-VERSION.dist-info/METADATA: its name and version
	distOther         // the rest of a dist-info directory
	npmPackage        // …/node_modules/NAME/package.json (or @SCOPE/NAME)
)

const (
	dpkgDir    = "/var/lib/dpkg"
	dpkgInfoD  = dpkgDir + "/info/"
	dpkgStatD  = dpkgDir + "/status.d/"
	apkDBDir   = "/lib/apk/db/"
	apkDBFile  = apkDBDir + "installed"
	distSuffix = ".dist-info"
)

// classify says what the image path p (absolute, cleaned) is to the
// databases, and the reference of the package it is about: "" for a
// file about every package of its ecosystem (dpkg's status).
func classify(p string) (kind, string) {
	switch {
	case p == dpkgDir+"/status":
		return dpkgStatus, ""
	case strings.HasPrefix(p, dpkgInfoD):
		base := p[len(dpkgInfoD):]
		dot := strings.LastIndexByte(base, '.')
		if strings.Contains(base, "/") || dot <= 0 {
			return notDB, ""
		}
		ref := debRef(base[:dot])
		switch base[dot:] {
		case ".list":
			return dpkgList, ref
		case ".md5sums":
			return dpkgMd5sums, ref
		}
		return dpkgInfo, ref
	case strings.HasPrefix(p, dpkgStatD):
		base := p[len(dpkgStatD):]
		if base == "" || strings.Contains(base, "/") {
			return notDB, ""
		}
		if n, ok := strings.CutSuffix(base, ".md5sums"); ok && n != "" {
			return dpkgMd5sums, debRef(n)
		}
		return dpkgStatusD, debRef(base)
	case p == apkDBFile:
		return apkInstalled, ""
	case strings.HasPrefix(p, apkDBDir) && !strings.Contains(p[len(apkDBDir):], "/"):
		return apkOther, ""
	}
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	if strings.HasSuffix(dir, distSuffix) && len(path.Base(dir)) > len(distSuffix) {
		ref := pypiRef(dir)
		switch base {
		case "RECORD":
			return distRecord, ref
		case "METADATA":
			return distMetadata, ref
		}
		return distOther, ref
	}
	if base == "package.json" && npmPackageDir(dir) == dir {
		return npmPackage, npmRef(dir)
	}
	return notDB, ""
}

// Wanted says whether p is a database file a DB reads (Add): the files
// that name packages, their versions or their files.
func Wanted(p string) bool {
	switch k, _ := classify(p); k {
	case dpkgStatus, dpkgStatusD, dpkgList, dpkgMd5sums, apkInstalled, distRecord, distMetadata, npmPackage:
		return true
	}
	return false
}

// IsDatabase says whether p is a file of a package database: what it
// records changes with the packages it is about.
func IsDatabase(p string) bool {
	k, _ := classify(p)
	return k != notDB
}

func debRef(infoName string) string { return "deb:" + infoName }
func pypiRef(distDir string) string { return "pypi:" + distDir }
func npmRef(pkgDir string) string   { return "npm:" + pkgDir }
func apkRef(name string) string     { return "apk:" + name }

// npmPackageDir is the directory of the innermost npm package whose tree
// holds p (…/node_modules/NAME or …/node_modules/@SCOPE/NAME), or "".
func npmPackageDir(p string) string {
	segs := strings.Split(p, "/")
	for i := len(segs) - 2; i >= 0; i-- {
		if segs[i] != "node_modules" {
			continue
		}
		n := i + 1
		if strings.HasPrefix(segs[n], "@") {
			n++
		}
		if n >= len(segs) || !npmName(segs[n]) || n > i+1 && len(segs[i+1]) < 2 {
			continue
		}
		return strings.Join(segs[:n+1], "/")
	}
	return ""
}

// npmName is a directory name that can be a package's (not .bin, .cache).
func npmName(s string) bool { return s != "" && s[0] != '.' && s[0] != '@' }

// inside joins rel (a path in a database, relative to dir) to dir: false
// when it is empty, has a NUL, or climbs above the image's root.
func inside(dir, rel string) (string, bool) {
	if rel == "" || strings.IndexByte(rel, 0) >= 0 {
		return "", false
	}
	if strings.HasPrefix(rel, "/") {
		return path.Clean(rel), true
	}
	depth := 0
	if d := strings.Trim(dir, "/"); d != "" {
		depth = strings.Count(d, "/") + 1
	}
	up := 0
	for _, s := range strings.Split(path.Clean(rel), "/") {
		if s != ".." {
			break
		}
		up++
	}
	if up > depth {
		return "", false
	}
	return path.Join(dir, rel), true
}
