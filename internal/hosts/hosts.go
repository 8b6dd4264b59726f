// Package hosts tells which host names and addresses are local: this machine,
// private networks, link-local addresses (cloud metadata) and other special
// ranges. The builder's Dockerfile rules and the service's request checks
// share it, and it is the one judge of a git source's host (JudgeSource),
// for the CLI and the service alike, and of how git is pinned to the
// address judged.
package hosts

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// LocalHost reports whether a host name, as written, names this machine,
// a private network or a link-local address (cloud metadata): local names,
// IP literals (LocalAddr), and the numeric forms resolvers also accept
// (127.1, 2130706433, 0x7f000001, a trailing dot); a host with a zone or
// a percent sign is local too. It does not resolve names: a source's
// host is judged by what it resolves to (JudgeSource).
func LocalHost(h string) bool {
	h = strings.TrimSuffix(strings.ToLower(strings.Trim(h, "[]")), ".")
	if h == "" || h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".internal") || strings.HasSuffix(h, ".local") {
		return true
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return LocalAddr(a)
	}
	if strings.ContainsAny(h, "%:") { // a zone, an escape, a port: not a name
		return true
	}
	// A last label of digits or hex is an address to inet_aton-style
	// resolvers, never a DNS name: refuse rather than guess.
	last := h[strings.LastIndex(h, ".")+1:]
	if strings.HasPrefix(last, "0x") {
		return true
	}
	return strings.Trim(last, "0123456789") == ""
}

// LocalIP reports whether an address is this machine's, a private or
// link-local network's, or one of the special ranges below (LocalAddr).
func LocalIP(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	return !ok || LocalAddr(a)
}

// LocalAddr reports whether a is loopback, private, link-local,
// unspecified, or in one of the special ranges (Special): an address a
// source, registry or download named by someone else must not make
// reprover connect to. An IPv4 address inside an IPv6 one (IPv4-mapped,
// NAT64, 6to4) is judged as the IPv4 address it reaches. An address with
// a zone (fe80::1%eth0) is local: zones only exist on this machine.
func LocalAddr(a netip.Addr) bool {
	return !a.IsValid() || a.Zone() != "" || Special(a) != ""
}

// special are the ranges LocalAddr refuses beyond Go's IsLoopback,
// IsPrivate, IsLinkLocal* and IsUnspecified, each with why.
var special = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this network (0.x.x.x reaches this machine on Linux)"},
	{netip.MustParsePrefix("100.64.0.0/10"), "shared address space (CGNAT; Alibaba Cloud's metadata service is 100.100.100.200)"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol assignments (NAT64 discovery, DS-Lite, some clouds' internal services)"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking networks, used as internal address space"},
	{netip.MustParsePrefix("224.0.0.0/4"), "multicast: never a server"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved, and the broadcast address"},
	{netip.MustParsePrefix("::/96"), "IPv4-compatible IPv6 (deprecated)"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "local-use NAT64: translated to the operator's own IPv4 networks"},
	{netip.MustParsePrefix("2001::/32"), "Teredo: the IPv4 address it reaches is obfuscated, so it cannot be judged"},
	{netip.MustParsePrefix("fec0::/10"), "site-local IPv6 (deprecated private addresses)"},
	{netip.MustParsePrefix("ff00::/8"), "multicast: never a server"},
}

// Special says why a is not an address to connect to for someone else
// ("" if it is): loopback, private, link-local, unspecified or a range in
// special; for an IPv6 address embedding an IPv4 one (IPv4-mapped
// ::ffff:a.b.c.d, NAT64 64:ff9b::/96, 6to4 2002::/16), why its IPv4
// address is not.
func Special(a netip.Addr) string {
	if v4, ok := embedded(a); ok {
		if why := Special(v4); why != "" {
			return fmt.Sprintf("%s embeds %s: %s", a, v4, why)
		}
		return ""
	}
	switch {
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private network"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local (cloud metadata services are 169.254.169.254 and fd00:ec2::254)"
	case a.IsUnspecified():
		return "unspecified (reaches this machine)"
	}
	for _, s := range special {
		if s.prefix.Contains(a) {
			return s.why
		}
	}
	return ""
}

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// embedded is the IPv4 address an IPv6 address reaches when it embeds
// one: IPv4-mapped, well-known NAT64 prefix, 6to4.
func embedded(a netip.Addr) (netip.Addr, bool) {
	switch {
	case a.Is4In6():
		return a.Unmap(), true
	case nat64.Contains(a):
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo4.Contains(a):
		b := a.As16()
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
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
