package causes

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Count is how many differences one cause explains.
type Count struct {
	Cause Cause
	N     int
	// Paths are the first few paths, for the summary.
	Paths []string
}

// Tally counts findings by cause, the most frequent first (ties in the
// table's order). paths[i] is the path of findings[i].
func Tally(findings []Finding, paths []string) []Count {
	byID := map[string]*Count{}
	for i, f := range findings {
		c, ok := byID[f.Cause]
		if !ok {
			cause, err := ByID(f.Cause)
			if err != nil {
				cause = Unknown
			}
			c = &Count{Cause: cause}
			byID[f.Cause] = c
		}
		c.N++
		if len(c.Paths) < 3 && i < len(paths) {
			c.Paths = append(c.Paths, paths[i])
		}
	}
	out := make([]Count, 0, len(byID))
	for _, c := range byID {
		out = append(out, *c)
	}
	order := func(c Cause) int { return slices.IndexFunc(Table, func(t Cause) bool { return t.ID == c.ID }) }
	slices.SortFunc(out, func(a, b Count) int {
		return cmp.Or(cmp.Compare(b.N, a.N), cmp.Compare(order(a.Cause), order(b.Cause)))
	})
	return out
}

// Hints words a tally for a report's hints, one per cause: "14 of 16
// differences: package manager logs and caches (/var/log/dpkg.log, …).
// Fix: … (doc)".
func Hints(counts []Count) []string {
	total := 0
	for _, c := range counts {
		total += c.N
	}
	var out []string
	for _, c := range counts {
		more := ""
		if c.N > len(c.Paths) {
			more = ", …"
		}
		out = append(out, fmt.Sprintf("%d of %d differences: %s (%s%s). Fix: %s (%s)",
			c.N, total, c.Cause.Title, strings.Join(c.Paths, ", "), more, c.Cause.Fix, c.Cause.URL()))
	}
	return out
}
