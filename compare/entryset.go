package compare

import (
	"hash/maphash"
	"iter"

	"github.com/reprover/reprover/layer"
)

// entrySet holds the entries of a merged view by path: a map[string]*layer.Entry
// whose keys are the entries' own paths, so that it holds the pointers
// only (a third of a Go map's memory). Open addressing with linear
// probing, at most 3/4 full, deletion by backward shift (no tombstones).
// The seed is random: paths chosen to collide cannot slow it down.
type entrySet struct {
	seed  maphash.Seed
	slots []*layer.Entry // a power of two of them
	n     int
}

func newEntrySet() *entrySet {
	return &entrySet{seed: maphash.MakeSeed(), slots: make([]*layer.Entry, 8)}
}

func (s *entrySet) home(p string) int {
	return int(maphash.String(s.seed, p) & uint64(len(s.slots)-1))
}

// find returns the slot holding p, or the empty slot ending its probe.
func (s *entrySet) find(p string) int {
	mask := len(s.slots) - 1
	i := s.home(p)
	for s.slots[i] != nil && s.slots[i].Path != p {
		i = (i + 1) & mask
	}
	return i
}

func (s *entrySet) get(p string) (*layer.Entry, bool) {
	e := s.slots[s.find(p)]
	return e, e != nil
}

func (s *entrySet) has(p string) bool { return s.slots[s.find(p)] != nil }

func (s *entrySet) len() int { return s.n }

// put sets e at e.Path, replacing the entry there.
func (s *entrySet) put(e *layer.Entry) {
	i := s.find(e.Path)
	if s.slots[i] == nil {
		if (s.n+1)*4 > len(s.slots)*3 {
			s.grow()
			i = s.find(e.Path)
		}
		s.n++
	}
	s.slots[i] = e
}

func (s *entrySet) grow() {
	old := s.slots
	s.slots = make([]*layer.Entry, 2*len(old))
	for _, e := range old {
		if e != nil {
			s.slots[s.find(e.Path)] = e
		}
	}
}

// delete removes the entry at p, if any, and moves the entries probed
// past it back, so that every entry stays reachable from its home slot.
func (s *entrySet) delete(p string) {
	mask := len(s.slots) - 1
	i := s.find(p)
	if s.slots[i] == nil {
		return
	}
	s.slots[i] = nil
	s.n--
	for j := (i + 1) & mask; s.slots[j] != nil; j = (j + 1) & mask {
		// The entry at j stays when its home is cyclically in (i, j].
		h := s.home(s.slots[j].Path)
		stays := i < h && h <= j
		if j < i {
			stays = i < h || h <= j
		}
		if !stays {
			s.slots[i], s.slots[j] = s.slots[j], nil
			i = j
		}
	}
}

func (s *entrySet) all() iter.Seq2[string, *layer.Entry] {
	return func(yield func(string, *layer.Entry) bool) {
		for _, e := range s.slots {
			if e != nil && !yield(e.Path, e) {
				return
			}
		}
	}
}

// entryMap is a path → entry map as diffEntries reads it: a merged view's
// entrySet, or a layer's pathMap.
type entryMap interface {
	get(p string) (*layer.Entry, bool)
	all() iter.Seq2[string, *layer.Entry]
}

// pathMap is a layer's entries by path (layerMap), where whiteouts are
// keyed apart from the paths they hide.
type pathMap map[string]*layer.Entry

func (m pathMap) get(p string) (*layer.Entry, bool) {
	e, ok := m[p]
	return e, ok
}

func (m pathMap) all() iter.Seq2[string, *layer.Entry] {
	return func(yield func(string, *layer.Entry) bool) {
		for p, e := range m {
			if !yield(p, e) {
				return
			}
		}
	}
}
