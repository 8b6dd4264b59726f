package pkgdb

import (
	"fmt"
	"path"
	"strings"
)

// debStanza is what a DB keeps of one stanza of dpkg's status.
type debStanza struct {
	line                        int
	name, version, arch, status string
}

// parseDpkgStatus reads dpkg's status file (or one file of status.d,
// where a stanza may have no Status field: distroless writes none) and
// returns its installed packages: those whose Status ends in
// "installed". A stanza without Package or Version is an error naming
// its line.
func parseDpkgStatus(name string, b []byte, statusOptional bool) ([]Package, error) {
	var out []Package
	var s debStanza
	err := stanzas(name, b, func(n int, k, v string) error {
		if s.line == 0 {
			s.line = n
		}
		switch k {
		case "Package":
			s.name = v
		case "Version":
			s.version = v
		case "Architecture":
			s.arch = v
		case "Status":
			s.status = v
		}
		return nil
	}, func(int) error {
		defer func() { s = debStanza{} }()
		if s.name == "" || s.version == "" {
			return fmt.Errorf("%s:%d: a stanza without Package or Version", name, s.line)
		}
		f := strings.Fields(s.status)
		if len(f) > 0 && f[len(f)-1] == "installed" || s.status == "" && statusOptional {
			out = append(out, Package{Ecosystem: Deb, Name: s.name, Version: s.version, Arch: s.arch})
		}
		return nil
	})
	return out, err
}

// parseDpkgList reads a package's .list file: one absolute path a line
// ("/." is the root). A line that is not an absolute path, or has a NUL,
// is an error naming it.
func parseDpkgList(name string, b []byte) ([]string, error) {
	var out []string
	err := lines(b, func(n int, line string) error {
		if !strings.HasPrefix(line, "/") || strings.IndexByte(line, 0) >= 0 {
			return fmt.Errorf("%s:%d: not an absolute path", name, n)
		}
		out = append(out, path.Clean(line))
		return nil
	})
	return out, err
}

// parseDpkgMd5sums reads a package's .md5sums file: "MD5  PATH" a line,
// PATH relative to the root.
func parseDpkgMd5sums(name string, b []byte) ([]string, error) {
	var out []string
	err := lines(b, func(n int, line string) error {
		sum, rel, ok := strings.Cut(line, " ")
		rel = strings.TrimLeft(rel, " *")
		p, in := inside("/", strings.TrimPrefix(rel, "/"))
		if !ok || len(sum) != 32 || strings.Trim(sum, "0123456789abcdef") != "" || !in {
			return fmt.Errorf("%s:%d: not an md5 sum and a path", name, n)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}
