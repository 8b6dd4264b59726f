package attest

import "errors"

// The errors callers branch on: a malformed envelope is exit 2, a failed
// check exit 1. An envelope over a limit is also a *limits.Error; an
// argument that is wrong (Check's threshold, GenerateKey's KeyType) a
// *param.Error naming it as this package does, which an edge words as its
// own (the CLI: --threshold, --type).
var (
	// ErrMalformed: the bytes are not a DSSE envelope (they do not parse,
	// its payload is not base64), or exceed a limit.
	ErrMalformed = errors.New("malformed envelope")
	// ErrRejected: an envelope that parses is refused (another payload
	// type, no signature that verifies, a statement that is not in-toto's).
	ErrRejected = errors.New("attestation rejected")
)
