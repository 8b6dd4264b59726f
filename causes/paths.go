package causes

import (
	"path"
	"strings"
)

// PathRule names the files a cause is known to make, by path: Pattern is
// an absolute path whose segments may be shell patterns (path.Match) and
// "**" for any number of segments.
type PathRule struct {
	Pattern string
	Cause   Cause
	What    string
}

// Paths is the table of known files, as data; docs/causes.md lists it.
var Paths = []PathRule{
	{"/var/log/dpkg.log", PackageManagerFiles, "dpkg's log"},
	{"/var/log/apt/**", PackageManagerFiles, "apt's logs"},
	{"/var/log/alternatives.log", PackageManagerFiles, "update-alternatives' log"},
	{"/var/log/bootstrap.log", PackageManagerFiles, "debootstrap's log"},
	{"/var/log/lastlog", PackageManagerFiles, "the login records useradd touches"},
	{"/var/log/faillog", PackageManagerFiles, "the login records useradd touches"},
	{"/var/cache/ldconfig/aux-cache", PackageManagerFiles, "ldconfig's cache"},
	{"/var/lib/apt/lists/**", PackageManagerFiles, "apt's package lists"},
	{"/var/cache/apt/**", PackageManagerFiles, "apt's caches (pkgcache.bin, srcpkgcache.bin, archives)"},
	{"/var/cache/debconf/*-old", PackageManagerFiles, "debconf's backups"},
	{"/var/lib/dpkg/*-old", PackageManagerFiles, "dpkg's backups"},
	{"/var/log/yum.log", PackageManagerFiles, "yum's log"},
	{"/var/log/dnf*", PackageManagerFiles, "dnf's logs"},
	{"/var/lib/dnf/**", PackageManagerFiles, "dnf's history database"},
	{"/var/cache/dnf/**", PackageManagerFiles, "dnf's cache"},
	{"/var/cache/yum/**", PackageManagerFiles, "yum's cache"},
	{"/var/lib/rpm/**", PackageManagerFiles, "rpm's database"},
	{"/var/cache/apk/**", PackageManagerFiles, "apk's cache"},
	{"/root/.cache/**", PackageManagerFiles, "root's caches (pip, go build, …)"},
	{"/home/*/.cache/**", PackageManagerFiles, "a user's caches (pip, go build, …)"},
	{"/root/.npm/**", PackageManagerFiles, "npm's cache and logs"},
	{"/home/*/.npm/**", PackageManagerFiles, "npm's cache and logs"},
	{"/usr/local/share/.cache/**", PackageManagerFiles, "yarn's cache"},
	{"/root/.gradle/**", PackageManagerFiles, "Gradle's caches"},
	{"/root/.m2/**", PackageManagerFiles, "Maven's repository"},
	{"/root/.cargo/registry/**", PackageManagerFiles, "cargo's registry cache"},
	{"/etc/machine-id", RandomID, "the machine id"},
	{"/var/lib/dbus/machine-id", RandomID, "D-Bus' machine id"},
	{"/var/lib/systemd/random-seed", RandomID, "systemd's random seed"},
	{"/etc/ssh/ssh_host_*", RandomID, "an SSH host key made by the openssh-server package"},
	{"/etc/ssl/private/ssl-cert-snakeoil.key", RandomID, "the snakeoil key made by ssl-cert"},
	{"/etc/ssl/certs/ssl-cert-snakeoil.pem", RandomID, "the snakeoil certificate made by ssl-cert"},
}

// ForPath returns the rule that names p, if any.
func ForPath(p string) (PathRule, bool) {
	for _, r := range Paths {
		if matchPath(r.Pattern, p) {
			return r, true
		}
	}
	return PathRule{}, false
}

// matchPath matches an absolute path against a pattern of path.Match
// segments, where "**" matches any number of segments (at least one
// when it ends the pattern: a directory's own entry is not its content).
func matchPath(pattern, p string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	ss := strings.Split(strings.Trim(p, "/"), "/")
	return matchSegs(ps, ss)
}

func matchSegs(ps, ss []string) bool {
	for len(ps) > 0 {
		if ps[0] == "**" {
			if len(ps) == 1 {
				return len(ss) > 0
			}
			for i := range len(ss) + 1 {
				if matchSegs(ps[1:], ss[i:]) {
					return true
				}
			}
			return false
		}
		if len(ss) == 0 {
			return false
		}
		if ok, _ := path.Match(ps[0], ss[0]); !ok {
			return false
		}
		ps, ss = ps[1:], ss[1:]
	}
	return len(ss) == 0
}
