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
	r := &reread{paths: layerPaths{seen: map[string]bool{}, whiteouts: map[string]bool{}},
		left: map[string]int{}, last: map[string]*Entry{}, walked: w != nil}
	if w != nil {
		if err := r.plan(w, wanted); err != nil {
			return err
		}
		if r.remaining == 0 {
			done(r.paths.hidden)
			return nil
		}
	}
	rc, err := l.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := r.read(ctx, rc, lim, entry); err != nil {
		return err
	}
	done(r.paths.hidden)
	if w != nil {
		return nil // every content kept was checked against the walk's digests
	}
	// The raw stream to its end: the digest check runs at its EOF.
	_, err = io.Copy(io.Discard, rc)
	return err
}

// reread is one second read of a layer.
type reread struct {
	paths layerPaths
	// left counts the entries still to read at each path wanted, and
	// remaining all of them; last is the walk's last entry at each.
	left      map[string]int
	remaining int
	last      map[string]*Entry
	walked    bool // the paths come from the walk (plan), not the read
}

// plan learns from the walk what the layer has at the paths wanted and
// their parents: all that whether those paths are hidden depends on, and
// how many entries are to be read at each.
func (r *reread) plan(w *Walked, wanted []string) error {
	near := map[string]bool{}
	for _, p := range wanted {
		r.left[p] = 0
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
		for _, rec := range rs {
			switch e := rec.Entry; {
			case e.Opaque:
				r.paths.opaques = append(r.paths.opaques, e.Path)
			case e.Whiteout:
				r.paths.whiteouts[e.Path] = true
			default:
				r.paths.seen[e.Path] = true
				if _, ok := r.left[e.Path]; ok {
					r.left[e.Path]++
					r.remaining++
					r.last[e.Path] = e
				}
			}
		}
	}
	return st.Err()
}

// read reads the tar of rc, the layer's compressed bytes, calling entry
// for each entry: to its end, or with a plan up to the last entry wanted.
func (r *reread) read(ctx context.Context, rc io.Reader, lim Limits, entry func(string, *tar.Header, io.Reader) error) error {
	// The Go decoder: the few layers read again need no speed, and it
	// checks what it reads itself.
	dec, err := newDecompressor(ctx, ctxReader{ctx, rc}, lim, Gunzipper{})
	if err != nil {
		return err
	}
	defer dec.Close()
	tr := tar.NewReader(dec)
	for n := 0; !r.walked || r.remaining > 0; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
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
		if r.marker(p) {
			continue
		}
		r.paths.seen[p] = true
		hr := &hashedRead{r: tr, h: sha256.New()}
		if err := entry(p, h, hr); err != nil {
			return err
		}
		if err := r.check(p, h, hr); err != nil {
			return err
		}
	}
	return nil
}

// marker tells whether p names a whiteout marker, and notes it when
// the read, not a plan, learns the layer's paths.
func (r *reread) marker(p string) bool {
	dir, base := path.Split(p)
	switch {
	case base == WhiteoutOpaque:
		if !r.walked {
			r.paths.opaques = append(r.paths.opaques, path.Clean(dir))
		}
		return true
	case strings.HasPrefix(base, WhiteoutPrefix):
		if !r.walked {
			r.paths.whiteouts[path.Join(dir, strings.TrimPrefix(base, WhiteoutPrefix))] = true
		}
		return true
	}
	return false
}

// check counts an entry read at a path wanted. The content of the last
// one is what the caller keeps: it must hash as the walk found it.
func (r *reread) check(p string, h *tar.Header, hr *hashedRead) error {
	if r.left[p] == 0 {
		return nil
	}
	if r.left[p] == 1 && TarKind(h.Typeflag) == KindFile && hr.n == h.Size {
		if e := r.last[p]; !e.hasDigest || !bytes.Equal(hr.h.Sum(nil), e.digest[:]) {
			return fmt.Errorf("%s: read again, its content is not what the comparison read (%s): the layer changed between the reads", p, e.Digest())
		}
	}
	r.left[p]--
	r.remaining--
	return nil
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
