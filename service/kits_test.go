package service_test

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/reprover/reprover/kit"
	"github.com/reprover/reprover/pins"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// TestStoreKit: the service keeps a kit as the oci-archive verify's
// KitDir finds for the image's digest, written beside it and renamed, so
// a verification never opens half a kit: the one it opens is the kit
// kept, and storing it again replaces it whole.
func TestStoreKit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("the release's bytes\n")) }))
	t.Cleanup(srv.Close)
	host, _, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "http://"))
	subject := v1.Descriptor{MediaType: types.OCIImageIndex, Size: 100, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("d", 64)}}
	k, err := kit.Make(t.Context(), kit.MakeOptions{Subject: subject, Name: "registry.example/app",
		Pins: []pins.Pin{{URL: srv.URL + "/a.deb", SHA256: "0b2688cfbc4738fa6a43036f888f52fb1eec9cc10029a31d9312a52ce7ebd8b7"}}, AllowHosts: []string{host}})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	dir := filepath.Join(t.TempDir(), "kits")
	if got := verify.StoredKit(dir, subject.Digest.String()); got != "" {
		t.Fatalf("an empty store holds %s", got)
	}
	for range 2 {
		if err := service.StoreKit(t.Context(), k, dir, subject.Digest.String()); err != nil {
			t.Fatal(err)
		}
	}
	where := verify.StoredKit(dir, subject.Digest.String())
	if where != "oci-archive:"+verify.StoredKitPath(dir, subject.Digest.String()) {
		t.Fatalf("stored at %q", where)
	}
	got, err := kit.Open(t.Context(), where, "", subject.Digest, kit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Digest() != k.Digest() {
		t.Errorf("opened kit %s, stored %s", got.Digest(), k.Digest())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("the store holds %d files, want the kit alone (no temporary left)", len(ents))
	}

	// A symlink where the kit goes (planted in the store by whoever can
	// write there) is refused, and nothing is written through it.
	other := filepath.Join(t.TempDir(), "kits")
	if err := os.MkdirAll(other, 0o700); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.Symlink(target, verify.StoredKitPath(other, subject.Digest.String())); err != nil {
		t.Fatal(err)
	}
	if err := service.StoreKit(t.Context(), k, other, subject.Digest.String()); err == nil {
		t.Errorf("a kit was stored through a symlink")
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the symlink's target was written: %v", err)
	}
	// Nor is a symlink there taken for a kit, even to a kit's file.
	b, err := os.ReadFile(verify.StoredKitPath(dir, subject.Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(target, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if got := verify.StoredKit(other, subject.Digest.String()); got != "" {
		t.Errorf("a symlink in the store is taken for a kit: %s", got)
	}
}
