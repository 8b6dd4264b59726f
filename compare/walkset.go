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
)

// walkSet reads each distinct layer once.
type walkSet struct {
	mu      sync.Mutex
	total   *atomic.Int64 // uncompressed bytes read
	entries *atomic.Int64 // tar entries kept (MaxTotalEntries)
	m       map[v1.Hash]*walkFuture
	lim     Limits
	gz      gunzipper
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
			w, err := s.walk(gctx, l)
			if err == nil && w.entries != nil {
				if n := s.entries.Add(int64(w.entries.count)); n > s.lim.MaxTotalEntries {
					err = &LimitError{What: "tar entries kept by this comparison", Limit: "MaxTotalEntries", Max: s.lim.MaxTotalEntries, Got: n}
				}
			}
			f.w, f.err = w, err
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
		if w == nil || w.twin == (v1.Hash{}) || w.entries != nil {
			continue
		}
		t := s.m[w.twin]
		if t == nil || t.w == nil {
			return fmt.Errorf("layer %s: the layer it was to be compared by, %s, was not read", d, w.twin)
		}
		if t.w.DiffID != w.DiffID {
			return fmt.Errorf("layers %s and %s claim the same diff_id, but their uncompressed contents hash to %s and %s", d, w.twin, w.DiffID, t.w.DiffID)
		}
		w.entries, w.Findings, w.Trailing = t.w.entries, t.w.Findings, t.w.Trailing
	}
	return nil
}

// walk returns the walk of l: from the index, or read and then indexed.
// The diff_id claims are checked on it by get, wherever it came from.
func (s *walkSet) walk(ctx context.Context, l image.Layer) (*walked, error) {
	d := l.Descriptor.Digest
	if s.index != nil {
		w, why := s.index.load(d, s.lim, s.scratch)
		if w != nil {
			s.logger.Debug("layer from the index", "digest", d)
			return w, nil
		}
		if why != "" {
			s.logger.Debug("layer index entry discarded", "digest", d, "because", why)
		}
	}
	if s.hooks.walked != nil {
		s.hooks.walked(l)
	}
	if t, ok := s.twins[d]; ok {
		s.logger.Debug("hashing layer, its twin walked", "digest", d, "twin", t, "size", l.Descriptor.Size)
		if s.hooks.hashed != nil {
			s.hooks.hashed(l)
		}
		w, err := walkLayer(ctx, l, s.lim, s.gz, s.total, walkTo{hashOnly: true})
		if err == nil {
			w.twin = t
		}
		return w, err
	}
	s.logger.Debug("reading layer", "digest", d, "size", l.Descriptor.Size)
	bare := s.bare[d]
	if bare && s.hooks.bare != nil {
		s.hooks.bare(l)
	}
	w, err := walkLayer(ctx, l, s.lim, s.gz, s.total, walkTo{scratch: s.scratch, bare: bare})
	if err == nil && s.index != nil && !bare { // a bare walk has no digests to keep
		if err := s.index.store(d, s.lim, w); err != nil {
			s.logger.Warn("keeping a layer in the index", "digest", d, "error", err)
		}
	}
	return w, err
}

type walkFuture struct {
	done chan struct{}
	w    *walked
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
		if f.w != nil && f.w.twin == (v1.Hash{}) {
			f.w.entries.remove()
		}
	}
}

// peek returns the walk of l when it was read without error, else nil;
// it does not wait.
func (s *walkSet) peek(l image.Layer) *walked {
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
func (s *walkSet) get(l image.Layer) (*walked, error) {
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
	if mf := mediaTypeFinding(l.Descriptor.MediaType, w.Compression); mf != nil {
		w.Findings = append(mf, w.Findings...)
	}
	return &w, nil
}
