package inspect

import (
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/layer"
)

// Limits bound what an untrusted image may make an inspection read,
// scan or hold. A zero field means its default (DefaultLimits).
type Limits struct {
	// Layer bounds each layer's walk (decompressed bytes, entries,
	// header bytes, zstd window; MaxTotalBytes for all the layers of
	// one inspection together). Its text fields are set from the scan
	// limits below.
	Layer layer.Limits
	// MaxScanFileBytes is the largest file scanned for secrets; larger
	// ones are counted as not scanned.
	MaxScanFileBytes int64
	// MaxScanBytes is the bytes of file contents scanned for secrets in
	// one image, all layers together.
	MaxScanBytes int64
	// MaxFindingsPerCheck bounds the findings of one check in one
	// platform's report; the rest are counted (MoreFindings).
	MaxFindingsPerCheck int
	// MaxPaths bounds the paths of the merged view of one platform (the
	// memory an inspection holds grows with it).
	MaxPaths int64
}

// DefaultLimits apply where a field of Limits is zero.
var DefaultLimits = Limits{
	Layer:               layer.DefaultLimits,
	MaxScanFileBytes:    1 << 20,
	MaxScanBytes:        512 << 20,
	MaxFindingsPerCheck: 100,
	MaxPaths:            2_000_000,
}

// WithDefaults is l with DefaultLimits in its zero fields.
func (l Limits) WithDefaults() Limits { return limits.WithDefaults(l, DefaultLimits) }

// LimitError reports an image that exceeded a named limit.
type LimitError = limits.Error

// walkLimits are the layer walk's limits: text kept (for the scan) up
// to the scan limits.
func (l Limits) walkLimits() layer.Limits {
	w := l.Layer
	w.MaxTextFile, w.MaxTextBytes = l.MaxScanFileBytes, l.MaxScanBytes
	return w.WithDefaults()
}
