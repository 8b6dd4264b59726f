package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// diffConfig compares two raw image configs field by field. Every field
// counts, known or not: the object "config" is compared per key
// ("config.Env"), "rootfs" per key, "history" per entry, the rest per
// top-level key. A missing field reads as null.
func diffConfig(rawA, rawB []byte) ([]FieldChange, error) {
	a, err := decodeObject(rawA)
	if err != nil {
		return nil, fmt.Errorf("rebuilt config: %w", err)
	}
	b, err := decodeObject(rawB)
	if err != nil {
		return nil, fmt.Errorf("published config: %w", err)
	}
	var out []FieldChange
	for _, k := range unionKeys(a, b) {
		switch k {
		case "config", "container_config", "rootfs":
			oa, _ := a[k].(map[string]any)
			ob, _ := b[k].(map[string]any)
			if (a[k] == nil) != (b[k] == nil) && (oa == nil || ob == nil) && !(isEmpty(a[k]) && isEmpty(b[k])) {
				out = append(out, fieldChange(k, a[k], b[k]))
				continue
			}
			for _, sk := range unionKeys(oa, ob) {
				if !reflect.DeepEqual(oa[sk], ob[sk]) && !(isEmpty(oa[sk]) && isEmpty(ob[sk])) {
					out = append(out, fieldChange(k+"."+sk, oa[sk], ob[sk]))
				}
			}
		case "history":
			ha, _ := a[k].([]any)
			hb, _ := b[k].([]any)
			for i := range max(len(ha), len(hb)) {
				var va, vb any
				if i < len(ha) {
					va = ha[i]
				}
				if i < len(hb) {
					vb = hb[i]
				}
				if !reflect.DeepEqual(va, vb) {
					out = append(out, fieldChange(fmt.Sprintf("history[%d]", i), va, vb))
				}
			}
		default:
			if !reflect.DeepEqual(a[k], b[k]) && !(isEmpty(a[k]) && isEmpty(b[k])) {
				out = append(out, fieldChange(k, a[k], b[k]))
			}
		}
	}
	return out, nil
}

// diffManifestFields compares the manifest fields that are not encoding:
// annotations, subject and artifactType.
func diffManifestFields(rawA, rawB []byte) ([]FieldChange, error) {
	a, err := decodeObject(rawA)
	if err != nil {
		return nil, err
	}
	b, err := decodeObject(rawB)
	if err != nil {
		return nil, err
	}
	var out []FieldChange
	for _, k := range []string{"annotations", "subject", "artifactType"} {
		if !reflect.DeepEqual(a[k], b[k]) {
			out = append(out, fieldChange("manifest."+k, a[k], b[k]))
		}
	}
	return out, nil
}

// fieldChange records a field's two values as compact JSON (numbers as
// written, not as float64), so a report read back is the report written.
func fieldChange(field string, a, b any) FieldChange {
	return FieldChange{Field: field, Rebuilt: rawJSON(a), Published: rawJSON(b)}
}

func rawJSON(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		// Values decoded from JSON always marshal; keep the report whole.
		raw, _ = json.Marshal(fmt.Sprint(v))
	}
	return raw
}

func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	return false
}

func unionKeys(a, b map[string]any) []string {
	seen := map[string]bool{}
	var ks []string
	for _, m := range []map[string]any{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	sort.Strings(ks)
	return ks
}

// injectedEnv lists variables set in the published (B) config's Env that
// the rebuilt (A) config does not set to the same value.
func injectedEnv(changes []FieldChange) []string {
	for _, c := range changes {
		if c.Field != "config.Env" {
			continue
		}
		var rebuilt, published []string // not lists of strings: nil
		_ = json.Unmarshal(c.Rebuilt, &rebuilt)
		_ = json.Unmarshal(c.Published, &published)
		var out []string
		for _, s := range published {
			if !slices.Contains(rebuilt, s) {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// instruction is the Dockerfile instruction that made layer i, from the
// history entries that are not empty layers.
func instructions(rawConfig []byte) []string {
	var cfg struct {
		History []struct {
			CreatedBy  string `json:"created_by"`
			EmptyLayer bool   `json:"empty_layer"`
		} `json:"history"`
	}
	if json.Unmarshal(rawConfig, &cfg) != nil {
		return nil
	}
	var out []string
	for _, h := range cfg.History {
		if h.EmptyLayer {
			continue
		}
		s := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(h.CreatedBy), "# buildkit"))
		s = strings.TrimPrefix(s, "/bin/sh -c #(nop) ")
		out = append(out, s)
	}
	return out
}
