package image

import (
	"encoding/json"
	"fmt"

	"github.com/reprover/reprover/internal/strictjson"
	"github.com/reprover/reprover/internal/text"
)

// Members of manifests, indexes, descriptors and platforms, spelled as the
// specs spell them.
var (
	documentKeys   = []string{"schemaVersion", "mediaType", "artifactType", "config", "layers", "manifests", "subject", "annotations", "fsLayers"}
	descriptorKeys = []string{"mediaType", "digest", "size", "urls", "annotations", "data", "platform", "artifactType"}
	platformKeys   = []string{"architecture", "os", "os.version", "os.features", "variant", "features"}
)

// checkSpelling refuses a manifest or index whose members, or whose
// descriptors' members, are spelled in another case than the spec's: Go's
// decoder reads "Layers" alone as layers, where a case-sensitive reader
// sees an image without layers.
func checkSpelling(raw []byte) error {
	var doc map[string]json.RawMessage
	if json.Unmarshal(raw, &doc) != nil {
		return nil // not an object: the parser refuses it
	}
	if err := spelledAs(doc, documentKeys); err != nil {
		return err
	}
	var descs []json.RawMessage
	for _, k := range []string{"layers", "manifests"} {
		var list []json.RawMessage
		json.Unmarshal(doc[k], &list)
		descs = append(descs, list...)
	}
	descs = append(descs, doc["config"], doc["subject"])
	for _, d := range descs {
		var m map[string]json.RawMessage
		if json.Unmarshal(d, &m) != nil {
			continue
		}
		if err := spelledAs(m, descriptorKeys); err != nil {
			return err
		}
		var p map[string]json.RawMessage
		if json.Unmarshal(m["platform"], &p) == nil {
			if err := spelledAs(p, platformKeys); err != nil {
				return err
			}
		}
	}
	return nil
}

func spelledAs(m map[string]json.RawMessage, keys []string) error {
	for k := range m {
		for _, want := range keys {
			if k != want && strictjson.FoldKey(k) == strictjson.FoldKey(want) {
				return fmt.Errorf("key %q: the spec spells it %q", text.Truncate(k, 64), want)
			}
		}
	}
	return nil
}
