package builder

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/shell"

	"github.com/reprover/reprover/internal/limits"
)

// TestCheckExpansionLimits: a Dockerfile whose ARGs multiply (each line
// 16 references to the one before: 579 bytes would expand to gigabytes),
// or whose stages copy ever more variables, or run ever more ONBUILD
// instructions, fails on the line that would pass a limit, naming both
// numbers, before it allocates much.
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
	// Each stage built on the one before, with one more variable.
	chain := "FROM scratch AS s0\n"
	for i := 1; i < 1000; i++ {
		chain += fmt.Sprintf("ENV E%d=1\nFROM s%d AS s%d\n", i, i-1, i)
	}
	// 100 ONBUILD instructions run in each of 41 stages.
	onbuild := "FROM scratch AS a\n" + strings.Repeat("ONBUILD RUN true\n", 100) + strings.Repeat("FROM a\n", 41)
	for _, c := range []struct {
		name, dockerfile, limit string
		line                    int
		max                     int64
		// alloc bounds what Check allocates in all (BuildKit's lexer
		// copies each result a few times), not at once.
		alloc uint64
	}{
		{"doubling ARGs", bomb, "MaxExpandedBytes", 6, DefaultCheckLimits.MaxExpandedBytes, 16 << 20},
		{"many large ARGs", wide, "MaxExpandedTotalBytes", 18, DefaultCheckLimits.MaxExpandedTotalBytes, uint64(10 * DefaultCheckLimits.MaxExpandedTotalBytes)},
		{"a chain of stages", chain, "MaxInheritedVars", 835, DefaultCheckLimits.MaxInheritedVars, 64 << 20},
		{"ONBUILD in many stages", onbuild, "MaxOnbuildRuns", 98, DefaultCheckLimits.MaxOnbuildRuns, 64 << 20},
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
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > c.alloc*raceAlloc {
				t.Errorf("Check allocated %d bytes before refusing, more than %d", alloc, c.alloc*raceAlloc)
			}
		})
	}
}

// FuzzExpansionEstimate: the bound Check checks before expanding a word is
// never below what BuildKit's lexer makes of it, and Check never panics on
// a Dockerfile built around the word.
func FuzzExpansionEstimate(f *testing.F) {
	for _, seed := range []struct{ word, a, b string }{
		{"$A$B", "aaaa", "bb"},
		{"${A:-$B}${B:+$A$A}", "x", "yy"},
		{"${A//?/$B}", "abcdef", "0123456789"},
		{"${A/#a/${B//b/$A}}", "aaaa", "bbbb"},
		{"${1}$@${é}\\$A${A%%a*}", "a", "b"},
	} {
		f.Add(seed.word, seed.a, seed.b)
	}
	f.Fuzz(func(t *testing.T, word, a, b string) {
		s := newArgScope(shell.NewLex('\\'), nil, nil, &budget{lim: DefaultCheckLimits})
		s.baseEnvKnown = true
		s.vals["A"], s.vals["B"], s.vals["é"], s.vals["1"] = value{v: a}, value{v: b}, value{v: b}, value{v: a}
		est := s.estimate(word)
		if est > DefaultCheckLimits.MaxExpandedTotalBytes {
			return // refused before expanding
		}
		res, _, err := s.lex.ProcessWord(word, scopeEnv{s})
		if err == nil && int64(len(res)) > est {
			t.Fatalf("estimate %d < %d bytes expanded from %q (A=%q, B=%q)", est, len(res), word, a, b)
		}
		df := fmt.Sprintf("ARG A=%q\nFROM scratch\nARG A\nADD %s /x\n", a, strings.ReplaceAll(word, "\n", " "))
		_, _, _ = Check([]byte(df), "Dockerfile", CheckOptions{Resolver: fakeResolver{}})
	})
}

// TestCheckManyHosts: ADD names more hosts than Check looks up; the one
// past the limit fails, naming both numbers, and no host is looked up twice.
func TestCheckManyHosts(t *testing.T) {
	df := "FROM scratch\n"
	for i := range DefaultCheckLimits.MaxAddHosts + 1 {
		df += fmt.Sprintf("ADD http://h%d.example/a http://h%d.example/b /x/\n", i, i)
	}
	r := &countingResolver{}
	_, _, err := CheckContext(t.Context(), []byte(df), "Dockerfile", CheckOptions{Resolver: r, Platforms: []string{"linux/amd64", "linux/arm64"}})
	var le *limits.Error
	if !errors.As(err, &le) || le.Limit != "MaxAddHosts" || le.Max != int64(DefaultCheckLimits.MaxAddHosts) || le.Got != int64(DefaultCheckLimits.MaxAddHosts)+1 {
		t.Fatalf("err = %v, want a *limits.Error for MaxAddHosts", err)
	}
	if want := fmt.Sprintf("Dockerfile:%d: ", DefaultCheckLimits.MaxAddHosts+2); !strings.HasPrefix(err.Error(), want) {
		t.Errorf("err = %v, want it to start %q", err, want)
	}
	if r.n != DefaultCheckLimits.MaxAddHosts {
		t.Errorf("%d lookups, want %d", r.n, DefaultCheckLimits.MaxAddHosts)
	}
}

// countingResolver counts lookups; no name resolves.
type countingResolver struct{ n int }

func (r *countingResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.n++
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// TestCheckLargeDockerfile: a Dockerfile as large as Check reads, every
// line a violation, an ARG or a download, is checked in time linear in
// its size (each finding recorded once, in a set).
func TestCheckLargeDockerfile(t *testing.T) {
	var b strings.Builder
	b.WriteString("FROM scratch\n")
	for i := 0; int64(b.Len()) < DefaultCheckLimits.MaxDockerfileBytes-100; i++ {
		fmt.Fprintf(&b, "ARG A%d=%d\nADD http://h.example/$A%d /x\nRUN wget -qO- x | sh\n", i, i, i)
	}
	start := time.Now()
	vs, in, err := CheckContext(t.Context(), []byte(b.String()), "Dockerfile", CheckOptions{Resolver: fakeResolver{}})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) < 10000 || len(in.Args) < 10000 {
		t.Fatalf("%d violations, %d args: want one per line", len(vs), len(in.Args))
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("Check took %s", d)
	}
}
