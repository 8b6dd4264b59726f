package compare

import (
	"github.com/reprover/reprover/internal/archive"
	"github.com/reprover/reprover/internal/limits"
	"github.com/reprover/reprover/layer"
	"github.com/reprover/reprover/pkgdb"
)

// Limits bound what an untrusted layer may make the comparison read or hold.
// A zero field means its default (DefaultLimits).
type Limits struct {
	// MaxLayerBytes bounds the uncompressed bytes of one layer, and also
	// the content bytes of its files (sparse files expand).
	MaxLayerBytes int64 `limit:"most uncompressed bytes accepted in one layer"`
	// MaxTotalBytes bounds the uncompressed bytes read by one comparison.
	MaxTotalBytes int64 `limit:"most uncompressed bytes read by one comparison"`
	// MaxEntries bounds the tar entries of one layer (the entries of
	// one path in one layer are held in memory at once).
	MaxEntries int `limit:"most tar entries accepted in one layer"`
	// MaxHeaderBytes bounds the bytes of names, link targets and xattrs
	// kept from the tar headers of one layer: archive/tar lets each entry
	// carry a megabyte of them, which MaxEntries alone does not bound.
	MaxHeaderBytes int64 `limit:"most bytes of tar names, link targets and PAX records kept for one layer"`
	// MaxTotalEntries bounds the tar entries kept by one comparison, all
	// layers of both images: what its scratch directory holds.
	MaxTotalEntries int64 `limit:"most tar entries kept by one comparison (in its scratch directory), all layers together"`
	// MaxZstdWindow bounds the window a zstd frame may ask for.
	MaxZstdWindow uint64 `limit:"largest window a zstd frame may ask for, in bytes"`
	// MaxTextFile is the largest file kept for a unified text diff, and
	// MaxTextBytes the budget of such text kept per layer walk.
	MaxTextFile  int64 `limit:"largest file kept for a unified text diff, in bytes"`
	MaxTextBytes int64 `limit:"most bytes of text kept for diffs per layer walk"`
	// Archives inside differing files (opened to compare them member by
	// member and to name their causes): MaxArchiveBytes bounds the bytes
	// one archive yields (decompressed, then its members' contents) and
	// MaxArchiveMembers its members, each time it is read;
	// MaxArchiveDepth how many archives deep they are opened; and
	// MaxArchiveTotalBytes and MaxArchiveTotalMembers what all of them
	// yield together, in one comparison.
	MaxArchiveBytes        int64 `limit:"most bytes one archive inside a differing file yields (decompressed, then its members)"`
	MaxArchiveMembers      int   `limit:"most members of one archive inside a differing file"`
	MaxArchiveDepth        int   `limit:"how many archives deep, one inside another, differing files are opened"`
	MaxArchiveTotalBytes   int64 `limit:"most bytes all archives inside differing files yield in one comparison"`
	MaxArchiveTotalMembers int64 `limit:"most members all archives inside differing files yield in one comparison"`
	// Package databases (read when files differ, to name the packages
	// that changed; package pkgdb): MaxPackageFileBytes bounds one
	// database file, MaxPackageTotalBytes all of one image's,
	// MaxPackageFiles their number, MaxPackages the packages and
	// MaxPackagePaths the paths their file lists name.
	MaxPackageFileBytes  int64 `limit:"largest package database file read (a dpkg status, a RECORD, a package.json), in bytes"`
	MaxPackageTotalBytes int64 `limit:"most bytes of package database files read from one image"`
	MaxPackageFiles      int   `limit:"most package database files read from one image"`
	MaxPackages          int   `limit:"most packages recorded from one image's package databases"`
	MaxPackagePaths      int   `limit:"most paths the file lists of one image's package databases name"`
}

// DefaultLimits apply where a field of Limits is zero: a layer's walk's
// are layer.DefaultLimits.
var DefaultLimits = Limits{
	MaxLayerBytes:   layer.DefaultLimits.MaxLayerBytes,
	MaxTotalBytes:   layer.DefaultLimits.MaxTotalBytes,
	MaxEntries:      layer.DefaultLimits.MaxEntries,
	MaxHeaderBytes:  layer.DefaultLimits.MaxHeaderBytes,
	MaxTotalEntries: 4_000_000,
	MaxZstdWindow:   layer.DefaultLimits.MaxZstdWindow,
	MaxTextFile:     layer.DefaultLimits.MaxTextFile,
	MaxTextBytes:    layer.DefaultLimits.MaxTextBytes,

	MaxArchiveBytes:        archive.DefaultLimits.MaxArchiveBytes,
	MaxArchiveMembers:      archive.DefaultLimits.MaxArchiveMembers,
	MaxArchiveDepth:        archive.DefaultLimits.MaxArchiveDepth,
	MaxArchiveTotalBytes:   archive.DefaultLimits.MaxArchiveTotalBytes,
	MaxArchiveTotalMembers: archive.DefaultLimits.MaxArchiveTotalMembers,

	MaxPackageFileBytes:  pkgdb.DefaultLimits.MaxFileBytes,
	MaxPackageTotalBytes: pkgdb.DefaultLimits.MaxTotalBytes,
	MaxPackageFiles:      pkgdb.DefaultLimits.MaxFiles,
	MaxPackages:          pkgdb.DefaultLimits.MaxPackages,
	MaxPackagePaths:      pkgdb.DefaultLimits.MaxOwnedPaths,
}

// withDefaults is l with DefaultLimits in its zero fields (the walk's
// are layer's defaults, the archives' internal/archive's).
func (l Limits) withDefaults() Limits {
	return limits.WithDefaults(l, DefaultLimits)
}

// walk are the limits of a layer's walk.
func (l Limits) walk() layer.Limits {
	return layer.Limits{MaxLayerBytes: l.MaxLayerBytes, MaxTotalBytes: l.MaxTotalBytes, MaxEntries: l.MaxEntries,
		MaxHeaderBytes: l.MaxHeaderBytes, MaxZstdWindow: l.MaxZstdWindow, MaxTextFile: l.MaxTextFile, MaxTextBytes: l.MaxTextBytes}
}

// archives are the limits of archives inside files.
func (l Limits) archives() archive.Limits {
	return archive.Limits{MaxArchiveBytes: l.MaxArchiveBytes, MaxArchiveMembers: l.MaxArchiveMembers, MaxArchiveDepth: l.MaxArchiveDepth,
		MaxArchiveTotalBytes: l.MaxArchiveTotalBytes, MaxArchiveTotalMembers: l.MaxArchiveTotalMembers}
}

// packages are the limits of one image's package databases.
func (l Limits) packages() pkgdb.Limits {
	return pkgdb.Limits{MaxFileBytes: l.MaxPackageFileBytes, MaxTotalBytes: l.MaxPackageTotalBytes, MaxFiles: l.MaxPackageFiles,
		MaxPackages: l.MaxPackages, MaxOwnedPaths: l.MaxPackagePaths}
}

// LimitError reports a layer that exceeded a named limit: the one type
// shared with image and attest (a *LimitError is also an *image.LimitError).
type LimitError = layer.LimitError
