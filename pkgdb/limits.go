package pkgdb

import "github.com/reprover/reprover/internal/limits"

// Limits bound what an image's package databases may make a DB read or
// hold. A zero field means its default (DefaultLimits).
type Limits struct {
	// MaxFileBytes bounds one database file (a status file, a RECORD, a
	// package.json), MaxTotalBytes all of them together.
	MaxFileBytes  int64 `limit:"largest package database file read, in bytes"`
	MaxTotalBytes int64 `limit:"most bytes of package database files read from one image"`
	// MaxFiles bounds the database files read.
	MaxFiles int `limit:"most package database files read from one image"`
	// MaxPackages bounds the packages recorded, MaxOwnedPaths the paths
	// their file lists name.
	MaxPackages   int `limit:"most packages recorded"`
	MaxOwnedPaths int `limit:"most paths the packages' file lists name"`
	// MaxJSONDepth bounds the nesting of a package.json.
	MaxJSONDepth int `limit:"deepest nesting of a package.json"`
}

// DefaultLimits: a Debian status file of thousands of packages is a few
// MiB; a large node_modules has tens of thousands of package.json files.
var DefaultLimits = Limits{
	MaxFileBytes:  32 << 20,
	MaxTotalBytes: 256 << 20,
	MaxFiles:      200_000,
	MaxPackages:   200_000,
	MaxOwnedPaths: 2_000_000,
	MaxJSONDepth:  64,
}

// WithDefaults is l with DefaultLimits in its zero fields.
func (l Limits) WithDefaults() Limits { return limits.WithDefaults(l, DefaultLimits) }
