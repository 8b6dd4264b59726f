// Package layer reads the layers of an image: it decompresses one (gzip
// in Go or by ISA-L's igzip, zstd, or none, found from its bytes), walks
// its tar stream under named limits (Limits), hashes every file's content
// and the whole stream (the diffID) as it reads, and keeps the entries it
// finds on disk, not in memory.
//
//   - Walk reads a layer once, to its end, and returns a Walked: its
//     compression, diffID, findings (what is hostile or odd in it, as
//     it is) and its entries, read back path by path with NewStream.
//   - Entry is one tar entry reduced to what an unpacker applies: path,
//     type, mode, owner ids, size, content digest, link target, xattrs,
//     device numbers, whiteouts; small (96 bytes) because a comparison
//     holds many.
//   - Index keeps walks on disk by layer digest, so a layer seen once is
//     not decompressed again.
//   - ReadAgain reads a layer a second time for the contents of a few
//     entries, each checked against the digest its walk found.
//
// Nothing is extracted: names and link targets are data, never followed
// on the host. The package never reaches the network: it reads what
// package image opened.
package layer
