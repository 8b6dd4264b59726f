package strictjson

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct {
		name, doc string
		depth     int
		wantErr   string // "" accepted
	}{
		{"object", `{"a":1,"b":[{"c":"d"}]}`, 8, ""},
		{"duplicate key", `{"a":1,"a":2}`, 8, "duplicate key"},
		{"keys folded alike", `{"url":1,"URL":2}`, 8, "differ only in case"},
		{"long s folds to s", `{"layers":[],"layerſ":[]}`, 8, "differ only in case"},
		{"same key in two objects", `[{"a":1},{"a":2}]`, 8, ""},
		{"invalid UTF-8", "{\"a\":\"\xff\"}", 8, "invalid UTF-8"},
		{"trailing data", `{} {}`, 8, "after"},
		{"too deep", strings.Repeat("[", 9) + strings.Repeat("]", 9), 8, "deeper"},
		{"not JSON", `{"a" 1}`, 8, "invalid"},
	} {
		err := Check([]byte(c.doc), c.depth)
		switch {
		case c.wantErr == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
			t.Errorf("%s: err %v, want one saying %q", c.name, err, c.wantErr)
		}
	}
}
