package pkgdb

import (
	"cmp"
	"slices"
)

// Change is a package that differs between two images' databases: its
// version differs, or only one image has it (the other side is then the
// zero Package).
type Change struct{ A, B Package }

// Package is the package the change is about (A's, else B's), without
// its version.
func (c Change) Package() Package {
	p := c.A
	if p.Name == "" {
		p = c.B
	}
	p.Version = ""
	return p
}

func (c Change) key() string { return c.Package().key() }

// Diff returns the packages that differ between a and b, by ecosystem,
// name, architecture and place. An ecosystem whose databases could not be
// read in either image is left out: half a database would make every
// package look added or removed.
func Diff(a, b *DB) []Change {
	pa, pb := byKey(a), byKey(b)
	var out []Change
	for k, x := range pa {
		y, ok := pb[k]
		if a.broken[x.Ecosystem] != nil || b.broken[x.Ecosystem] != nil {
			continue
		}
		if !ok || x.Version != y.Version {
			out = append(out, Change{A: x, B: y})
		}
	}
	for k, y := range pb {
		if _, ok := pa[k]; !ok && a.broken[y.Ecosystem] == nil && b.broken[y.Ecosystem] == nil {
			out = append(out, Change{B: y})
		}
	}
	slices.SortFunc(out, func(x, y Change) int { return comparePackages(x.Package(), y.Package()) })
	return out
}

func byKey(db *DB) map[string]Package {
	m := map[string]Package{}
	for _, p := range db.pkgs {
		m[p.key()] = p
	}
	return m
}

// Explain returns the changes (of Diff(a, b)) that explain a difference
// at the image path p: the change of the package that owns p in a or in
// b, or, for a database's own file, of the package it is about (dpkg's
// info/jq.list: jq) or of every package it records (dpkg's status).
func Explain(a, b *DB, changes []Change, p string) []Change {
	if len(changes) == 0 {
		return nil
	}
	var keys []string
	k, ref := classify(p)
	switch {
	case k == notDB:
		for _, db := range []*DB{a, b} {
			if pk, ok := db.Owner(p); ok {
				keys = append(keys, pk.key())
			}
		}
	case ref == "":
		eco := ecosystemOf(k)
		var out []Change
		for _, c := range changes {
			if c.Package().Ecosystem == eco {
				out = append(out, c)
			}
		}
		return out
	default:
		for _, db := range []*DB{a, b} {
			if pk, ok := db.pkgs[ref]; ok {
				keys = append(keys, pk.key())
			}
		}
	}
	var out []Change
	for _, c := range changes {
		if slices.Contains(keys, c.key()) {
			out = append(out, c)
		}
	}
	return out
}

func comparePackages(x, y Package) int {
	return cmp.Or(cmp.Compare(x.Ecosystem, y.Ecosystem), cmp.Compare(x.Name, y.Name), cmp.Compare(x.Arch, y.Arch),
		cmp.Compare(x.Where, y.Where), cmp.Compare(x.Version, y.Version))
}

func sortPackages(ps []Package) { slices.SortFunc(ps, comparePackages) }
