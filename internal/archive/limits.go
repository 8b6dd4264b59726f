package archive

import (
	"sync/atomic"

	"github.com/reprover/reprover/internal/limits"
)

// Limits bound what archives inside files may make a comparison read. The
// per-archive limits apply each time an archive is read; the totals to all
// the archives one Budget reads, whatever their number and nesting. The
// field names are compare.Limits' (and the names limit errors carry).
// A zero field means its default (DefaultLimits).
type Limits struct {
	// MaxArchiveBytes bounds the bytes one archive yields: a gzip
	// stream's decompressed bytes, and then its members' contents.
	MaxArchiveBytes int64
	// MaxArchiveMembers bounds the members of one archive.
	MaxArchiveMembers int
	// MaxArchiveDepth bounds how many archives deep, one inside another,
	// a caller opens (the reader itself opens one level).
	MaxArchiveDepth int
	// MaxArchiveTotalBytes and MaxArchiveTotalMembers bound what all the
	// archives read with one Budget yield together.
	MaxArchiveTotalBytes   int64
	MaxArchiveTotalMembers int64
}

// DefaultLimits apply where a field of Limits is zero.
var DefaultLimits = Limits{
	MaxArchiveBytes:        64 << 20,
	MaxArchiveMembers:      10_000,
	MaxArchiveDepth:        3,
	MaxArchiveTotalBytes:   1 << 30,
	MaxArchiveTotalMembers: 100_000,
}

// WithDefaults is l with each zero field set to its default.
func (l Limits) WithDefaults() Limits {
	return limits.WithDefaults(l, DefaultLimits)
}

// Budget is what one comparison may still read of archives inside files:
// every archive it opens, at any depth and by any package, spends from the
// same Budget. Safe for concurrent use.
type Budget struct {
	lim            Limits
	bytes, members atomic.Int64 // spent
}

// NewBudget is a fresh budget of l (zero fields: their defaults).
func NewBudget(l Limits) *Budget { return &Budget{lim: l.WithDefaults()} }

// Limits are the budget's limits, defaults filled in.
func (b *Budget) Limits() Limits { return b.lim }

// Spent is how many bytes were read with the budget so far (never more
// than MaxArchiveTotalBytes: what would go over is an error instead).
func (b *Budget) Spent() int64 { return b.bytes.Load() }

// Depth is a limit error when an archive depth archives deep (1: inside a
// file of a layer) is past MaxArchiveDepth, else nil.
func (b *Budget) Depth(depth int) error {
	if depth <= b.lim.MaxArchiveDepth {
		return nil
	}
	return &limits.Error{What: "archives nested inside files", Limit: "MaxArchiveDepth", Max: int64(b.lim.MaxArchiveDepth), Got: int64(depth)}
}

// left is how many more bytes may be read in all (at least 0).
func (b *Budget) left() int64 { return max(0, b.lim.MaxArchiveTotalBytes-b.bytes.Load()) }

// spendBytes records n more bytes read; an error, and nothing spent,
// when they would take the total over.
func (b *Budget) spendBytes(n int64) error {
	if got := b.bytes.Add(n); got > b.lim.MaxArchiveTotalBytes {
		b.bytes.Add(-n)
		return &limits.Error{What: "bytes read from archives inside files, in all", Limit: "MaxArchiveTotalBytes", Max: b.lim.MaxArchiveTotalBytes, Got: got}
	}
	return nil
}

// spendMembers records n more members listed; an error, and nothing
// spent, when they would take the total over.
func (b *Budget) spendMembers(n int64) error {
	if got := b.members.Add(n); got > b.lim.MaxArchiveTotalMembers {
		b.members.Add(-n)
		return &limits.Error{What: "members of archives inside files, in all", Limit: "MaxArchiveTotalMembers", Max: b.lim.MaxArchiveTotalMembers, Got: got}
	}
	return nil
}
