package text

import (
	"bytes"
	"strings"
	"testing"
)

// TestVisibleWriter: a step's output that sets the window title and
// clears the screen reaches the writer visible, however it is split
// across writes; newlines and tabs stay.
func TestVisibleWriter(t *testing.T) {
	in := "#5 [2/3] RUN printf ...\n#5 0.1 \x1b]0;PWNED\x07\x1b[2J\tdone\n#5 DONE 0.2s\nno newline \x1b"
	want := "#5 [2/3] RUN printf ...\n#5 0.1 \\x1b]0;PWNED\\x07\\x1b[2J\tdone\n#5 DONE 0.2s\nno newline \\x1b"
	for _, size := range []int{1, 2, 3, 7, len(in)} {
		var out bytes.Buffer
		w := VisibleWriter(&out)
		for s := in; s != ""; {
			n := min(size, len(s))
			if _, err := w.Write([]byte(s[:n])); err != nil {
				t.Fatal(err)
			}
			s = s[n:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if out.String() != want {
			t.Errorf("writes of %d: %q, want %q", size, out.String(), want)
		}
	}
	var out bytes.Buffer
	w := VisibleWriter(&out)
	w.Write([]byte(strings.Repeat("a", maxPending+1)))
	if out.Len() != maxPending+1 {
		t.Errorf("a line longer than maxPending is held: %d bytes written", out.Len())
	}
}
