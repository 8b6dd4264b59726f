package hosts

import (
	"net"
	"net/netip"
	"testing"
)

func TestLocalHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "localhost.": true, "LOCALHOST": true, "app.localhost": true, "metadata.google.internal": true,
		"printer.local": true, "127.0.0.1": true, "127.1": true, "2130706433": true, "0x7f000001": true, "10.1.2.3": true,
		"192.168.0.1": true, "169.254.169.254": true, "[::1]": true, "::": true, "fe80::1": true, "": true,
		"fe80::1%eth0": true, "[::1%25lo]": true, "%31%32%37.0.0.1": true, "100.100.100.200": true, "::ffff:127.0.0.1": true,
		"registry.example": false, "ghcr.io": false, "8.8.8.8": false, "[2001:db8::1]": false, "1.example": false,
	} {
		if got := LocalHost(h); got != want {
			t.Errorf("LocalHost(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestLoopback(t *testing.T) {
	for _, c := range []struct {
		hostport string
		want     bool
	}{
		{"localhost", true},
		{"localhost:5000", true},
		{"127.0.0.1", true},
		{"127.0.0.1:5000", true},
		{"127.9.9.9:5000", true},
		{"[::1]:80", true},
		{"[::1]", true},
		{"::1", true},
		{"[::ffff:127.0.0.1]:5000", true},
		// Spellings resolvers accept but image never treated as loopback:
		// plain HTTP stays refused for them.
		{"127.1", false},
		{"LOCALHOST:5000", false},
		{"localhost.:5000", false},
		{"app.localhost", false},
		{"2130706433", false},
		{"10.0.0.1:5000", false},
		{"0.0.0.0:5000", false},
		{"[::]:80", false},
		{"registry.example:5000", false},
		{"localhost.evil.example", false},
		{"", false},
	} {
		if got := Loopback(c.hostport); got != c.want {
			t.Errorf("Loopback(%q) = %v, want %v", c.hostport, got, c.want)
		}
	}
}

// TestLocalAddr: every range a source, registry or download named by
// someone else must not reach, with IPv4 inside IPv6 judged as the IPv4
// address it reaches; public addresses pass.
func TestLocalAddr(t *testing.T) {
	for _, c := range []struct {
		addr  string
		local bool
	}{
		{"127.0.0.1", true},
		{"127.255.0.9", true},
		{"10.1.2.3", true},
		{"172.16.0.1", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"100.64.0.1", true},
		{"100.100.100.200", true}, // Alibaba Cloud's metadata service
		{"100.127.255.255", true},
		{"192.0.0.170", true},
		{"198.18.0.1", true},
		{"198.19.255.255", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"240.0.0.1", true},
		{"255.255.255.255", true},
		{"::1", true},
		{"::", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"fd00:ec2::254", true}, // AWS's IPv6 metadata service
		{"fc00::1", true},
		{"fec0::1", true},
		{"ff02::1", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:169.254.169.254", true},
		{"::127.0.0.1", true},
		{"64:ff9b::7f00:1", true},     // NAT64 of 127.0.0.1
		{"64:ff9b::a9fe:a9fe", true},  // NAT64 of 169.254.169.254
		{"64:ff9b:1::808:808", true},  // local-use NAT64
		{"2002:7f00:1::1", true},      // 6to4 of 127.0.0.1
		{"2002:a00:1::1", true},       // 6to4 of 10.0.0.1
		{"2001:0:4136:e378::1", true}, // Teredo
		{"8.8.8.8", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"198.20.0.1", false},
		{"140.82.112.3", false},
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8: how IPv6-only hosts reach IPv4
		{"2002:808:808::1", false},  // 6to4 of 8.8.8.8
		{"2001:db8::1", false},
		{"2606:4700::1111", false},
	} {
		a := netip.MustParseAddr(c.addr)
		if got := LocalAddr(a); got != c.local {
			t.Errorf("LocalAddr(%s) = %v (%q), want %v", c.addr, got, Special(a), c.local)
		}
		if ip := net.ParseIP(a.WithZone("").String()); a.Zone() == "" && LocalIP(ip) != c.local {
			t.Errorf("LocalIP(%s) = %v, want %v", c.addr, !c.local, c.local)
		}
	}
}
