package compare_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestGoldenReportsMatchSchema validates every golden report against the
// published schema, docs/report.schema.json.
func TestGoldenReportsMatchSchema(t *testing.T) {
	c := jsonschema.NewCompiler()
	sch, err := c.Compile(filepath.Join("..", "docs", "report.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden reports (%v)", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			if err := sch.Validate(v); err != nil {
				t.Errorf("%s does not match docs/report.schema.json: %v", f, err)
			}
		})
	}
	// The schema must reject what the contract forbids.
	bad := map[string]string{
		"unknown verdict": `{"schemaVersion":1,"verdict":"fine","hints":[],"platforms":[]}`,
		"relative path":   `{"schemaVersion":1,"verdict":"different","hints":[],"platforms":[{"platform":"linux/amd64","verdict":"different","encoding":[],"config":[],"layers":[],"files":[{"path":"etc/x","change":"added","aspects":[]}]}]}`,
	}
	for name, doc := range bad {
		var v any
		if err := json.Unmarshal([]byte(doc), &v); err != nil {
			t.Fatal(err)
		}
		if err := sch.Validate(v); err == nil {
			t.Errorf("schema accepts %s", name)
		}
	}
}
