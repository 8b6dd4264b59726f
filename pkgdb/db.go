package pkgdb

import (
	"cmp"
	"fmt"
	"path"

	"github.com/reprover/reprover/internal/limits"
)

// Ecosystem is a kind of package, named as package URLs (purl) name it.
type Ecosystem string

// The ecosystems a DB reads.
const (
	Deb  Ecosystem = "deb"  // dpkg
	Apk  Ecosystem = "apk"  // Alpine's apk
	PyPI Ecosystem = "pypi" // Python dist-info
	Npm  Ecosystem = "npm"  // node_modules
)

// Package is one installed package.
type Package struct {
	Ecosystem Ecosystem
	Name      string
	Version   string
	// Arch is a deb's or apk's architecture ("" for the others).
	Arch string
	// Where is, for Python and npm, the directory it is installed in
	// (site-packages, node_modules/NAME): an image may hold several.
	Where string
}

// key is what makes two packages the same package in two images.
func (p Package) key() string {
	return string(p.Ecosystem) + "\x00" + p.Name + "\x00" + p.Arch + "\x00" + p.Where
}

// DB is what an image's package databases say: its packages, and the
// packages that own its files. Add each database file (Wanted), then ask.
type DB struct {
	lim   Limits
	files int
	bytes int64
	// pkgs are the packages by reference: "deb:NAME" and
	// "deb:NAME:ARCH" (dpkg's info files use either), "apk:NAME",
	// "pypi:DIST-INFO-DIR", "npm:PACKAGE-DIR".
	pkgs map[string]Package
	// owner is the reference of the first package whose file list names
	// each path.
	owner map[string]string
	// broken are the ecosystems a database file of could not be read:
	// their packages are not compared (Diff).
	broken map[Ecosystem]error
}

// New returns an empty DB bounded by lim (zero fields: DefaultLimits).
func New(lim Limits) *DB {
	return &DB{lim: lim.WithDefaults(), pkgs: map[string]Package{}, owner: map[string]string{}, broken: map[Ecosystem]error{}}
}

// Add reads one database file of the image, content being the file at
// the image path p. A file that is no database's is ignored; one that
// cannot be read, or is over a limit, is an error naming it, and sets
// its ecosystem aside (Broken).
func (db *DB) Add(p string, content []byte) error {
	k, ref := classify(p)
	eco := ecosystemOf(k)
	if eco == "" || !Wanted(p) {
		return nil
	}
	err := db.add(p, k, ref, content)
	if err != nil {
		db.broken[eco] = cmp.Or(db.broken[eco], err)
	}
	return err
}

func (db *DB) add(p string, k kind, ref string, b []byte) error {
	db.files++
	if db.files > db.lim.MaxFiles {
		return &limits.Error{What: "package database files", Limit: "MaxFiles", Max: int64(db.lim.MaxFiles), Got: int64(db.files)}
	}
	if n := int64(len(b)); n > db.lim.MaxFileBytes {
		return &limits.Error{What: p, Limit: "MaxFileBytes", Max: db.lim.MaxFileBytes, Got: n}
	}
	db.bytes += int64(len(b))
	if db.bytes > db.lim.MaxTotalBytes {
		return &limits.Error{What: "package database files", Limit: "MaxTotalBytes", Max: db.lim.MaxTotalBytes, Got: db.bytes}
	}
	switch k {
	case dpkgStatus, dpkgStatusD:
		pkgs, err := parseDpkgStatus(p, b, k == dpkgStatusD)
		if err != nil {
			return err
		}
		for _, pk := range pkgs {
			// dpkg names a package's info files NAME or, for a
			// Multi-Arch: same one, NAME:ARCH; either finds it.
			if err := db.addPackage(debRef(pk.Name), pk); err != nil {
				return err
			}
			if pk.Arch != "" {
				if err := db.addPackage(debRef(pk.Name+":"+pk.Arch), pk); err != nil {
					return err
				}
			}
		}
	case dpkgList:
		files, err := parseDpkgList(p, b)
		if err != nil {
			return err
		}
		return db.own(files, ref)
	case dpkgMd5sums:
		files, err := parseDpkgMd5sums(p, b)
		if err != nil {
			return err
		}
		return db.own(files, ref)
	case apkInstalled:
		entries, err := parseApkInstalled(p, b)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if err := db.addPackage(apkRef(e.Name), e.Package); err != nil {
				return err
			}
			if err := db.own(e.Files, apkRef(e.Name)); err != nil {
				return err
			}
		}
	case distRecord:
		dir := path.Dir(p)
		files, err := parseRecord(p, distSite(dir), b)
		if err != nil {
			return err
		}
		return db.own(files, ref)
	case distMetadata:
		name, version, err := parseMetadata(p, b)
		if err != nil {
			return err
		}
		return db.addPackage(ref, Package{Ecosystem: PyPI, Name: name, Version: version, Where: distSite(path.Dir(p))})
	case npmPackage:
		name, version, err := parsePackageJSON(p, b, db.lim.MaxJSONDepth)
		if err != nil || name == "" {
			return err
		}
		return db.addPackage(ref, Package{Ecosystem: Npm, Name: name, Version: version, Where: path.Dir(p)})
	}
	return nil
}

func (db *DB) addPackage(ref string, p Package) error {
	if _, ok := db.pkgs[ref]; !ok && len(db.pkgs) >= db.lim.MaxPackages {
		return &limits.Error{What: "packages", Limit: "MaxPackages", Max: int64(db.lim.MaxPackages), Got: int64(len(db.pkgs) + 1)}
	}
	db.pkgs[ref] = p
	return nil
}

// own records ref as the owner of files that have none yet.
func (db *DB) own(files []string, ref string) error {
	for _, f := range files {
		if _, ok := db.owner[f]; ok {
			continue
		}
		if len(db.owner) >= db.lim.MaxOwnedPaths {
			return &limits.Error{What: "paths of package file lists", Limit: "MaxOwnedPaths", Max: int64(db.lim.MaxOwnedPaths), Got: int64(len(db.owner) + 1)}
		}
		db.owner[f] = ref
	}
	return nil
}

func ecosystemOf(k kind) Ecosystem {
	switch k {
	case dpkgStatus, dpkgStatusD, dpkgList, dpkgMd5sums, dpkgInfo:
		return Deb
	case apkInstalled, apkOther:
		return Apk
	case distRecord, distMetadata, distOther:
		return PyPI
	case npmPackage:
		return Npm
	}
	return ""
}

// SetAside records that the database file p could not be read (err, a
// limit the caller holds it to): its ecosystem is not compared.
func (db *DB) SetAside(p string, err error) {
	k, _ := classify(p)
	if eco := ecosystemOf(k); eco != "" && err != nil {
		db.broken[eco] = cmp.Or(db.broken[eco], err)
	}
}

// Broken returns the error that set eco's databases aside, if any.
func (db *DB) Broken(eco Ecosystem) error { return db.broken[eco] }

// Owner returns the package that owns the image path p: the first whose
// file list names it (dpkg's .list and .md5sums, apk's installed,
// Python's RECORD), else the npm package whose directory holds it.
func (db *DB) Owner(p string) (Package, bool) {
	if ref, ok := db.owner[p]; ok {
		if pk, ok := db.pkgs[ref]; ok {
			return pk, true
		}
	}
	if dir := npmPackageDir(p); dir != "" {
		if pk, ok := db.pkgs[npmRef(dir)]; ok {
			return pk, true
		}
	}
	return Package{}, false
}

// Packages returns every package, once each.
func (db *DB) Packages() []Package {
	seen := map[string]bool{}
	var out []Package
	for _, p := range db.pkgs {
		if k := p.key(); !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	sortPackages(out)
	return out
}

// String names a package for people: "jq 1.6-2.1+deb12u3 (deb, amd64)".
func (p Package) String() string {
	s := fmt.Sprintf("%s %s (%s", p.Name, p.Version, p.Ecosystem)
	if p.Arch != "" {
		s += ", " + p.Arch
	}
	if p.Where != "" {
		s += ", in " + p.Where
	}
	return s + ")"
}
