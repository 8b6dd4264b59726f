// Package limits is the one error type for untrusted input that exceeded a
// named limit (a field of image.Limits, compare.Limits or attest.Limits), so
// callers tell "too big" from "malformed" with errors.As whatever the package.
package limits

import "fmt"

// Error reports an untrusted input that exceeded a named limit.
type Error struct {
	What  string // the input, e.g. "manifest sha256:…"
	Limit string // the limit's name, e.g. "MaxManifestBytes"
	Max   int64
	Got   int64 // the value seen; for streams, at least this much
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s: %d exceeds limit %s=%d", e.What, e.Got, e.Limit, e.Max)
}
