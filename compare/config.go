package compare

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
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
				out = append(out, FieldChange{Field: k, Published: b[k], Rebuilt: a[k]})
				continue
			}
			for _, sk := range unionKeys(oa, ob) {
				if !reflect.DeepEqual(oa[sk], ob[sk]) && !(isEmpty(oa[sk]) && isEmpty(ob[sk])) {
					out = append(out, FieldChange{Field: k + "." + sk, Published: ob[sk], Rebuilt: oa[sk]})
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
					out = append(out, FieldChange{Field: fmt.Sprintf("history[%d]", i), Published: vb, Rebuilt: va})
				}
			}
		default:
			if !reflect.DeepEqual(a[k], b[k]) && !(isEmpty(a[k]) && isEmpty(b[k])) {
				out = append(out, FieldChange{Field: k, Published: b[k], Rebuilt: a[k]})
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
			out = append(out, FieldChange{Field: "manifest." + k, Published: b[k], Rebuilt: a[k]})
		}
	}
	return out, nil
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
		have := map[string]bool{}
		if l, ok := c.Rebuilt.([]any); ok {
			for _, v := range l {
				if s, ok := v.(string); ok {
					have[s] = true
				}
			}
		}
		var out []string
		if l, ok := c.Published.([]any); ok {
			for _, v := range l {
				if s, ok := v.(string); ok && !have[s] {
					out = append(out, s)
				}
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
