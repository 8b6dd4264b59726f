// Package archive reads archives found inside files (zip, jar, wheel, tar,
// tar.gz, gzip): their members' headers and contents, in memory. It is the
// one reader of them: compare opens them to compare them member by member,
// causes to tell why two of them differ, and both spend from the one Budget
// a comparison gives them (Limits: per archive, in all, and how deep).
//
// Archives are untrusted bytes. Member names are data, never paths on the
// host; nothing is allocated from a size an archive declares; a zip's
// central directory is read only up to a size its member limit allows;
// and every loop, decompression included, checks the context, so a
// cancelled comparison stops reading within a few milliseconds.
package archive
