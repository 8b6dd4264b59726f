// Package attest builds in-toto statements (SLSA verification summaries and
// rebuild reports), signs and verifies them as DSSE envelopes, reads key
// files, and attaches envelopes to images as OCI referrers.
//
// Not yet implemented: see issue 4.
package attest
