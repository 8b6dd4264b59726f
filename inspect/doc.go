// Package inspect answers "can I trust this image?" for one published
// image, before any rebuild and without its source: where it came from
// (the publisher's provenance, each layer with the history instruction
// that made it), who vouches for it (reprover verdicts attached to it,
// checked with the caller's keys; other referrers listed by type) and
// what it holds that a careful reviewer would want to know (Checks):
// content a later layer hides, secrets in any layer's files and in the
// config, the user it runs as, setuid and setgid files, world-writable
// directories, downloads piped to a shell, package caches left behind.
//
// Every layer is read once, streaming, by layer.Walk; nothing is
// extracted. File contents are scanned for secrets within named limits
// (Limits), with Go's RE2 expressions (linear in their input, never
// backtracking), and a secret is shown by name and fingerprint, never
// whole.
package inspect
