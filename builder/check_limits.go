package builder

import "time"

// CheckLimits bound what Check spends on one Dockerfile: the input is
// untrusted. A zero field takes its value from DefaultCheckLimits
// (limits.WithDefaults); the CLI's --limit sets them (docs/cli.md lists
// them all).
type CheckLimits struct {
	// MaxDockerfileBytes bounds the Dockerfile read (BuildKit's own limit
	// is larger; a Dockerfile of more than 1 MiB is not a real one).
	MaxDockerfileBytes int64 `limit:"largest Dockerfile read, in bytes"`
	// MaxExpandedBytes bounds one word's expansion (an ARG's value, a
	// source): a real one is a few hundred bytes. Expanding a variable can
	// multiply a Dockerfile's size (ARG B=$A$A$A…, line after line), so
	// every expansion is bounded before it is done.
	MaxExpandedBytes int64 `limit:"largest expansion of one Dockerfile word (an ARG's value, a source), in bytes"`
	// MaxExpandedTotalBytes bounds all of a Dockerfile's expansions.
	MaxExpandedTotalBytes int64 `limit:"most bytes all of a Dockerfile's expansions may add up to"`
	// MaxInheritedVars bounds the variables stages take from the stages
	// they are built on, in all: a chain of stages, each adding one,
	// would copy a number that grows with the square of its length.
	MaxInheritedVars int64 `limit:"most variables a Dockerfile's stages take from the stages they are built on, in all"`
	// MaxOnbuildRuns bounds the ONBUILD instructions judged in all: each
	// runs in every stage built on its own, so their number can grow with
	// the square of a Dockerfile's size.
	MaxOnbuildRuns int64 `limit:"most ONBUILD instructions judged in one Dockerfile, counted in every stage they run in"`
	// MaxAddHosts bounds the distinct hosts ADD names that Check looks up
	// (each a wait on DNS), and AddLookupDeadline each lookup.
	MaxAddHosts       int           `limit:"most distinct hosts the ADD instructions of one Dockerfile may name"`
	AddLookupDeadline time.Duration `limit:"longest wait for one DNS lookup of a host an ADD names"`
}

// DefaultCheckLimits are the limits of a Check given none.
var DefaultCheckLimits = CheckLimits{
	MaxDockerfileBytes:    1 << 20,
	MaxExpandedBytes:      1 << 20,
	MaxExpandedTotalBytes: 16 << 20,
	MaxInheritedVars:      1 << 18,
	MaxOnbuildRuns:        4096,
	MaxAddHosts:           64,
	AddLookupDeadline:     10 * time.Second,
}
