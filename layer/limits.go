package layer

import "github.com/reprover/reprover/internal/limits"

// Limits bound what an untrusted layer may make a walk read or hold. A
// zero field means its default (DefaultLimits). The field names are those
// of compare.Limits, and of the limit errors.
type Limits struct {
	// MaxLayerBytes bounds the uncompressed bytes of one layer, and also
	// the content bytes of its files (sparse files expand).
	MaxLayerBytes int64
	// MaxTotalBytes bounds the uncompressed bytes read by the walks that
	// share one Options.Total.
	MaxTotalBytes int64
	// MaxEntries bounds the tar entries of one layer (the entries of
	// one path in one layer are held in memory at once).
	MaxEntries int
	// MaxHeaderBytes bounds the bytes of names, link targets and xattrs
	// kept from the tar headers of one layer: archive/tar lets each entry
	// carry a megabyte of them, which MaxEntries alone does not bound.
	MaxHeaderBytes int64
	// MaxZstdWindow bounds the window a zstd frame may ask for.
	MaxZstdWindow uint64
	// MaxTextFile is the largest file kept for a unified text diff, and
	// MaxTextBytes the budget of such text kept per layer walk.
	MaxTextFile  int64
	MaxTextBytes int64
}

// DefaultLimits apply where a field of Limits is zero.
var DefaultLimits = Limits{
	MaxLayerBytes:  32 << 30,
	MaxTotalBytes:  256 << 30,
	MaxEntries:     500_000,
	MaxHeaderBytes: 128 << 20,
	MaxZstdWindow:  128 << 20,
	MaxTextFile:    16 << 10,
	MaxTextBytes:   4 << 20,
}

// WithDefaults is l with DefaultLimits in its zero fields.
func (l Limits) WithDefaults() Limits {
	return limits.WithDefaults(l, DefaultLimits)
}

// LimitError reports a layer that exceeded a named limit: the one type
// shared with image, compare and attest.
type LimitError = limits.Error
