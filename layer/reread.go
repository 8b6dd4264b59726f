package layer

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/reprover/reprover/image"
)

// ReadAgain reads a layer's tar a second time, to read the contents of
// the entries at the paths wanted: it calls entry for each entry (path
// absolute and cleaned, as the walk names it), then done with a function
// that tells whether a path was in the layer or hidden by one of its
// whiteouts.
//
// When w, the walk of the layer, is given, what the layer
// holds is known: it is not opened when it has no entry at a path wanted,
// and decompressed only up to the last such entry; the content of each
// such entry is checked against the digest the walk found for it (the
// walk's bytes were checked against the layer's digest), so a layer
// served otherwise the second time is an error, never an explanation.
// Without a walk, the layer is read to its end, where its digest is
// checked again.
func ReadAgain(ctx context.Context, l image.Layer, lim Limits, w *Walked, wanted []string, entry func(string, *tar.Header, io.Reader) error, done func(func(string) bool)) error {
	paths := layerPaths{seen: map[string]bool{}, whiteouts: map[string]bool{}}
	left, remaining := map[string]int{}, 0
	last := map[string]*Entry{} // the walk's last entry at each path wanted
	if w != nil {
		// What the walk has at the paths wanted and their parents: all
		// that whether those paths are hidden depends on.
		near := map[string]bool{}
		for _, p := range wanted {
			left[p] = 0
			for q := p; !near[q]; q = path.Dir(q) {
				near[q] = true
			}
		}
		st := NewStream(0, w.entries)
		for p, ok := st.Peek(); ok; p, ok = st.Peek() {
			rs := st.Take(p, nil)
			if !near[p] {
				continue
			}
			for _, r := range rs {
				switch e := r.Entry; {
				case e.Opaque:
					paths.opaques = append(paths.opaques, e.Path)
				case e.Whiteout:
					paths.whiteouts[e.Path] = true
				default:
					paths.seen[e.Path] = true
					if _, ok := left[e.Path]; ok {
						left[e.Path]++
						remaining++
						last[e.Path] = e
					}
				}
			}
		}
		if err := st.Err(); err != nil {
			return err
		}
		if remaining == 0 {
			done(paths.hidden)
			return nil
		}
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	// The Go decoder: the few layers explained need no speed, and it
	// checks what it reads itself.
	dec, err := newDecompressor(ctx, ctxReader{ctx, rc}, lim, Gunzipper{})
	if err != nil {
		return err
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	for n := 0; w == nil || remaining > 0; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n >= lim.MaxEntries {
			return &LimitError{What: "tar entries", Limit: "MaxEntries", Max: int64(lim.MaxEntries), Got: int64(n + 1)}
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue // not a file, as the walk reads it
		}
		p, _ := Normalize(h.Name) // as the walk names entries: a climbing name is not the path it climbs to
		dir, base := path.Split(p)
		switch {
		case base == WhiteoutOpaque:
			if w == nil {
				paths.opaques = append(paths.opaques, path.Clean(dir))
			}
			continue
		case strings.HasPrefix(base, WhiteoutPrefix):
			if w == nil {
				paths.whiteouts[path.Join(dir, strings.TrimPrefix(base, WhiteoutPrefix))] = true
			}
			continue
		}
		paths.seen[p] = true
		// The content of the last entry at a path wanted is what
		// explains it: it must hash as the walk found it.
		hr := &hashedRead{r: tr, h: sha256.New()}
		if err := entry(p, h, hr); err != nil {
			return err
		}
		if left[p] > 0 {
			if left[p] == 1 && TarKind(h.Typeflag) == KindFile && hr.n == h.Size {
				if e := last[p]; e == nil || !e.hasDigest || !bytes.Equal(hr.h.Sum(nil), e.digest[:]) {
					return fmt.Errorf("%s: read again, its content is not what the comparison read (%s): the layer changed between the reads", p, e.Digest())
				}
			}
			left[p]--
			remaining--
		}
	}
	done(paths.hidden)
	if w != nil {
		return nil // every content kept was checked against the walk's digests
	}
	// The raw stream to its end: the digest check runs at its EOF.
	_, err = io.Copy(io.Discard, rc)
	return err
}

// hashedRead hashes what is read through it.
type hashedRead struct {
	r io.Reader
	h hash.Hash
	n int64
}

func (r *hashedRead) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	return n, err
}

// layerPaths is what a layer holds, as its explanation needs it: the
// paths of its entries, of its whiteouts and of its opaque directories.
type layerPaths struct {
	seen, whiteouts map[string]bool
	opaques         []string
}

// hidden tells whether p is in the layer or hidden by its whiteouts.
func (l *layerPaths) hidden(p string) bool {
	if l.seen[p] || l.whiteouts[p] {
		return true
	}
	for q := path.Dir(p); ; q = path.Dir(q) {
		if l.whiteouts[q] || (q != p && slices.Contains(l.opaques, q)) {
			return true
		}
		if q == "/" {
			return false
		}
	}
}
