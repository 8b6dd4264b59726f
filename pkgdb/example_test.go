package pkgdb_test

import (
	"fmt"

	"github.com/reprover/reprover/pkgdb"
)

// Two images' dpkg databases: jq moved on. The binary jq owns and dpkg's
// status, which records it, are explained by jq's change.
func Example() {
	status := func(version string) []byte {
		return []byte("Package: jq\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + version + "\n")
	}
	list := []byte("/.\n/usr\n/usr/bin\n/usr/bin/jq\n")
	a, b := pkgdb.New(pkgdb.Limits{}), pkgdb.New(pkgdb.Limits{})
	for db, version := range map[*pkgdb.DB]string{a: "1.6-2.1+deb12u3", b: "1.6-2.1+deb12u4"} {
		if err := db.Add("/var/lib/dpkg/status", status(version)); err != nil {
			fmt.Println(err)
		}
		if err := db.Add("/var/lib/dpkg/info/jq.list", list); err != nil {
			fmt.Println(err)
		}
	}
	changes := pkgdb.Diff(a, b)
	for _, p := range []string{"/usr/bin/jq", "/var/lib/dpkg/status", "/etc/hostname"} {
		for _, c := range pkgdb.Explain(a, b, changes, p) {
			fmt.Printf("%s: %s → %s\n", p, c.A, c.B.Version)
		}
	}
	fmt.Println(pkgdb.Carries("http://deb.debian.org/debian/pool/main/j/jq/jq_1.6-2.1+deb12u4_amd64.deb", changes[0].B))
	// Output:
	// /usr/bin/jq: jq 1.6-2.1+deb12u3 (deb, amd64) → 1.6-2.1+deb12u4
	// /var/lib/dpkg/status: jq 1.6-2.1+deb12u3 (deb, amd64) → 1.6-2.1+deb12u4
	// true
}
