package layer_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/layer"
)

// A layer's compressed bytes walked once: its entries, in tree order,
// each as an unpacker applies it.
func ExampleWalkOpened() {
	gz := fixtures.Compress(fixtures.Tar(
		fixtures.Dir("etc/"),
		fixtures.File("etc/hostname", "box\n"),
		fixtures.Symlink("etc/localtime", "/usr/share/zoneinfo/UTC"),
		fixtures.Whiteout("etc", "motd"),
	), fixtures.Gzip)
	scratch, err := os.MkdirTemp("", "example-*")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(scratch)
	open := func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(gz)), nil }
	w, err := layer.WalkOpened(context.Background(), open, "example layer", layer.Options{Limits: layer.DefaultLimits, Scratch: scratch})
	if err != nil {
		panic(err)
	}
	defer w.Remove()
	fmt.Println(w.Compression, w.Entries().Len(), "entries")
	for e, err := range w.All() {
		if err != nil {
			panic(err)
		}
		fmt.Println(strings.TrimSpace(fmt.Sprintf("%-14s %-8s %04o %s%s", e.Path, e.TypeName(), e.Mode, e.Digest(), e.Linkname())))
	}
	// Output:
	// gzip 4 entries
	// /etc           dir      0755
	// /etc/hostname  file     0644 sha256:9d8f48dbb150f0403fe850ddeace30e2844a311d05e9bd232c7a0e99388773d1
	// /etc/localtime symlink  0777 /usr/share/zoneinfo/UTC
	// /etc/motd      whiteout 0600 sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
}
