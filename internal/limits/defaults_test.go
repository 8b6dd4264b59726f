package limits

import (
	"testing"
	"time"
)

// TestWithDefaults: every field given is kept; a zero one (or a negative
// number) takes its default, nested structs too.
func TestWithDefaults(t *testing.T) {
	type inner struct{ MaxDepth int }
	type lim struct {
		MaxBytes  int64
		MaxCount  int
		MaxWindow uint64
		Timeout   time.Duration
		Inner     inner
		unexp     int
	}
	d := lim{MaxBytes: 10, MaxCount: 20, MaxWindow: 30, Timeout: time.Second, Inner: inner{MaxDepth: 3}, unexp: 9}
	for _, c := range []struct {
		name    string
		in, out lim
	}{
		{"all zero", lim{}, lim{MaxBytes: 10, MaxCount: 20, MaxWindow: 30, Timeout: time.Second, Inner: inner{MaxDepth: 3}}},
		{"all given", lim{MaxBytes: 1, MaxCount: 2, MaxWindow: 3, Timeout: time.Minute, Inner: inner{MaxDepth: 4}}, lim{MaxBytes: 1, MaxCount: 2, MaxWindow: 3, Timeout: time.Minute, Inner: inner{MaxDepth: 4}}},
		{"negative is unset", lim{MaxBytes: -1, MaxCount: 5, Timeout: -time.Second}, lim{MaxBytes: 10, MaxCount: 5, MaxWindow: 30, Timeout: time.Second, Inner: inner{MaxDepth: 3}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := WithDefaults(c.in, d); got != c.out {
				t.Errorf("WithDefaults(%+v) = %+v, want %+v", c.in, got, c.out)
			}
		})
	}
}
