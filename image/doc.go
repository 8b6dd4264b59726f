// Package image opens container images wherever they live — a registry, an
// OCI layout directory or an OCI layout archive — and hands out their
// manifests, configs and layers with every byte checked against the digest
// and size that named it.
//
// Untrusted documents (indexes, manifests, configs) are read under named
// limits (Limits), hashed as received, checked for the JSON tricks that make
// Go's decoder silently pick one of two meanings, and only then parsed.
// Layers are never read here: Layer.Open returns the compressed stream,
// verified while it is read, for the caller to decompress and walk.
package image
