// Package pkgdb reads the package databases an image carries — dpkg's
// status and info files, apk's installed database, Python's dist-info
// RECORD and METADATA, npm's package.json files — to say which package
// (ecosystem, name, version) owns a file, which files are the databases'
// own, and which packages differ between two images (Diff, Explain).
//
// Every database is written by whoever built the image: each file is read
// under named limits (Limits), its paths are image paths and nothing else
// (never opened on the host), and a database that cannot be read is set
// aside for its ecosystem rather than believed in part.
package pkgdb
