package inspect

import (
	"testing"

	"github.com/reprover/reprover/layer"
)

// FuzzView applies any sequence of entries, whiteouts and opaque markers
// to a merged view, layer by layer: it never panics, its count of paths
// is the number of paths it holds (MaxPaths counts right), and what it
// reports hidden was put there by an earlier layer.
func FuzzView(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{1, 0x21, 0x41, 0x61, 0x81, 0x11, 0x31, 0x71})
	f.Fuzz(func(t *testing.T, ops []byte) {
		names := []string{"/a", "/a/b", "/a/b/c", "/a/d", "/e", "/a/b/c/f"}
		at := 1
		v := newView(1<<20, func(check string, n *node, p string, by int, how string) {
			if n.layer >= by {
				t.Fatalf("%s %s: added by layer %d, hidden by layer %d", check, p, n.layer, by)
			}
		})
		for _, op := range ops {
			p := names[int(op>>3)%len(names)]
			var err error
			switch op & 7 {
			case 0:
				at++
			case 1, 2:
				e := &layer.Entry{Path: p, Type: layer.KindFile, Mode: 0o644, Size: int64(op)}
				e.SetDigest([]byte{op})
				_, err = v.put(e, at)
			case 3:
				_, err = v.put(&layer.Entry{Path: p, Type: layer.KindDir, Mode: 0o755}, at)
			case 4:
				_, err = v.put(&layer.Entry{Path: p, Type: layer.KindSymlink}, at)
			case 5:
				err = v.whiteout(p, at)
			case 6:
				err = v.opaque(p, at)
			case 7:
				_, err = v.put(&layer.Entry{Path: "/", Type: layer.KindDir, Mode: 0o755}, at)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		n := int64(-1) // the root is not a path counted
		v.walk(func(string, *node) { n++ })
		if n != v.paths {
			t.Errorf("the view holds %d paths, counts %d", n, v.paths)
		}
	})
}
