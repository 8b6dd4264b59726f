package service

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"path"
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
// normal form, each once and sorted, a source without trailing slashes
// and with its scheme and host in lower case, the Dockerfile and context
// paths cleaned ("./Dockerfile" is "Dockerfile", "./" is "."). Values it
// cannot parse are left for Validate to refuse.
//
// What it keeps apart, because it may mean something else: a source with
// and without ".git" (forges serve both, but a plain git server or a
// directory may hold two repositories), the path of a source in another
// case, and a context or Dockerfile omitted and written out (omitted is
// what the release's provenance names, "." only the source's root).
func normalise(r Request, cfg *Config) Request {
	// Stored as run: the default may change later.
	r.Network = cmp.Or(r.Network, cfg.Network.Default, verify.NetworkNone)
	r.Source = normaliseSource(r.Source)
	if r.Dockerfile != "" {
		r.Dockerfile = path.Clean(r.Dockerfile)
	}
	if r.Context != "" {
		r.Context = path.Clean(r.Context)
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

// normaliseSource: a local path cleaned; a URL or scp address without
// trailing slashes, its scheme and host in lower case (host names are
// case-insensitive; paths and users are not).
func normaliseSource(src string) string {
	if src == "" {
		return ""
	}
	if strings.HasPrefix(src, "/") {
		return filepath.Clean(src)
	}
	if t := strings.TrimRight(src, "/"); t != "" && !strings.HasSuffix(t, ":") {
		src = t
	}
	if scheme, rest, ok := strings.Cut(src, "://"); ok && scheme != "" && !strings.ContainsAny(scheme, "/@:") {
		end := strings.IndexAny(rest+"/", "/?#")
		authority := rest[:end]
		at := strings.LastIndex(authority, "@") + 1
		return strings.ToLower(scheme) + "://" + authority[:at] + strings.ToLower(authority[at:]) + rest[end:]
	}
	// user@host:path, as hosts.ParseSource reads it: a ':' with an '@'
	// and no '/' before it.
	if userHost, p, ok := strings.Cut(src, ":"); ok && !strings.Contains(userHost, "/") && strings.Contains(userHost, "@") && !strings.HasPrefix(p, ":") {
		user, host, _ := strings.Cut(userHost, "@")
		if strings.HasPrefix(host, "[") { // user@[IPv6]:path
			return src[:len(user)+1] + strings.ToLower(src[len(user)+1:strings.Index(src, "]")]) + src[strings.Index(src, "]"):]
		}
		return user + "@" + strings.ToLower(host) + ":" + p
	}
	return src
}

// accept normalises and validates a request, then submits it for
// submitter under limits.queuedPerToken.
func (s *Service) accept(ctx context.Context, r Request, submitter string) (*Verification, bool, error) {
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
