package compare

import (
	"slices"
	"testing"
)

func TestPlatformVerdict(t *testing.T) {
	layer := func(verdict string, enc ...string) layerResult {
		return layerResult{report: LayerReport{Verdict: verdict, Encoding: enc}, encoding: enc}
	}
	diffIDs := []FieldChange{{Field: "rootfs.diff_ids"}}
	tests := []struct {
		name              string
		layers            []layerResult
		config            []FieldChange
		files             []FileChange
		configJSON, media bool
		want              string
		wantEnc           []string
	}{
		// Identical is the caller's verdict, on equal manifest digests.
		{name: "nothing found", layers: []layerResult{layer(Identical), layer(Identical)},
			want: Equivalent},
		{name: "recompressed", layers: []layerResult{layer(Identical), layer(Equivalent, EncCompression)},
			want: Equivalent, wantEnc: []string{EncCompression}},
		{name: "tar headers, diff_ids ignored", layers: []layerResult{layer(Equivalent, EncTarHeaders, EncCompression)},
			config: diffIDs, configJSON: true,
			want: Equivalent, wantEnc: []string{EncCompression, EncTarHeaders}},
		{name: "config JSON only", layers: []layerResult{layer(Identical)}, configJSON: true,
			want: Equivalent, wantEnc: []string{EncConfigJSON}},
		{name: "manifest media types", layers: []layerResult{layer(Identical)}, media: true,
			want: Equivalent, wantEnc: []string{EncMediaTypes}},
		{name: "identical blob, other media type", layers: []layerResult{{report: LayerReport{Verdict: Identical}, encoding: []string{EncMediaTypes}}},
			want: Equivalent, wantEnc: []string{EncMediaTypes}},
		{name: "aspect order", layers: []layerResult{layer(Equivalent, EncTarHeaders), layer(Equivalent, EncCompression, EncMediaTypes)},
			config: diffIDs, configJSON: true, media: true,
			want: Equivalent, wantEnc: []string{EncCompression, EncMediaTypes, EncTarHeaders}},
		{name: "different layer", layers: []layerResult{layer(Equivalent, EncCompression), layer(Different)},
			config: diffIDs, want: Different},
		{name: "added layer", layers: []layerResult{layer(Identical), layer(Added)}, want: Different},
		{name: "merged file", layers: []layerResult{layer(Identical)},
			files: []FileChange{{Path: "etc/passwd", Change: Modified}}, want: Different},
		{name: "config field", layers: []layerResult{layer(Identical)},
			config: []FieldChange{{Field: "config.Env"}}, configJSON: true, want: Different},
		{name: "manifest field", layers: []layerResult{layer(Equivalent, EncCompression)},
			config: []FieldChange{{Field: "manifest.annotations"}}, want: Different},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, enc := platformVerdict(tt.layers, tt.config, tt.files, tt.configJSON, tt.media)
			if got != tt.want || !slices.Equal(enc, tt.wantEnc) {
				t.Errorf("got %s %v, want %s %v", got, enc, tt.want, tt.wantEnc)
			}
		})
	}
}

func TestCountedConfig(t *testing.T) {
	config := []FieldChange{{Field: "created"}, {Field: "rootfs.diff_ids"}}
	if got := countedConfig(config, true); len(got) != 1 || got[0].Field != "created" {
		t.Errorf("every layer equivalent: got %v, want only created", got)
	}
	if got := countedConfig(config, false); len(got) != 2 {
		t.Errorf("a layer differs: got %v, want both fields", got)
	}
	if config[1].Field != "rootfs.diff_ids" {
		t.Errorf("countedConfig changed its argument: %v", config)
	}
}
