package service

import (
	"strings"
	"testing"

	"github.com/reprover/reprover/internal/text/texttest"
	"github.com/reprover/reprover/verify"
)

// TestPagesShowVisible fills every string of a verification, its request
// and its report with escape sequences, C1 and bidi controls and a
// newline: the list and the verification's page hold none of them, in
// every state of the banner (issue 25).
func TestPagesShowVisible(t *testing.T) {
	for _, verdict := range append([]verify.Verdict{texttest.Hostile}, verify.Verdicts...) {
		name := string(verdict)
		if verdict == texttest.Hostile {
			name = "hostile"
		}
		t.Run(name, func(t *testing.T) {
			var v Verification
			var rep verify.Report
			texttest.Fill(&v, texttest.Hostile, 8)
			texttest.Fill(&rep, texttest.Hostile, 8)
			if verdict != texttest.Hostile {
				v.Status, v.Verdict = StatusDone, verdict
			}
			f := Filter{Image: texttest.Hostile, Commit: texttest.Hostile, Verdict: texttest.Hostile, Status: texttest.Hostile}
			for name, data := range map[string]any{
				"verification.html": map[string]any{"Head": head{Title: "Verification " + v.ID}, "V": &v, "R": &rep, "S": summarize(&v, &rep)},
				"index.html": map[string]any{"Head": head{Title: "Verifications"}, "Items": []Verification{v}, "Filter": f, "Filtered": true,
					"Notice": texttest.Hostile, "Paged": true, "Next": texttest.Hostile, "NextURL": "/?cursor=x",
					"Verdicts": verify.Verdicts, "Statuses": []string{StatusQueued, StatusRunning, StatusDone, StatusFailed},
					"Images": map[string]*ImageSummary{v.ImageDigest: {Highest: texttest.Hostile, Passed: 2, Checked: 1}}},
			} {
				var b strings.Builder
				if err := pages.ExecuteTemplate(&b, name, data); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if i := texttest.Hidden(b.String()); i >= 0 {
					t.Errorf("%s holds %q: %s", name, b.String()[i:i+1], texttest.Around(b.String(), i))
				}
			}
		})
	}
}
