// Package attest builds in-toto statements (SLSA verification summaries
// and rebuild reports), signs and verifies them as DSSE envelopes, reads
// and writes key files (PKCS#8/PKIX PEM, Ed25519 or ECDSA P-256), and
// attaches envelopes to images both as OCI 1.1 referrers and under
// cosign's sha256-HEX.att tag. Check counts the distinct keys that signed
// a PASSED verdict for a subject, under limits on what an untrusted
// envelope may make it read. docs/attestation.md shows the format.
package attest
