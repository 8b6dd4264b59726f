//go:build !race

package builder

// raceAlloc multiplies an allocation bound under the race detector (1: it
// is off).
const raceAlloc = 1
