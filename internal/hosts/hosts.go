// Package hosts tells which host names and addresses are local: this machine,
// private networks, link-local addresses (cloud metadata). The builder's
// Dockerfile rules and the service's request checks share it.
package hosts

import (
	"net"
	"strings"
)

// LocalHost reports whether a host name, as written, names this machine,
// a private network or a link-local address (cloud metadata): local names,
// IP literals, and the numeric forms resolvers also accept (127.1,
// 2130706433, 0x7f000001, a trailing dot). It does not resolve names.
func LocalHost(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if h == "" || h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".internal") || strings.HasSuffix(h, ".local") {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		return LocalIP(ip)
	}
	// A last label of digits or hex is an address to inet_aton-style
	// resolvers, never a DNS name: refuse rather than guess.
	last := h[strings.LastIndex(h, ".")+1:]
	if strings.HasPrefix(last, "0x") {
		return true
	}
	return strings.Trim(last, "0123456789") == ""
}

// LocalIP: loopback, private, link-local or unspecified.
func LocalIP(ip net.IP) bool {
	return ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsUnspecified()
}

// Loopback reports whether a host, with or without a port ("localhost",
// "127.0.0.1:5000", "[::1]:80", "::1"), names this machine: "localhost" as
// written, or a loopback IP literal. Unlike LocalHost it accepts no other
// spelling (127.1, LOCALHOST): image lets plain HTTP go to these hosts.
func Loopback(hostport string) bool {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		h = hostport
	}
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}
