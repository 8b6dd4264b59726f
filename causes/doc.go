// Package causes names why a file differs between two builds: a table of
// causes, each with its usual fix and a section of docs/causes.md
// (generated from the table), and a classifier that judges one differing
// file from its path and both contents, most specific cause first, with
// the evidence it found. A cause explains a difference; it never excuses
// it: the verdict is compare's, not this package's.
package causes
