package compare

import (
	"fmt"
	"slices"
	"strings"

	"github.com/reprover/reprover/image"
)

// platformVerdict judges two platform images whose manifests differ (equal
// digests are Identical, the caller's verdict) from their layers, their
// config and manifest field changes, their merged files, and whether their
// config bytes and their manifest or config media types differ. Equivalent
// comes with its encoding aspects in a fixed order.
func platformVerdict(layers []layerResult, config []FieldChange, files []FileChange, configJSONDiffers, mediaTypesDiffer bool) (verdict string, encoding []string) {
	equivalent := layersEquivalent(layers)
	if !equivalent || len(files) > 0 || len(countedConfig(config, equivalent)) > 0 {
		return Different, nil
	}
	enc := map[string]bool{
		EncMediaTypes: mediaTypesDiffer,
		// Bytes differ, no field (not even an ignored one): key order,
		// spacing and the like.
		EncConfigJSON: configJSONDiffers && len(config) == 0,
	}
	for _, l := range layers {
		for _, e := range l.encoding {
			enc[e] = true
		}
	}
	for _, e := range []string{EncCompression, EncMediaTypes, EncTarHeaders, EncConfigJSON} {
		if enc[e] {
			encoding = append(encoding, e)
		}
	}
	return Equivalent, encoding
}

// layersEquivalent reports whether no layer's contents differ.
func layersEquivalent(layers []layerResult) bool {
	return !slices.ContainsFunc(layers, layerResult.differs)
}

// countedConfig drops rootfs.diff_ids when every layer is equivalent: the
// diff_ids then differ only because the tar streams are encoded
// differently.
func countedConfig(config []FieldChange, layersEquivalent bool) []FieldChange {
	if !layersEquivalent {
		return config
	}
	return slices.DeleteFunc(slices.Clone(config), func(c FieldChange) bool { return c.Field == "rootfs.diff_ids" })
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}

// hints explain likely causes of the differences found.
func hints(rep *Report, o Options) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, p := range rep.Platforms {
		if p.Verdict != Different {
			continue
		}
		mtimeOnly, any := true, false
		for _, f := range p.Files {
			any = true
			if !slices.Equal(f.Aspects, []string{AspMtime}) {
				mtimeOnly = false
			}
		}
		for _, l := range p.Layers {
			for _, f := range l.Files {
				any = true
				if !slices.Equal(f.Aspects, []string{AspMtime}) {
					mtimeOnly = false
				}
			}
		}
		for _, c := range p.Config {
			if c.Field != "created" && !strings.HasPrefix(c.Field, "history[") && c.Field != "rootfs.diff_ids" {
				mtimeOnly = false
			}
		}
		if any && mtimeOnly {
			add(fmt.Sprintf("%s: only modification times differ: the %s image was probably built without SOURCE_DATE_EPOCH or without rewrite-timestamp.", p.Platform, o.NameB))
		}
		for _, l := range p.Layers {
			instr := strings.ToUpper(l.Instruction)
			if !strings.HasPrefix(instr, "COPY") && !strings.HasPrefix(instr, "ADD") {
				continue
			}
			for _, f := range l.Files {
				if f.Change == Added {
					add(fmt.Sprintf("%s: %s is only in %s, in layer %d made by %q: a file the build does not produce was injected after the build.", p.Platform, f.Path, o.NameB, l.Index+1, l.Instruction))
				}
			}
		}
		for _, v := range injectedEnv(p.Config) {
			name, _, _ := strings.Cut(v, "=")
			add(fmt.Sprintf("%s: the %s config sets %s, which the %s config does not: an injected variable.", p.Platform, o.NameB, name, o.NameA))
		}
		for _, l := range p.Layers {
			if l.Verdict == Added {
				add(fmt.Sprintf("%s: layer %d is only in %s.", p.Platform, l.Index+1, o.NameB))
			}
		}
	}
	return out
}

// verdictOf is the verdict of the comparison of a and b from its
// platforms', and the encoding aspects that differ (none when the
// verdict is different).
func verdictOf(a, b *image.Resolved, platforms []Platform) (string, []string) {
	verdict := Identical
	var enc []string
	if a.Digest != b.Digest {
		verdict = Equivalent
		if len(a.Attestations) != len(b.Attestations) || !sameDescs(a.Attestations, b.Attestations) {
			enc = append(enc, EncAttestations)
		}
		if a.IsIndex || b.IsIndex {
			enc = append(enc, EncIndex)
		}
	}
	for _, p := range platforms {
		switch p.Verdict {
		case Different:
			verdict = Different
		case Equivalent:
			if verdict == Identical {
				verdict = Equivalent
			}
		}
		for _, e := range p.Encoding {
			if !slices.Contains(enc, e) {
				enc = append(enc, e)
			}
		}
	}
	if verdict == Different {
		return verdict, nil
	}
	return verdict, enc
}
