package texttest

import (
	"encoding/json"
	"testing"

	"github.com/reprover/reprover/internal/text"
)

func TestFill(t *testing.T) {
	type node struct {
		Name     string
		Kids     []node
		Raw      json.RawMessage
		Any      any
		Labels   map[string]string
		N        int
		P        *node
		internal string
	}
	var n node
	Fill(&n, "x", 3)
	if n.Name != "x" || len(n.Kids) != 1 || n.Kids[0].Name != "x" || string(n.Raw) != `"x"` || n.Any != "x" ||
		n.Labels["x"] != "x" || n.N != 1 || n.P == nil || n.P.Name != "x" || n.internal != "" {
		t.Errorf("Fill: %+v", n)
	}
}

func TestHidden(t *testing.T) {
	for _, c := range []struct {
		s    string
		want int
	}{
		{"", -1}, {"plain\n\ttext é \uFFFD", -1}, {Hostile, 1}, {text.Visible(Hostile), -1},
		{"ab\x7f", 2}, {"a\u0085", 1}, {"a\u2069", 1}, {"a\xff", 1}, {"a\r", 1},
	} {
		if got := Hidden(c.s); got != c.want {
			t.Errorf("Hidden(%q) = %d, want %d", c.s, got, c.want)
		}
	}
}
