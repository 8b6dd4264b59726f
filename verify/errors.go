package verify

import "errors"

// The classes of error a caller may branch on (errors.Is), each returned
// wrapped with what it names; every one ends a verification with the
// verdict "error" (exit 2). Transient says which a later attempt may not
// meet. A parameter of the Request that is missing or wrong is also an
// *param.Error naming the Request field (Source, SourceDateEpoch…): the
// library's words, which the CLI says as a flag and the service as a JSON
// field.
var (
	// ErrMissingParameter: neither the request nor the published image
	// names a parameter of the rebuild (the source, the commit, the build
	// arguments): a rebuild never guesses.
	ErrMissingParameter = errors.New("a parameter of the rebuild is not known")
	// ErrUnknownCommit: the commit does not exist in the source (wrapped,
	// naming both).
	ErrUnknownCommit = errors.New("commit not found")
	// ErrBuilderUnreachable: a BuildKit daemon does not answer (wrapped,
	// naming it): a fault a later attempt may not meet.
	ErrBuilderUnreachable = errors.New("buildkitd unreachable")
	// ErrNoPins: a proxied rebuild has nothing to check its downloads
	// against.
	ErrNoPins = errors.New("no pins for the downloads")
	// ErrUnpinned: the Dockerfile has inputs the pinning rules refuse, or
	// the rebuild downloaded something no pin covers.
	ErrUnpinned = errors.New("unpinned inputs")
	// ErrKit: the release's kit cannot stand for its inputs: it lacks a
	// pinned download, holds other bytes for one, or served a blob that
	// did not match its pin (wrapped, naming the URL).
	ErrKit = errors.New("the kit does not hold the release's inputs")
)

// RequestError is a Request that Check refuses, naming every problem (each
// a *param.Error, joined): nothing was started. Run and Twice return it
// before anything else, so a caller tells a wrong request from a failed
// verification.
type RequestError struct{ Err error }

func (e *RequestError) Error() string { return e.Err.Error() }
func (e *RequestError) Unwrap() error { return e.Err }
