package hosts

import "testing"

func TestLocalHost(t *testing.T) {
	for h, want := range map[string]bool{
		"localhost": true, "localhost.": true, "LOCALHOST": true, "app.localhost": true, "metadata.google.internal": true,
		"printer.local": true, "127.0.0.1": true, "127.1": true, "2130706433": true, "0x7f000001": true, "10.1.2.3": true,
		"192.168.0.1": true, "169.254.169.254": true, "[::1]": true, "::": true, "fe80::1": true, "": true,
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
