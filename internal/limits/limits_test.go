package limits

import (
	"errors"
	"fmt"
	"testing"
)

func TestError(t *testing.T) {
	for _, c := range []struct {
		err  Error
		want string
	}{
		{Error{What: "manifest sha256:ab", Limit: "MaxManifestBytes", Max: 4, Got: 5}, "manifest sha256:ab: 5 exceeds limit MaxManifestBytes=4"},
		{Error{What: "layer 1 tar entries", Limit: "MaxEntries", Max: 0, Got: 1}, "layer 1 tar entries: 1 exceeds limit MaxEntries=0"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("Error() = %q, want %q", got, c.want)
		}
	}
}

func TestAs(t *testing.T) {
	sentinel := errors.New("malformed")
	err := fmt.Errorf("envelope 2: %w", fmt.Errorf("%w: %w", sentinel, &Error{What: "envelope bytes", Limit: "MaxEnvelopeBytes", Max: 1, Got: 2}))
	var le *Error
	if !errors.As(err, &le) || le.Limit != "MaxEnvelopeBytes" {
		t.Errorf("errors.As(%v) found %+v", err, le)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("%v does not wrap the sentinel", err)
	}
}
