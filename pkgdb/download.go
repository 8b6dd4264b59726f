package pkgdb

import (
	"net/url"
	"path"
	"strings"
)

// Carries says whether the download at rawURL is p's package file, by
// the name each ecosystem gives it: a deb NAME_VERSION_ARCH.deb (the
// version's epoch "N:" written "N%3a", or left out as Debian's pool does),
// an apk NAME-VERSION.apk, a wheel NAME-VERSION-….whl or an sdist
// NAME-VERSION.tar.gz (the name normalized as wheels spell it), an npm
// tarball NAME-VERSION.tgz (a scoped package without its scope).
func Carries(rawURL string, p Package) bool {
	if p.Name == "" || p.Version == "" {
		return false
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return false
	}
	base, err := url.PathUnescape(path.Base(u.EscapedPath()))
	if err != nil {
		return false
	}
	switch p.Ecosystem {
	case Deb:
		f := strings.Split(strings.TrimSuffix(base, ".deb"), "_")
		if len(f) != 3 || !strings.HasSuffix(base, ".deb") || f[0] != p.Name || p.Arch != "" && f[2] != p.Arch {
			return false
		}
		_, noEpoch, hasEpoch := strings.Cut(p.Version, ":")
		return f[1] == p.Version || hasEpoch && f[1] == noEpoch
	case Apk:
		return base == p.Name+"-"+p.Version+".apk"
	case PyPI:
		pre := wheelName(p.Name) + "-" + p.Version
		low := strings.ToLower(base)
		pre = strings.ToLower(pre)
		return strings.HasPrefix(low, pre+"-") && strings.HasSuffix(low, ".whl") ||
			low == pre+".tar.gz" || low == pre+".zip"
	case Npm:
		name := p.Name
		if i := strings.LastIndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		return base == name+"-"+p.Version+".tgz"
	}
	return false
}

// wheelName is a distribution's name as wheel and sdist file names spell
// it: each run of "-", "_" and "." one "_".
func wheelName(n string) string {
	var b strings.Builder
	sep := false
	for _, r := range n {
		if r == '-' || r == '_' || r == '.' {
			sep = true
			continue
		}
		if sep && b.Len() > 0 {
			b.WriteByte('_')
		}
		sep = false
		b.WriteRune(r)
	}
	return b.String()
}
