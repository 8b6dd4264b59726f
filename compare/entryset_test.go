package compare

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/reprover/reprover/layer"
)

// TestEntrySet: random puts, replacements and deletions agree with a Go
// map at every step, through growth and probe runs that wrap around.
func TestEntrySet(t *testing.T) {
	for _, keys := range []int{3, 20, 500} {
		t.Run(fmt.Sprint(keys), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(keys), 1))
			s, m := newEntrySet(), map[string]*layer.Entry{}
			for step := range 20_000 {
				p := fmt.Sprintf("/p%d", rng.IntN(keys))
				switch rng.IntN(3) {
				case 0, 1:
					e := &layer.Entry{Path: p, Size: int64(step)}
					s.put(e)
					m[p] = e
				case 2:
					s.delete(p)
					delete(m, p)
				}
				if got, ok := s.get(p); got != m[p] || ok != (m[p] != nil) {
					t.Fatalf("step %d: %s is %v, want %v", step, p, got, m[p])
				}
				if s.len() != len(m) {
					t.Fatalf("step %d: %d entries, want %d", step, s.len(), len(m))
				}
			}
			n := 0
			for p, e := range s.all() {
				if m[p] != e {
					t.Errorf("%s is %v, want %v", p, e, m[p])
				}
				n++
			}
			for p, e := range m {
				if got, _ := s.get(p); got != e {
					t.Errorf("%s is %v, want %v", p, got, e)
				}
			}
			if n != len(m) {
				t.Errorf("%d entries listed, want %d", n, len(m))
			}
		})
	}
}
