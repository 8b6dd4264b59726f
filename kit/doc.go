// Package kit keeps a release's inputs so that it stays verifiable when
// its upstreams change or vanish: every download the image's provenance
// pins, as a blob whose digest is its pin, and optionally the source tree
// at the commit, in one OCI artifact whose subject is the published image
// (docs/kit.md). Make builds a kit by fetching each pinned URL and checking
// it against its pin before anything is kept; WriteTo and Push store it;
// Open finds and reads one, as untrusted input: every count and size under
// a named limit, the manifest and the config agreeing, the subject the
// image being verified, and every blob checked against its pin as it is
// streamed. A kit can only supply bytes the image's own provenance pins:
// it can make a verification fail, never make it pass.
package kit
