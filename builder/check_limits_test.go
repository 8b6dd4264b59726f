package builder

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/reprover/reprover/internal/limits"
)

// TestCheckExpansionLimits: a Dockerfile whose ARGs multiply (each line
// 16 references to the one before: 579 bytes would expand to gigabytes)
// fails on the line that would pass a limit, naming both numbers, before
// it allocates much.
func TestCheckExpansionLimits(t *testing.T) {
	bomb := "ARG A0=aaaaaaaaaa\n"
	for i := 1; i <= 20; i++ {
		bomb += fmt.Sprintf("ARG A%d=%s\n", i, strings.Repeat(fmt.Sprintf("${A%d}", i-1), 16))
	}
	bomb += "FROM scratch\n"
	// Each line expands nearly 1 MiB (the most one expansion may be): 17 of
	// them pass the total.
	wide := "ARG K=" + strings.Repeat("k", 1024) + "\nARG M=" + strings.Repeat("$K", 1000) + "\n"
	for i := range 20 {
		wide += fmt.Sprintf("ARG W%d=$M\n", i)
	}
	wide += "FROM scratch\n"
	for _, c := range []struct {
		name, dockerfile, limit string
		line                    int
		max                     int64
		// alloc bounds what Check allocates in all (BuildKit's lexer
		// copies each result a few times), not at once.
		alloc uint64
	}{
		{"doubling ARGs", bomb, "maxExpandedBytes", 6, maxExpandedBytes, 16 << 20},
		{"many large ARGs", wide, "maxExpandedTotalBytes", 18, maxExpandedTotalBytes, 10 * maxExpandedTotalBytes},
	} {
		t.Run(c.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := Check([]byte(c.dockerfile), "Dockerfile", CheckOptions{})
			runtime.ReadMemStats(&after)
			var le *limits.Error
			if !errors.As(err, &le) || le.Limit != c.limit || le.Max != c.max || le.Got <= le.Max {
				t.Fatalf("err = %v, want a *limits.Error for %s over %d", err, c.limit, c.max)
			}
			if want := fmt.Sprintf("Dockerfile:%d: ", c.line); !strings.HasPrefix(err.Error(), want) {
				t.Errorf("err = %v, want it to start %q", err, want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > c.alloc {
				t.Errorf("Check allocated %d bytes before refusing, more than %d", alloc, c.alloc)
			}
		})
	}
}
