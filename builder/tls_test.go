package builder_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/builder"
	"github.com/reprover/reprover/fixtures"
)

// TestConnectTLS: a daemon over TCP with mutual TLS, as a pool member on
// another machine runs: reached and built on with the right certificates;
// a wrong CA, a missing or expired client certificate, a server name the
// certificate does not carry, or no TLS at all is a clear error naming the
// daemon, never a plaintext fallback.
func TestConnectTLS(t *testing.T) {
	pki := fixtures.NewPKI(t, "buildkitd.test")
	other := fixtures.NewPKI(t, "buildkitd.test")
	addr := fixtures.BuildkitTLS(t, pki)
	good := builder.TLS{CACert: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey}
	for _, tc := range []struct {
		name string
		addr string
		tls  builder.TLS
		say  []string // in the error; none: it works
	}{
		{name: "mutual TLS", addr: addr, tls: good},
		{name: "the server name on the certificate", addr: addr, tls: builder.TLS{CACert: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey, ServerName: "buildkitd.test"}},
		{name: "a CA the daemon's certificate does not chain to", addr: addr, tls: builder.TLS{CACert: other.CA, Cert: pki.ClientCert, Key: pki.ClientKey}, say: []string{addr, "certificate"}},
		{name: "no client certificate", addr: addr, tls: builder.TLS{CACert: pki.CA}, say: []string{addr}},
		{name: "an expired client certificate", addr: addr, tls: builder.TLS{CACert: pki.CA, Cert: pki.ExpiredCert, Key: pki.ExpiredKey}, say: []string{addr, "expired on"}},
		{name: "a key that is not the certificate's", addr: addr, tls: builder.TLS{CACert: pki.CA, Cert: pki.ClientCert, Key: pki.ServerKey}, say: []string{addr, "client certificate"}},
		{name: "a client certificate of another CA", addr: addr, tls: builder.TLS{CACert: pki.CA, Cert: other.ClientCert, Key: other.ClientKey}, say: []string{addr}},
		{name: "a server name the certificate does not carry", addr: addr, tls: builder.TLS{CACert: pki.CA, Cert: pki.ClientCert, Key: pki.ClientKey, ServerName: "elsewhere.test"}, say: []string{addr, "elsewhere.test"}},
		{name: "no TLS to a TLS daemon", addr: addr, say: []string{addr}},
		{name: "half a client certificate", addr: addr, tls: builder.TLS{CACert: pki.CA, Cert: pki.ClientCert}, say: []string{addr, "--tlskey"}},
		{name: "a missing CA file", addr: addr, tls: builder.TLS{CACert: filepath.Join(t.TempDir(), "nope.pem")}, say: []string{addr, "nope.pem"}},
		{name: "TLS settings for a unix socket", addr: "unix:///run/buildkit/buildkitd.sock", tls: good, say: []string{"tcp://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			c, err := builder.ConnectTLS(ctx, tc.addr, tc.tls, nil)
			if err == nil {
				defer c.Close()
				_, err = c.Version(ctx)
			}
			if len(tc.say) == 0 {
				if err != nil {
					t.Fatalf("err %v", err)
				}
				src := t.TempDir()
				writeFile(t, src, "Dockerfile", "FROM scratch\nCOPY hello.txt /\n")
				writeFile(t, src, "hello.txt", "hello\n")
				if _, err := c.Build(ctx, builder.Spec{ContextDir: src, DockerfilePath: filepath.Join(src, "Dockerfile"), DockerfileName: "Dockerfile",
					SourceDateEpoch: 1, OCIMediaTypes: true, OutputDir: filepath.Join(t.TempDir(), "out")}, os.Stderr, "quiet"); err != nil {
					t.Errorf("a build over mutual TLS: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("connected, want an error")
			}
			for _, s := range tc.say {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
		})
	}
}

// TestDaemonStopTwice: a deferred Stop after an explicit one returns at
// once (it used to wait forever for an exit already reaped).
func TestDaemonStopTwice(t *testing.T) {
	d, err := builder.StartDaemon(t.Context(), builder.DaemonOptions{Binary: fixtures.BuildkitdBinary(), HostNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Stop() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("second Stop: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the second Stop did not return")
	}
}
