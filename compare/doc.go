// Package compare tells exactly how two images differ: manifest, config,
// every layer and every file, per layer (so content a later whiteout hides
// still counts) and on the merged filesystem a container sees.
//
// Layers are read by package layer: each is decompressed once (identical
// digests are walked once, walkset.go), hashed while read, and walked as a
// tar stream under named limits. The layers at the bottom of both images
// that are the same blobs are not read at all when the layers above them
// prove that the merged views do not depend on them (unread.go). Gzip is
// decompressed by ISA-L's igzip when it is on PATH and the layer is 1 MiB
// or more compressed, and in Go otherwise (Options.Decompressor;
// docs/performance.md). With an Index, what a walk learns of a layer is
// kept on disk by digest, and a layer seen once is not read again.
//
// When two platforms differ, every difference is given its cause
// (package causes) from the differing files' contents, read a second time
// from their layers within bounds (explain.go); archives inside files are
// compared member by member (inside.go), and Options.Diffoscope runs
// Debian's diffoscope on each differing pair.
//
// Nothing is ever extracted: entry names and link targets are data, and
// hostile ones are reported as findings, never followed on the host; the
// few file contents diffoscope needs are written under names of its own.
// A difference between images is a result (a Report), never an error.
package compare
