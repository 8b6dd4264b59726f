package render

import (
	"fmt"
	"strings"

	"github.com/reprover/reprover/internal/text"
)

// maxDiffCells bounds the line-by-line table of UnifiedDiff; larger pairs
// get a one-line summary instead of a diff.
const maxDiffCells = 1 << 20

// UnifiedDiff renders a unified diff (3 lines of context) of two small
// texts. The names are made visible (text.Visible): a newline in a file's
// name must not read as a line of the diff.
func UnifiedDiff(nameA, nameB, a, b string) string {
	nameA, nameB = text.Visible(nameA), text.Visible(nameB)
	la, lb := splitLines(a), splitLines(b)
	n, m := len(la), len(lb)
	if (n+1)*(m+1) > maxDiffCells {
		return fmt.Sprintf("--- %s\n+++ %s\n(%d and %d lines: too many to diff)\n", nameA, nameB, n, m)
	}
	ops := diffOps(la, lb)
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- %s\n+++ %s\n", nameA, nameB)
	for k := 0; k < len(ops); {
		if ops[k].kind == ' ' {
			k++
			continue
		}
		start, end := hunkAt(ops, k)
		writeHunk(&sb, ops[start:end])
		k = end
	}
	return sb.String()
}

// diffContext is how many unchanged lines a hunk shows around a change.
const diffContext = 3

// op is a line of a diff: kept (' '), removed ('-') or added ('+'), with
// where it is in a (ai) and in b (bi).
type op struct {
	kind   byte
	text   string
	ai, bi int
}

// diffOps are the lines of la and lb as kept, removed or added: the
// longest common subsequence kept.
func diffOps(la, lb []string) []op {
	n, m := len(la), len(lb)
	// lcs[i][j] = length of the longest common subsequence of la[i:], lb[j:].
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if la[i] == lb[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var ops []op
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && j < m && la[i] == lb[j]:
			ops = append(ops, op{' ', la[i], i, j})
			i, j = i+1, j+1
		case i < n && (j == m || lcs[i+1][j] >= lcs[i][j+1]):
			ops = append(ops, op{'-', la[i], i, j})
			i++
		default:
			ops = append(ops, op{'+', lb[j], i, j})
			j++
		}
	}
	return ops
}

// hunkAt is the hunk whose first change is ops[k]: its context before,
// the changes that follow with at most 2*diffContext kept lines between
// them, and its context after.
func hunkAt(ops []op, k int) (start, end int) {
	start, end = max(k-diffContext, 0), k
	for end < len(ops) {
		if ops[end].kind != ' ' {
			end++
			continue
		}
		run := end
		for run < len(ops) && ops[run].kind == ' ' {
			run++
		}
		if run-end > 2*diffContext || run == len(ops) {
			return start, min(end+diffContext, len(ops))
		}
		end = run
	}
	return start, end
}

// writeHunk writes one hunk: its header, then its lines.
func writeHunk(sb *strings.Builder, h []op) {
	var aLen, bLen int
	for _, o := range h {
		if o.kind != '+' {
			aLen++
		}
		if o.kind != '-' {
			bLen++
		}
	}
	fmt.Fprintf(sb, "@@ -%s +%s @@\n", hunkRange(h[0].ai, aLen), hunkRange(h[0].bi, bLen))
	for _, o := range h {
		sb.WriteByte(o.kind)
		sb.WriteString(o.text)
		if !strings.HasSuffix(o.text, "\n") {
			sb.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start+1)
	}
	return fmt.Sprintf("%d,%d", start+1, n)
}

// splitLines splits s after each newline, keeping the newlines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}
