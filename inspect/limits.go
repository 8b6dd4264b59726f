package inspect

import (
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/layer"
)

// Limits bound what an untrusted image may make an inspection read,
// scan or hold. A zero field means its default (DefaultLimits). The
// walk's fields are named as layer.Limits and compare.Limits name them.
type Limits struct {
	MaxLayerBytes  int64  `limit:"most uncompressed bytes accepted in one layer"`
	MaxTotalBytes  int64  `limit:"most uncompressed bytes read by one inspection, all layers together"`
	MaxEntries     int    `limit:"most tar entries accepted in one layer"`
	MaxHeaderBytes int64  `limit:"most bytes of tar names, link targets and PAX records kept for one layer"`
	MaxZstdWindow  uint64 `limit:"largest window a zstd frame may ask for, in bytes"`
	// MaxScanFileBytes is the largest file scanned for secrets; larger
	// ones are counted as not scanned.
	MaxScanFileBytes int64 `limit:"largest file scanned for secrets, in bytes (larger ones are counted as not scanned)"`
	// MaxScanBytes is the bytes of file contents scanned for secrets in
	// one image, all layers together.
	MaxScanBytes int64 `limit:"most bytes of file contents scanned for secrets in one image"`
	// MaxFindingsPerCheck bounds the findings of one check in one
	// platform's report; the rest are counted (MoreFindings).
	MaxFindingsPerCheck int `limit:"most findings of one check listed per platform (the rest are counted)"`
	// MaxPaths bounds the paths of the merged view of one platform (the
	// memory an inspection holds grows with it).
	MaxPaths int64 `limit:"most paths of one platform's merged view, all layers together"`
}

// DefaultLimits apply where a field of Limits is zero.
var DefaultLimits = Limits{
	MaxLayerBytes:       layer.DefaultLimits.MaxLayerBytes,
	MaxTotalBytes:       layer.DefaultLimits.MaxTotalBytes,
	MaxEntries:          layer.DefaultLimits.MaxEntries,
	MaxHeaderBytes:      layer.DefaultLimits.MaxHeaderBytes,
	MaxZstdWindow:       layer.DefaultLimits.MaxZstdWindow,
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
	return layer.Limits{MaxLayerBytes: l.MaxLayerBytes, MaxTotalBytes: l.MaxTotalBytes, MaxEntries: l.MaxEntries,
		MaxHeaderBytes: l.MaxHeaderBytes, MaxZstdWindow: l.MaxZstdWindow,
		MaxTextFile: l.MaxScanFileBytes, MaxTextBytes: l.MaxScanBytes}.WithDefaults()
}
