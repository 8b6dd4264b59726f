package service

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/containerd/platforms"

	"github.com/reprover/reprover/verify"
)

// maxPlatformLen bounds one platform string ("linux/arm64/v8"; an OS
// version in parentheses is the longest real form).
const maxPlatformLen = 128

// normalise rewrites a request into the one form of what it asks, so that
// requests that mean the same are one verification (one id): the network
// the server's default makes of an empty one, platforms in containerd's
// normal form, each once and sorted, a source without trailing slashes.
// Values it cannot parse are left for Validate to refuse.
func normalise(r Request, cfg *Config) Request {
	// Stored as run: the default may change later.
	r.Network = cmp.Or(r.Network, cfg.Network.Default, verify.NetworkNone)
	switch {
	case strings.HasPrefix(r.Source, "/"):
		r.Source = filepath.Clean(r.Source)
	case r.Source != "":
		if t := strings.TrimRight(r.Source, "/"); t != "" && !strings.HasSuffix(t, ":") {
			r.Source = t
		}
	}
	if len(r.BuildArgs) == 0 {
		r.BuildArgs = nil
	}
	if len(r.Platforms) == 0 {
		r.Platforms = nil
		return r
	}
	ps := make([]string, 0, len(r.Platforms))
	for _, p := range r.Platforms {
		if len(p) <= maxPlatformLen {
			if parsed, err := platforms.Parse(p); err == nil {
				p = platforms.Format(platforms.Normalize(parsed))
			}
		}
		ps = append(ps, p)
	}
	slices.Sort(ps)
	r.Platforms = slices.Compact(ps)
	return r
}

// checkBounds refuses what Validate parses without bounding: a platform
// string longer than maxPlatformLen.
func checkBounds(r Request) error {
	for _, p := range r.Platforms {
		if len(p) > maxPlatformLen {
			return &FieldError{"platforms", fmt.Sprintf("a platform of %d bytes, longer than %d", len(p), maxPlatformLen)}
		}
	}
	return nil
}

// accept normalises, bounds and validates a request, then submits it for
// submitter under limits.queuedPerToken.
func (s *Service) accept(ctx context.Context, r Request, submitter string) (*Verification, bool, error) {
	if err := checkBounds(r); err != nil {
		return nil, false, err
	}
	r = normalise(r, s.cfg)
	if err := r.Validate(s.cfg); err != nil {
		return nil, false, err
	}
	return s.submitAs(ctx, r, submitter, max(s.cfg.Limits.QueuedPerToken, 0))
}

// tokenSubmitter names the bearer token of an authorized request without
// keeping it: the first 12 bytes of its sha256, in hex.
func tokenSubmitter(r *http.Request) string {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(tok))
	return "token:" + hex.EncodeToString(sum[:12])
}

// writeSubmitError answers a refused or failed submission: a field the
// caller got wrong is a 400 naming it, a full queue a 429 saying when to
// come back, anything else the server's fault (500), never blamed on the
// caller.
func (s *Service) writeSubmitError(w http.ResponseWriter, err error) {
	var fe *FieldError
	var qf *QueueFullError
	switch {
	case errors.As(err, &fe):
		writeError(w, http.StatusBadRequest, fe.Field, fe.Error())
	case errors.As(err, &qf):
		s.setRetryAfter(w)
		writeError(w, http.StatusTooManyRequests, "", qf.Error())
	default:
		s.logger.Error("submitting", "err", err)
		writeError(w, http.StatusInternalServerError, "", "could not store the verification (the store failed; nothing was stored)")
	}
}

func (s *Service) setRetryAfter(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(int(max(s.cfg.Limits.RetryAfter.Seconds(), 1))))
}
