package bake

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/reprover/reprover/internal/limits"
)

// TestEvaluationBudget: a small bake file must not make Load allocate
// gigabytes. Each case copies a 60 KB string many times over through a
// construct the budget once counted as free (an iteration variable, a
// template directive, a conditional, a splat, a function's result); each
// must fail with the budget's limit error, naming both numbers, having
// allocated a bounded amount (without the budget, each allocates over a
// gigabyte).
func TestEvaluationBudget(t *testing.T) {
	a := "A = \"" + strings.Repeat("a", 60<<10) + "\"\n"
	twenty := strings.Repeat("${x}", 20)
	for _, tc := range []struct {
		name, src string
	}{
		{"iteration variable in a template", "X = [for x in [A, A] : [for i in range(1000) : \"" + twenty + "\"]]\n"},
		{"template for directive", "X = [for x in [A, A] : [for i in range(1000) : \"%{for j in [1, 2, 3, 4, 5]}" + twenty + "%{endfor}\"]]\n"},
		{"object for", "X = [for x in [A, A] : {for i in range(1000) : i => \"" + twenty + "\"}]\n"},
		{"conditional", "X = [for x in [A, A] : [for i in range(1000) : \"" + strings.Repeat("${i >= 0 ? x : \"\"}", 20) + "\"]]\n"},
		{"splat", "X = [for x in [[{s = A}], [{s = A}]] : [for i in range(1000) : \"" + strings.Repeat("${(x[*].s)[0]}", 20) + "\"]]\n"},
		{"function result", "X = [for x in [A, A] : [for i in range(1000) : \"" + strings.Repeat("${try(x, \"\")}", 20) + "\"]]\n"},
		{"format repeating one argument", "F = join(\"\", [for i in range(1000) : \"" + strings.Repeat("%[1]s", 10) + "\"])\nX = format(F, A)\n"},
		{"join with a long separator", "X = join(A, [for i in range(1000) : \"\"])\n"},
		// The lexer cuts a string at each '%' and '$', and the parser
		// joined the pieces in quadratic time: a minute for this one.
		{"a string of 200,000 pieces", "X = \"" + strings.Repeat("%a", 100000) + "\"\n"},
		{"a string of pieces between interpolations", "X = \"" + strings.Repeat("%a${1}", 30000) + "\"\n"},
		{"a heredoc of 100,000 lines", "X = <<EOT\n" + strings.Repeat("a\n", 100000) + "EOT\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := a + tc.src + "target \"default\" {}\n"
			if len(src) > DefaultLimits.MaxFileSize {
				t.Fatalf("the case is %d bytes, over DefaultLimits.MaxFileSize", len(src))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Load([]byte(src), "hostile.hcl", nil, Limits{})
			runtime.ReadMemStats(&after)
			allocated := after.TotalAlloc - before.TotalAlloc
			t.Logf("%v; %d MiB allocated", err, allocated>>20)
			if allocated > 512<<20 {
				t.Errorf("Load allocated %d MiB from a %d KiB file", allocated>>20, len(src)>>10)
			}
			var be *Error
			var le *limits.Error
			switch {
			case err == nil:
				t.Fatal("Load accepted it")
			case !errors.As(err, &be) || !strings.HasPrefix(err.Error(), "hostile.hcl:"):
				t.Errorf("error %v is not an *Error naming the file and line", err)
			case !errors.As(err, &le):
				t.Errorf("error %v is not a *limits.Error", err)
			case !strings.Contains(err.Error(), fmt.Sprintf("=%d", le.Max)) || le.Got <= le.Max:
				t.Errorf("error %v does not name the limit and what was seen", err)
			}
		})
	}
}

// TestTypeIsNotEvaluated: a variable's type is read as syntax. It was
// once evaluated (with no variables and no functions) to recognise
// type = null, out of the budget's reach: nested for expressions over
// literal tuples could iterate for ever.
func TestTypeIsNotEvaluated(t *testing.T) {
	tuple := "[" + strings.Repeat("0, ", 1000) + "]"
	src := "variable \"V\" {\n  type = [for a in " + tuple + " : [for b in " + tuple + " : [for c in " + tuple + " : \"" + strings.Repeat("x", 1000) + "\"]]]\n}\n"
	_, err := Load([]byte(src), "type.hcl", nil, Limits{})
	checkErr(t, err, "type.hcl:2:10:", "Invalid type specification", false)
	for _, typ := range []string{"null", "string", "list(string)", "any"} {
		if _, err := Load([]byte("variable \"V\" {\n  type = "+typ+"\n}\n"), "type.hcl", nil, Limits{}); err != nil {
			t.Errorf("type = %s: %v", typ, err)
		}
	}
}
