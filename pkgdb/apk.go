package pkgdb

import (
	"fmt"
	"path"
)

// apkEntry is one package of apk's installed database and its files.
type apkEntry struct {
	Package
	Files []string
}

// parseApkInstalled reads apk's installed database: stanzas of "K:value"
// fields, P the name, V the version, A the architecture, F a directory
// (relative to the root) and R a file in the last F. An R before any F,
// a name that climbs out of the root, or a stanza without P or V is an
// error naming its line.
func parseApkInstalled(name string, b []byte) ([]apkEntry, error) {
	var out []apkEntry
	var cur apkEntry
	dir, start := "", 0
	err := stanzas(name, b, func(n int, k, v string) error {
		if start == 0 {
			start = n
		}
		switch k {
		case "P":
			cur.Name = v
		case "V":
			cur.Version = v
		case "A":
			cur.Arch = v
		case "F":
			d, ok := inside("/", v)
			if !ok {
				return fmt.Errorf("%s:%d: directory %q is not in the image", name, n, v)
			}
			dir = d
		case "R":
			if dir == "" {
				return fmt.Errorf("%s:%d: a file before its directory (R before F)", name, n)
			}
			p, ok := inside(dir, v)
			if !ok || path.Dir(p) != dir {
				return fmt.Errorf("%s:%d: file %q is not in its directory %s", name, n, v, dir)
			}
			cur.Files = append(cur.Files, p)
		}
		return nil
	}, func(int) error {
		defer func() { cur, dir, start = apkEntry{}, "", 0 }()
		if cur.Name == "" || cur.Version == "" {
			return fmt.Errorf("%s:%d: a package without P or V", name, start)
		}
		cur.Ecosystem = Apk
		out = append(out, cur)
		return nil
	})
	return out, err
}
