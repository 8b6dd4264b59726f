package compare

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/layer"
	"github.com/reprover/reprover/pkgdb"
)

// explainPackages reads the package databases of both images (databases:
// their files in each merged view) when files differ, lists the packages
// that changed in pr.Packages, and gives each differing file whose
// package changed — or that is a database's own record of one — the
// cause PackageChanged, over whatever its contents said: the package is
// why they differ. Directories are left as they were: packages share them.
// A database that cannot be read is a finding, and its ecosystem is not
// compared (pkgdb.Diff).
func explainPackages(ctx context.Context, pr *Platform, targets []target, imgs [2]*image.Image, databases [2][]string, lim Limits, o Options, ws *walkSet) error {
	if len(targets) == 0 || len(databases[0])+len(databases[1]) == 0 {
		return nil
	}
	var dbs [2]*pkgdb.DB
	for i, img := range imgs {
		db, findings, err := readDatabases(ctx, img, databases[i], lim, ws)
		if err != nil {
			return err
		}
		dbs[i] = db
		pr.Findings = append(pr.Findings, findings...)
	}
	changes := pkgdb.Diff(dbs[0], dbs[1])
	if len(changes) == 0 {
		return nil
	}
	pcs := make([]PackageChange, len(changes))
	for i, c := range changes {
		pcs[i] = packageChange(c, o.Downloads)
	}
	pr.Packages = pcs
	for _, t := range targets {
		if isDir(t.fc.Rebuilt) || isDir(t.fc.Published) {
			continue
		}
		cs := pkgdb.Explain(dbs[0], dbs[1], changes, t.fc.Path)
		if len(cs) == 0 {
			continue
		}
		var of []PackageChange
		for _, c := range cs {
			of = append(of, pcs[slices.Index(changes, c)])
		}
		t.fc.Cause, t.fc.Evidence = causes.PackageChanged.ID, packageEvidence(of, o)
	}
	return nil
}

func isDir(m *FileMeta) bool { return m != nil && m.Type == "dir" }

// readDatabases reads the database files at paths of img's merged view,
// each from the topmost layer that has it, again (layer.ReadAgain: the
// walk's digests check what is read), and returns the database they make
// and a finding for each file it could not read.
func readDatabases(ctx context.Context, img *image.Image, paths []string, lim Limits, ws *walkSet) (*pkgdb.DB, []Finding, error) {
	plim := lim.packages()
	db := pkgdb.New(plim)
	paths = slices.Sorted(slices.Values(paths))
	contents := map[string][]byte{}
	over := map[string]error{}
	wanted := map[string]bool{}
	for i, p := range paths {
		if i >= plim.MaxFiles {
			over[p] = &limits.Error{What: "package database files", Limit: "MaxPackageFiles", Max: int64(plim.MaxFiles), Got: int64(len(paths))}
			continue
		}
		wanted[p] = true
	}
	var total int64
	for li := len(img.Layers) - 1; li >= 0 && len(wanted) > 0; li-- {
		if err := layer.ReadAgain(ctx, img.Layers[li], lim.walk(), ws.peek(img.Layers[li]), slices.Collect(maps.Keys(wanted)), func(p string, h *tar.Header, r io.Reader) error {
			if !wanted[p] {
				return nil
			}
			delete(contents, p) // the last entry of a path in a layer wins
			delete(over, p)
			switch {
			case layer.TarKind(h.Typeflag) != layer.KindFile:
				return nil
			case h.Size > plim.MaxFileBytes:
				over[p] = &limits.Error{What: p, Limit: "MaxPackageFileBytes", Max: plim.MaxFileBytes, Got: h.Size}
				return nil
			case total+h.Size > plim.MaxTotalBytes:
				over[p] = &limits.Error{What: "package database files", Limit: "MaxPackageTotalBytes", Max: plim.MaxTotalBytes, Got: total + h.Size}
				return nil
			}
			b, err := io.ReadAll(io.LimitReader(r, h.Size))
			if err != nil {
				return err
			}
			total += int64(len(b))
			contents[p] = b
			return nil
		}, func(hidden func(string) bool) {
			for p := range wanted {
				_, read := contents[p]
				if read || over[p] != nil || hidden(p) {
					delete(wanted, p)
				}
			}
		}); err != nil {
			return nil, nil, fmt.Errorf("reading layer %d %s again for its package databases: %w", li+1, img.Layers[li].Descriptor.Digest, err)
		}
	}
	var findings []Finding
	unread := 0
	for _, p := range paths {
		err := over[p]
		if b, ok := contents[p]; ok && err == nil {
			err = db.Add(p, b)
		} else if err != nil {
			db.SetAside(p, err)
		}
		if err == nil {
			continue
		}
		if unread++; unread <= maxNamed {
			findings = append(findings, Finding{Path: p, Kind: "packageDatabase", Message: "not read, its packages not compared: " + asCompareLimit(err).Error()})
		}
	}
	if unread > maxNamed {
		findings = append(findings, Finding{Kind: "packageDatabase", Message: fmt.Sprintf("and %d more package database files not read", unread-maxNamed)})
	}
	return db, findings, nil
}

// compareLimits name pkgdb's limits as Limits names them, which is how
// they are set (--limit compare.MaxPackages=…).
var compareLimits = map[string]string{"MaxFileBytes": "MaxPackageFileBytes", "MaxTotalBytes": "MaxPackageTotalBytes",
	"MaxFiles": "MaxPackageFiles", "MaxOwnedPaths": "MaxPackagePaths"}

// asCompareLimit is err with the pkgdb limit it names, if any, named as
// Limits names it.
func asCompareLimit(err error) error {
	var le *limits.Error
	if errors.As(err, &le) {
		if n, ok := compareLimits[le.Limit]; ok {
			le.Limit = n
		}
	}
	return err
}

// packageChange is c as the report says it, with the downloads that are
// its package's file at either version (matched on the whole name and
// versions).
func packageChange(c pkgdb.Change, downloads []Download) PackageChange {
	p := c.Package()
	// What a database says is kept as far as a person reads it (short):
	// a 1 MiB "version" does not make a 1 MiB report line.
	pc := PackageChange{Ecosystem: string(p.Ecosystem), Name: short(p.Name), Arch: short(p.Arch), Where: short(p.Where),
		Rebuilt: short(c.A.Version), Published: short(c.B.Version)}
	for _, d := range downloads {
		if pkgdb.Carries(d.URL, c.A) || pkgdb.Carries(d.URL, c.B) {
			pc.Downloads = append(pc.Downloads, d)
		}
	}
	return pc
}

// maxNamed is how many packages a hint or an evidence names.
const maxNamed = 5

// packageEvidence says which packages explain a file: one by its
// versions on each side and its download, several by name and versions.
func packageEvidence(pcs []PackageChange, o Options) string {
	if len(pcs) == 1 {
		pc := pcs[0]
		s := fmt.Sprintf("package %s (%s) changed: %s in %s, %s in %s", short(pc.Name), pc.kind(), versionOrNone(pc.Rebuilt), o.NameA, versionOrNone(pc.Published), o.NameB)
		for i, d := range pc.Downloads {
			if i == maxNamed {
				s += fmt.Sprintf("; and %d more downloads", len(pc.Downloads)-i)
				break
			}
			s += "; its download " + d.String()
		}
		return s
	}
	return fmt.Sprintf("%d packages changed (%s → %s): %s", len(pcs), o.NameA, o.NameB, packageList(pcs))
}

// String says how a download moved: "URL changed since the release
// (sha256:… then, sha256:… now)", "URL is new (sha256:…)" or "URL, the
// release's (sha256:…), was not fetched".
func (d Download) String() string {
	switch d.State {
	case "changed":
		return fmt.Sprintf("%s changed since the release (sha256:%s then, sha256:%s now)", d.URL, d.Pinned, d.SHA256)
	case "missing":
		return fmt.Sprintf("%s, the release's (sha256:%s), was not fetched", d.URL, d.Pinned)
	}
	return fmt.Sprintf("%s is %s (sha256:%s)", d.URL, d.State, d.SHA256)
}

func (pc PackageChange) kind() string {
	if pc.Arch != "" {
		return pc.Ecosystem + ", " + short(pc.Arch)
	}
	return pc.Ecosystem
}

// packageList names packages and their versions: "jq 1.7 → 1.6, libjq1
// 1.7 → 1.6, and 3 more".
func packageList(pcs []PackageChange) string {
	var parts []string
	for i, pc := range pcs {
		if i == maxNamed {
			parts = append(parts, fmt.Sprintf("and %d more", len(pcs)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s → %s", short(pc.Name), versionOrNone(pc.Rebuilt), versionOrNone(pc.Published)))
	}
	return strings.Join(parts, ", ")
}

// packageHints is the summary of each platform's packages that changed,
// for the top of the report: "2 packages changed (A → B): jq … → …, …".
func packageHints(rep *Report, o Options) []string {
	var out []string
	for _, p := range rep.Platforms {
		if len(p.Packages) == 0 {
			continue
		}
		what := "1 package changed"
		if n := len(p.Packages); n > 1 {
			what = fmt.Sprintf("%d packages changed", n)
		}
		h := fmt.Sprintf("%s (%s → %s): %s (%s).", what, o.NameA, o.NameB, packageList(p.Packages), causes.PackageChanged.URL())
		if len(rep.Platforms) > 1 {
			h = p.Platform + ": " + h
		}
		out = append(out, h)
	}
	return out
}

func versionOrNone(v string) string {
	if v == "" {
		return "none"
	}
	return short(v)
}

// short bounds a name, version or place an image's database wrote.
func short(s string) string { return text.Truncate(s, 200) }
