package image

import "github.com/reprover/reprover/internal/limits"

// Limits bound what an untrusted image may make reprover read or hold.
// The zero value of a field means its default (DefaultLimits).
type Limits struct {
	// MaxManifestBytes bounds an index or manifest: 4 MiB is what
	// registries themselves accept.
	MaxManifestBytes int64 `limit:"largest index or manifest accepted, in bytes"`
	// MaxConfigBytes bounds an image config blob.
	MaxConfigBytes int64 `limit:"largest image config accepted, in bytes"`
	// MaxManifests bounds the number of manifests in an index.
	MaxManifests int `limit:"most manifests accepted in an index"`
	// MaxLayers bounds the number of layers in one image.
	MaxLayers int `limit:"most layers accepted in an image"`
	// MaxJSONDepth bounds the nesting of any JSON document.
	MaxJSONDepth int `limit:"deepest nesting accepted in any JSON document of an image"`
}

// DefaultLimits are the limits used when a field of Limits is zero.
var DefaultLimits = Limits{
	MaxManifestBytes: 4 << 20,
	MaxConfigBytes:   8 << 20,
	MaxManifests:     1000,
	MaxLayers:        500,
	MaxJSONDepth:     64,
}

// withDefaults returns l with zero fields replaced by DefaultLimits.
func (l Limits) withDefaults() Limits {
	return limits.WithDefaults(l, DefaultLimits)
}

// LimitError reports an untrusted input that exceeded a named limit: the
// one type shared with compare and attest.
type LimitError = limits.Error
