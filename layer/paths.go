package layer

import (
	"path"
	"strings"
)

// Normalize turns a tar name into an absolute path: "./usr/bin/",
// "usr/bin" and "/usr/bin" are all "/usr/bin". A name that climbs out of
// the root keeps its ".." so it cannot alias a real path.
func Normalize(name string) (string, bool) {
	n := strings.TrimPrefix(name, "./")
	abs := strings.HasPrefix(n, "/")
	n = strings.Trim(n, "/")
	if n == "" || n == "." {
		return "/", true
	}
	if escapes("/", n) {
		return "/" + n, false
	}
	return path.Clean("/" + n), !abs
}

// escapes reports whether following rel from dir climbs above the root.
func escapes(dir, rel string) bool {
	depth := strings.Count(strings.Trim(dir, "/"), "/") + 1
	if strings.Trim(dir, "/") == "" {
		depth = 0
	}
	if path.IsAbs(rel) {
		return false
	}
	for _, c := range strings.Split(rel, "/") {
		switch c {
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		case "", ".":
		default:
			depth++
		}
	}
	return false
}

// nameMax is Linux's NAME_MAX: no unpacker can create a longer component.
const nameMax = 255

func longestComponent(name string) int {
	longest := 0
	for c := range strings.SplitSeq(name, "/") {
		longest = max(longest, len(c))
	}
	return longest
}

// TreeCompare orders paths so that everything under a directory follows
// it directly: byte order, with '/' before every other byte.
func TreeCompare(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return treeByte(a[i]) - treeByte(b[i])
		}
	}
	return len(a) - len(b)
}

func treeByte(c byte) int {
	if c == '/' {
		return 0
	}
	return int(c) + 1
}

// SplitPath splits p, absolute and cleaned, into its directory and its
// last element: "/" and "a" for "/a". Unlike path.Split, a non-local
// "/../../etc" keeps its ".." in the directory.
func SplitPath(p string) (string, string) {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			if i == 0 {
				return "/", p[1:]
			}
			return p[:i], p[i+1:]
		}
	}
	return "/", p
}

// JoinPath is SplitPath's inverse: base under dir.
func JoinPath(dir, base string) string {
	if dir == "/" {
		return "/" + base
	}
	return dir + "/" + base
}
