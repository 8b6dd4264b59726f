package service

import (
	"net"
	"strings"
)

// allowList is images.allow: prefixes of image references whose registry
// may be on a loopback, private or link-local address. It is checked twice,
// on the reference at submission and on the address at dial time (a name
// can resolve elsewhere by then), so both checks live here.
type allowList []string

// allowsImage: ref starts with an entry.
func (l allowList) allowsImage(ref string) bool {
	for _, a := range l {
		if a != "" && strings.HasPrefix(ref, a) {
			return true
		}
	}
	return false
}

// allowsAddress: a dialled address (IP:PORT, as net.Dialer's Control sees
// it) is one that a reference allowed by an entry reaches. An entry with a
// "/" names its whole registry host, matched exactly (no port: 443 or 80,
// what a reference without one dials); an entry without is a prefix of
// HOST[:PORT]. "localhost" stands for 127.0.0.1 and [::1], the addresses
// it is dialled as; other names never match an IP.
func (l allowList) allowsAddress(addr string) bool {
	for _, a := range l {
		host, _, whole := strings.Cut(a, "/")
		if host == "" {
			continue
		}
		match := strings.HasPrefix
		if whole {
			match = sameHost
		}
		for _, h := range dialledAs(host) {
			if match(addr, h) {
				return true
			}
		}
	}
	return false
}

// dialledAs: the forms of an entry's host an address can take.
func dialledAs(host string) []string {
	if rest, ok := strings.CutPrefix(host, "localhost"); ok && (rest == "" || rest[0] == ':') {
		return []string{"127.0.0.1" + rest, "[::1]" + rest}
	}
	return []string{host}
}

// sameHost: addr (IP:PORT) is host, HOST:PORT or HOST on a default port.
func sameHost(addr, host string) bool {
	if addr == host {
		return true
	}
	if _, _, err := net.SplitHostPort(host); err == nil {
		return false // a port was given, and differs
	}
	h, port, err := net.SplitHostPort(addr)
	return err == nil && h == strings.Trim(host, "[]") && (port == "443" || port == "80")
}
