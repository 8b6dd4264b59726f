package compare_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/image"
)

// TestSharedLayersReadOnce: a layer both images share (same digest) is
// fetched and decompressed once, not once per image. The registry wrapper
// only counts requests.
func TestSharedLayersReadOnce(t *testing.T) {
	var mu sync.Mutex
	gets := map[string]int{}
	reg := fixtures.StartRegistry(func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/") {
				mu.Lock()
				gets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		})
	})
	t.Cleanup(reg.Close)
	var c fixtures.Case
	for _, x := range fixtures.Cases() {
		if x.Name == "added-file" {
			c = x
		}
	}
	ctx := t.Context()
	a, err := image.Open(ctx, reg.MustPush(t, "once/a", "v", c.A), image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := image.Open(ctx, reg.MustPush(t, "once/b", "v", c.B), image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clear(gets)
	mu.Unlock()
	if _, err := compare.Images(ctx, a, b, compare.Options{}); err != nil {
		t.Fatal(err)
	}
	shared := a.Images[0].Layers[0].Descriptor.Digest
	if shared != b.Images[0].Layers[0].Descriptor.Digest {
		t.Fatal("fixture: the base layers should be shared")
	}
	if n := gets[shared.String()]; n != 1 {
		t.Errorf("shared layer %s fetched %d times, want 1", shared, n)
	}
	for _, img := range []*image.Resolved{a, b} {
		d := img.Images[0].Layers[1].Descriptor.Digest.String()
		if gets[d] != 1 {
			t.Errorf("layer %s fetched %d times, want 1", d, gets[d])
		}
	}
}
