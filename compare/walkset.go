package compare

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/layer"
)

// walkSet reads each distinct layer once.
type walkSet struct {
	mu      sync.Mutex
	total   *atomic.Int64 // uncompressed bytes read
	entries *atomic.Int64 // tar entries kept (MaxTotalEntries)
	m       map[v1.Hash]*walkFuture
	lim     Limits
	gz      layer.Gunzipper
	index   *Index
	logger  *slog.Logger
	hooks   hooks
	// scratch is the directory the walks keep their entries in.
	scratch string
	// twins maps layers to layers of the other image that claim the
	// same diff_id at the same index: a layer here is only decompressed
	// and hashed, and once its diffID is found to be its twin's, it
	// borrows the twin's walk (read). The twins themselves are walked.
	twins map[v1.Hash]v1.Hash
	// bare are the twins' layers whose entries are compared with
	// nothing but themselves (every layer above the shared ones of
	// their pairs is a twin): walked without hashing their contents.
	bare map[v1.Hash]bool
}

// read runs each layer that plan starts, and has not been read before,
// parallel at most at a time, and waits for them.
func (s *walkSet) read(ctx context.Context, parallel int, plan func(start func(image.Layer))) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	plan(func(l image.Layer) {
		f := s.claim(l)
		if f == nil {
			return
		}
		g.Go(func() error {
			w, twin, err := s.walk(gctx, l)
			if err == nil && w.Entries() != nil {
				if n := s.entries.Add(int64(w.Entries().Len())); n > s.lim.MaxTotalEntries {
					err = &LimitError{What: "tar entries kept by this comparison", Limit: "MaxTotalEntries", Max: s.lim.MaxTotalEntries, Got: n}
				}
			}
			f.w, f.twin, f.err = w, twin, err
			close(f.done)
			return err
		})
	})
	if err := g.Wait(); err != nil {
		return err
	}
	return s.borrow()
}

// borrow gives each layer read for its twin's sake the twin's walk,
// after checking that their uncompressed bytes hash alike: the same
// bytes, so the same entries.
func (s *walkSet) borrow() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for d, f := range s.m {
		w := f.w
		if w == nil || f.twin == (v1.Hash{}) || w.Entries() != nil {
			continue
		}
		t := s.m[f.twin]
		if t == nil || t.w == nil {
			return fmt.Errorf("layer %s: the layer it was to be compared by, %s, was not read", d, f.twin)
		}
		if t.w.DiffID != w.DiffID {
			return fmt.Errorf("layers %s and %s claim the same diff_id, but their uncompressed contents hash to %s and %s", d, f.twin, w.DiffID, t.w.DiffID)
		}
		w.Borrow(t.w)
	}
	return nil
}

// walk returns the walk of l: from the index, or read and then indexed;
// and the layer whose walk it is to borrow (a twin's), if any. The
// diff_id claims are checked on it by get, wherever it came from.
func (s *walkSet) walk(ctx context.Context, l image.Layer) (*layer.Walked, v1.Hash, error) {
	d := l.Descriptor.Digest
	lim := s.lim.walk()
	if s.index != nil {
		w, why := s.index.Load(d, lim, s.scratch)
		if w != nil {
			s.logger.Debug("layer from the index", "digest", d)
			return w, v1.Hash{}, nil
		}
		if why != "" {
			s.logger.Debug("layer index entry discarded", "digest", d, "because", why)
		}
	}
	if s.hooks.walked != nil {
		s.hooks.walked(l)
	}
	o := layer.Options{Limits: lim, Gunzip: s.gz, Total: s.total, Scratch: s.scratch}
	if t, ok := s.twins[d]; ok {
		s.logger.Debug("hashing layer, its twin walked", "digest", d, "twin", t, "size", l.Descriptor.Size)
		if s.hooks.hashed != nil {
			s.hooks.hashed(l)
		}
		o.HashOnly = true
		w, err := layer.Walk(ctx, l, o)
		return w, t, err
	}
	s.logger.Debug("reading layer", "digest", d, "size", l.Descriptor.Size)
	o.Bare = s.bare[d]
	if o.Bare && s.hooks.bare != nil {
		s.hooks.bare(l)
	}
	w, err := layer.Walk(ctx, l, o)
	if err == nil && s.index != nil && !o.Bare { // a bare walk has no digests to keep
		if err := s.index.Store(d, lim, w); err != nil {
			s.logger.Warn("keeping a layer in the index", "digest", d, "error", err)
		}
	}
	return w, v1.Hash{}, err
}

type walkFuture struct {
	done chan struct{}
	w    *layer.Walked
	// twin, when set, is the digest of a layer whose uncompressed bytes
	// this one's were found to be: this one was only decompressed and
	// hashed, and borrows the twin's walk (walkSet.twins).
	twin v1.Hash
	err  error
}

// claim returns a future to fill when l's digest has not been claimed yet.
func (s *walkSet) claim(l image.Layer) *walkFuture {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[l.Descriptor.Digest]; ok {
		return nil
	}
	f := &walkFuture{done: make(chan struct{})}
	s.m[l.Descriptor.Digest] = f
	return f
}

// close closes the walks' scratch files.
func (s *walkSet) close() {
	for _, f := range s.m {
		<-f.done
		if f.w != nil && f.twin == (v1.Hash{}) {
			f.w.Remove()
		}
	}
}

// peek returns the walk of l when it was read without error, else nil;
// it does not wait.
func (s *walkSet) peek(l image.Layer) *layer.Walked {
	s.mu.Lock()
	f := s.m[l.Descriptor.Digest]
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	select {
	case <-f.done:
		if f.err == nil {
			return f.w
		}
	default:
	}
	return nil
}

// get returns the walk of l, checking l's own diffID claim against what
// the (possibly shared) walk found.
func (s *walkSet) get(l image.Layer) (*layer.Walked, error) {
	s.mu.Lock()
	f := s.m[l.Descriptor.Digest]
	s.mu.Unlock()
	<-f.done
	if f.err != nil {
		return nil, f.err
	}
	if l.DiffID.Hex != "" && f.w.DiffID != l.DiffID.String() {
		return nil, fmt.Errorf("layer %d %s: uncompressed content hashes to %s, the config's diff_id is %s", l.Index+1, l.Descriptor.Digest, f.w.DiffID, l.DiffID)
	}
	// The walk is shared by every image that lists this blob, but each
	// lists it under its own media type: judge that claim per image.
	w := *f.w
	if mf := layer.MediaTypeFinding(l.Descriptor.MediaType, w.Compression); mf != nil {
		w.Findings = append(mf, w.Findings...)
	}
	return &w, nil
}
