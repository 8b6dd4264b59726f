// Package builder inspects Dockerfiles and runs hermetic rebuilds in
// BuildKit. It is the only package that imports BuildKit.
//
// Check parses a Dockerfile with BuildKit's own parser, expands ARGs as
// BuildKit does, and applies the pinning rules (Rules: each with its name,
// description, doc link and message format, documented in docs/rules.md):
// it returns every violation with its Dockerfile line, and the pinned
// inputs (bases by digest, ADD downloads by checksum). Client.Build solves
// a Spec with no cache, no entitlements, and no network in RUN or only
// BuildKit's capturing proxy (Spec.Network), with SOURCE_DATE_EPOCH and
// rewritten timestamps, into an OCI layout; a failed step is a BuildError
// naming its Dockerfile line with the tail of its log. StartDaemon runs a
// private buildkitd for callers given no address.
package builder
