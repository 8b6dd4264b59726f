package service

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/reprover/reprover/internal/param"
	"github.com/reprover/reprover/verify"
)

// The errors of the service: what the API answers 404 (ErrNotFound), 400
// (*FieldError), 429 (*QueueFullError), and what a worker retries
// (*TransientError). A library's error about a parameter reaches an API
// user in the API's words (fieldOf).

// ErrNotFound: no verification has the id (wrapped, naming it). As
// containerd's errdefs.ErrNotFound (and image.ErrNotFound), it is a class:
// what was not found is in the wrap.
var ErrNotFound = errors.New("not found")

// FieldError is a request field that is missing or invalid (400).
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// TransientError marks a fault worth retrying.
type TransientError struct{ Err error }

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// QueueFullError refuses a submission over limits.queuedPerToken.
type QueueFullError struct {
	Submitter string
	Limit     int
}

func (e *QueueFullError) Error() string {
	return fmt.Sprintf("%d verifications of this submitter are already queued or running (limits.queuedPerToken)", e.Limit)
}

// errSuperseded ends a run whose verification was run again elsewhere
// (its attempt lost the lease: the worker was silent, then woke up).
var errSuperseded = errors.New("the verification was run again elsewhere")

// configOf names the parameters the server sets, not a submission, by
// the configuration key that sets them.
var configOf = map[string]string{
	"AllowSourceHosts":   "sources.allow",
	"AllowDownloadHosts": "network.allowDownloadHosts",
}

// fieldOf is the API's name for a parameter a library names in its errors
// (*param.Error): the configuration key that sets it when the server sets
// it (configOf), else the JSON field of verify.Request (whose names the
// submission's fields share: source, sourceDateEpoch, buildArgs), else the library's name with a
// lower-case first letter. It is the service's one translation of the
// libraries' words (the CLI's: flags).
func fieldOf(p string) string {
	if k, ok := configOf[p]; ok {
		return k
	}
	if f, ok := reflect.TypeFor[verify.Request]().FieldByName(p); ok {
		if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" {
			return name
		}
	}
	if p == "" {
		return p
	}
	return strings.ToLower(p[:1]) + p[1:]
}

// sayFields is err's message in the API's words.
func sayFields(err error) string { return param.Say(err, fieldOf) }
