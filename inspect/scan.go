package inspect

import (
	"fmt"
	"strings"

	"github.com/reprover/reprover/layer"
)

// scan reads files' text for secrets within the scan limits, and counts
// what it did not read.
type scan struct {
	lim Limits
	s   *Scanned
	// spent is the bytes scanned in the image, all platforms together
	// (MaxScanBytes bounds them).
	spent *int64
}

// file returns the secrets of e, a file of layer at.
func (sc *scan) file(e *layer.Entry, at int) []Finding {
	switch {
	case e.Size == 0:
		return nil
	case e.Size > sc.lim.MaxScanFileBytes:
		sc.s.TooLarge++
		return nil
	case *sc.spent+e.Size > sc.lim.MaxScanBytes:
		sc.s.OverBudget++
		return nil
	case !e.HasText():
		// The walk keeps text within the same limits, so a file within
		// them without text is not text (or its layer alone spent the
		// image's budget, which the next case of a later file shows).
		sc.s.Binary++
		return nil
	}
	b := e.Text()
	sc.s.Files++
	sc.s.Bytes += int64(len(b))
	*sc.spent += int64(len(b))
	var out []Finding
	for _, s := range scanText(b) {
		out = append(out, finding(SecretInFile, e.Path, at, s.String()))
	}
	if cf, ok := credentialFileOf(e.Path); ok {
		for _, s := range scanCredentials(cf, b) {
			out = append(out, finding(CredentialsFile, e.Path, at, s.String()))
		}
	}
	return out
}

// finding is the notScanned finding, when files went unscanned for
// their size or the budget.
func (sc *scan) finding() (Finding, bool) {
	s := sc.s
	if s.TooLarge == 0 && s.OverBudget == 0 {
		return Finding{}, false
	}
	return finding(NotScanned, "", 0, fmt.Sprintf("%d file(s) larger than MaxScanFileBytes=%d and %d beyond MaxScanBytes=%d were not scanned for secrets (%d scanned, %d bytes)",
		s.TooLarge, sc.lim.MaxScanFileBytes, s.OverBudget, sc.lim.MaxScanBytes, s.Files, s.Bytes)), true
}

// caches are where package managers leave caches and indexes: a path
// under one of these directories, or under a home's.
var caches = []struct {
	name, dir string
	anyHome   bool // dir is under any directory (a home), not the root
}{
	{"apt lists", "/var/lib/apt/lists", false},
	{"apt archives and caches", "/var/cache/apt", false},
	{"apk cache", "/var/cache/apk", false},
	{"dnf cache", "/var/cache/dnf", false},
	{"yum cache", "/var/cache/yum", false},
	{"pip cache", "/.cache/pip", true},
	{"npm cache", "/.npm/_cacache", true},
	{"yarn cache", "/.cache/yarn", true},
}

// cacheOf is the cache a path is in: its name and directory.
func cacheOf(p string) (name, dir string, ok bool) {
	for _, c := range caches {
		if !c.anyHome {
			if strings.HasPrefix(p, c.dir+"/") {
				return c.name, c.dir, true
			}
			continue
		}
		if i := strings.Index(p, c.dir+"/"); i >= 0 {
			return c.name, p[:i+len(c.dir)], true
		}
	}
	return "", "", false
}

// viewFindings judge what the merged view holds: setuid and setgid
// files, world-writable directories without the sticky bit, package
// caches with their size.
func viewFindings(v *view) []Finding {
	var out []Finding
	type cache struct {
		name  string
		files int
		bytes int64
		layer int
	}
	var order []string
	sizes := map[string]*cache{}
	v.walk(func(p string, n *node) {
		switch n.kind {
		case layer.KindFile:
			if n.mode&0o4000 != 0 {
				out = append(out, finding(SetuidFile, p, n.layer, fmt.Sprintf("mode %04o", n.mode)))
			}
			if n.mode&0o2000 != 0 {
				out = append(out, finding(SetgidFile, p, n.layer, fmt.Sprintf("mode %04o", n.mode)))
			}
			if name, dir, ok := cacheOf(p); ok && n.size > 0 {
				c := sizes[dir]
				if c == nil {
					c = &cache{name: name}
					sizes[dir] = c
					order = append(order, dir)
				}
				c.files++
				c.bytes += n.size
				c.layer = max(c.layer, n.layer)
			}
		case layer.KindDir:
			if n.mode&0o002 != 0 && n.mode&0o1000 == 0 {
				out = append(out, finding(WorldWritableDir, p, n.layer, fmt.Sprintf("mode %04o", n.mode)))
			}
		}
	})
	for _, dir := range order {
		c := sizes[dir]
		out = append(out, finding(PackageCache, dir, c.layer, fmt.Sprintf("%s: %d file(s), %d bytes", c.name, c.files, c.bytes)))
	}
	return out
}
