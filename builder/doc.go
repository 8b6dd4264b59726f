// Package builder inspects Dockerfiles against the pinning rules and runs
// hermetic rebuilds in BuildKit (a managed buildkitd or a given address).
// It is the only package that imports BuildKit.
//
// Not yet implemented: see issue 3.
package builder
