package service_test

import (
	"reflect"
	"testing"

	"github.com/go-viper/mapstructure/v2"

	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// TestBuildkitPoolConfig: buildkit.addrs takes plain addresses and members
// with their TLS settings, side by side.
func TestBuildkitPoolConfig(t *testing.T) {
	raw := map[string]any{"buildkit": map[string]any{"addrs": []any{
		"unix:///run/buildkit/buildkitd.sock",
		map[string]any{"addr": "tcp://bk1.internal:1234", "ca": "/etc/reprover/ca.pem", "cert": "/etc/reprover/client.pem", "key": "/etc/reprover/client-key.pem", "serverName": "bk1"},
	}}}
	var cfg service.Config
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{Result: &cfg, ErrorUnused: true, DecodeHook: service.DaemonHook})
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.Decode(raw); err != nil {
		t.Fatal(err)
	}
	want := []verify.Daemon{
		{Addr: "unix:///run/buildkit/buildkitd.sock"},
		{Addr: "tcp://bk1.internal:1234", TLS: verify.TLS{CACert: "/etc/reprover/ca.pem", Cert: "/etc/reprover/client.pem", Key: "/etc/reprover/client-key.pem", ServerName: "bk1"}},
	}
	if got := cfg.Daemons(); !reflect.DeepEqual(got, want) {
		t.Errorf("pool %+v, want %+v", got, want)
	}
}
