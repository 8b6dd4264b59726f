//go:build race

package builder

// raceAlloc multiplies an allocation bound under the race detector, which
// makes the runtime allocate more for the same work (make test runs -race).
const raceAlloc = 4
