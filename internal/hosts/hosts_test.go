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
