package service

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/text"
)

// registryEnvelope is the notification a distribution registry sends.
type registryEnvelope struct {
	Events []struct {
		Action string `json:"action"`
		Target struct {
			MediaType  string `json:"mediaType"`
			Digest     string `json:"digest"`
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
			URL        string `json:"url"`
			Size       int64  `json:"size"`
			Length     int64  `json:"length"`
		} `json:"target"`
		Request struct {
			Host string `json:"host"`
		} `json:"request"`
	} `json:"events"`
}

// gitPushEvent is what matters in a tag push as GitHub sends it (event
// push: repository.full_name, clone_url, after, head_commit) and as GitLab
// does (Tag Push Hook: project.path_with_namespace, git_http_url,
// checkout_sha).
type gitPushEvent struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	HeadCommit *struct {
		ID string `json:"id"`
	} `json:"head_commit"`
	CheckoutSHA *string `json:"checkout_sha"`
	Repository  struct {
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
	} `json:"repository"`
	Project struct {
		PathWithNamespace string `json:"path_with_namespace"`
		GitHTTPURL        string `json:"git_http_url"`
	} `json:"project"`
}

func (e *gitPushEvent) repository() string {
	return cmp.Or(e.Repository.FullName, e.Project.PathWithNamespace)
}

func (e *gitPushEvent) cloneURL() string { return cmp.Or(e.Repository.CloneURL, e.Project.GitHTTPURL) }

// commit is the tagged commit: GitLab's checkout_sha, GitHub's
// head_commit.id (after is the tag object's id for an annotated tag), else
// after; empty for a deleted tag.
func (e *gitPushEvent) commit() string {
	if e.CheckoutSHA != nil {
		return *e.CheckoutSHA
	}
	if e.HeadCommit != nil && e.HeadCommit.ID != "" {
		return e.HeadCommit.ID
	}
	return e.After
}

const zeroCommit = "0000000000000000000000000000000000000000"

type hookResult struct {
	Accepted []view    `json:"accepted"`
	Ignored  []ignored `json:"ignored"`
	// over and failed: an event refused for limits.queuedPerToken, or one
	// the store failed to take (answered 429 and 500, for the sender to
	// deliver again; the accepted ones are the same verifications then).
	over, failed bool
}

type ignored struct {
	Event  int    `json:"event"`
	Reason string `json:"reason"`
}

func (res *hookResult) ignore(i int, reason string) {
	res.Ignored = append(res.Ignored, ignored{i, reason})
}

// hookSubmit validates and submits one request made from an event, as the
// API does a submitted one.
func (s *Service) hookSubmit(ctx context.Context, req Request, submitter string, i int, res *hookResult) {
	v, _, err := s.accept(ctx, req, submitter)
	var fe *FieldError
	var qf *QueueFullError
	switch {
	case errors.As(err, &fe):
		res.ignore(i, "invalid request: "+fe.Error())
	case errors.As(err, &qf):
		res.over = true
		res.ignore(i, qf.Error())
	case err != nil:
		s.logger.Error("submitting from a hook", "err", err)
		res.failed = true
		res.ignore(i, "could not store the verification")
	default:
		res.Accepted = append(res.Accepted, viewOf(v, false))
	}
}

func (s *Service) writeHookResult(w http.ResponseWriter, res hookResult) {
	code := http.StatusAccepted
	switch {
	case res.failed:
		code = http.StatusInternalServerError
	case res.over:
		s.setRetryAfter(w)
		code = http.StatusTooManyRequests
	}
	writeJSON(w, code, res)
}

const maxHookEvents = 100

var (
	// registryHostRe is HOST[:PORT] as a reference names a registry: a
	// DNS name or an address, nothing that could carry a path.
	registryHostRe = regexp.MustCompile(`^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$`)
	// imageTagRe is a tag as the distribution reference grammar allows.
	imageTagRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

func (s *Service) handleRegistryHook(w http.ResponseWriter, r *http.Request) {
	var env registryEnvelope
	body, ok := readBody(w, r)
	if !ok || !decodeEvent(w, body, &env) {
		return
	}
	if len(env.Events) > maxHookEvents {
		writeError(w, http.StatusBadRequest, "events", fmt.Sprintf("more than %d events", maxHookEvents))
		return
	}
	submitter := tokenSubmitter(r)
	res := hookResult{Accepted: []view{}, Ignored: []ignored{}}
	for i, ev := range env.Events {
		t := ev.Target
		switch {
		case ev.Action != "push":
			res.ignore(i, "action "+text.Truncate(ev.Action, 40))
			continue
		case t.Tag == "":
			res.ignore(i, "not a tag push")
			continue
		}
		if _, err := image.ParseDigest(t.Digest); err != nil {
			res.ignore(i, "target.digest: "+err.Error())
			continue
		}
		hook := s.registryHook(t.Repository)
		if hook == nil {
			res.ignore(i, "repository "+text.Truncate(t.Repository, 100)+" is not in hooks.registry")
			continue
		}
		host := hook.Registry
		if host == "" {
			// The event's word for where it was pushed: a host, never a
			// path that would point the verification at another
			// repository.
			host = ev.Request.Host
			if !registryHostRe.MatchString(host) {
				res.ignore(i, "request.host "+strconv.Quote(text.Truncate(host, 100))+" is not HOST[:PORT]")
				continue
			}
		}
		ref := host + "/" + t.Repository + "@" + t.Digest
		if parsed, err := image.ParseReference(ref); err != nil || parsed.Name != host+"/"+t.Repository {
			res.ignore(i, "image "+text.Truncate(ref, 200)+" does not name repository "+text.Truncate(t.Repository, 100)+" on "+text.Truncate(host, 100))
			continue
		}
		// The source and commit are read when the verification runs: the
		// image's provenance first, then its labels.
		req := Request{Image: ref, Source: hook.Source, Dockerfile: hook.Dockerfile, Context: hook.Context, Network: hook.Network}
		s.hookSubmit(r.Context(), req, submitter, i, &res)
	}
	s.writeHookResult(w, res)
}

func (s *Service) registryHook(repo string) *RegistryHook {
	for i := range s.cfg.Hooks.Registry {
		if s.cfg.Hooks.Registry[i].Repository == repo {
			return &s.cfg.Hooks.Registry[i]
		}
	}
	return nil
}

func (s *Service) gitHook(repo string) *GitHook {
	for i := range s.cfg.Hooks.Git {
		if s.cfg.Hooks.Git[i].Repository == repo {
			return &s.cfg.Hooks.Git[i]
		}
	}
	return nil
}

// handleGitHook takes a tag push from GitHub or GitLab. It authenticates
// the event itself: the API's bearer token, or the forge's signature made
// with the secret of the hook of the event's repository.
func (s *Service) handleGitHook(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	var ev gitPushEvent
	decodeErr := json.Unmarshal(body, &ev)
	submitter := ""
	switch {
	case s.tokenOK(r.Header.Get("Authorization")):
		submitter = tokenSubmitter(r)
	case decodeErr == nil && signedBy(r.Header, body, s.gitHook(ev.repository())):
		submitter = "hook:git:" + ev.repository()
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="reprover"`)
		writeError(w, http.StatusUnauthorized, "", "missing or wrong bearer token, X-Hub-Signature-256 or X-Gitlab-Token")
		return
	}
	if decodeErr != nil {
		writeError(w, http.StatusBadRequest, "", "invalid event: "+decodeErr.Error())
		return
	}
	res := hookResult{Accepted: []view{}, Ignored: []ignored{}}
	gh, gl := r.Header.Get("X-GitHub-Event"), r.Header.Get("X-Gitlab-Event")
	if (gh != "" && gh != "push") || (gl != "" && gl != "Tag Push Hook" && gl != "Push Hook") {
		res.ignore(0, "event "+text.Truncate(gh+gl, 60))
		s.writeHookResult(w, res)
		return
	}
	tag, isTag := strings.CutPrefix(ev.Ref, "refs/tags/")
	hook := s.gitHook(ev.repository())
	commit := ev.commit()
	switch {
	case !isTag || tag == "":
		res.ignore(0, "not a tag: "+text.Truncate(ev.Ref, 100))
	case ev.Deleted || commit == zeroCommit || ev.After == zeroCommit:
		res.ignore(0, "tag deleted")
	case hook == nil:
		res.ignore(0, "repository "+text.Truncate(ev.repository(), 100)+" is not in hooks.git")
	case !imageTagRe.MatchString(tag):
		res.ignore(0, "tag "+strconv.Quote(text.Truncate(tag, 100))+" cannot name an image tag")
	case commit == "":
		res.ignore(0, "no commit in the event (after, head_commit.id or checkout_sha)")
	case !gitid.Valid(commit):
		res.ignore(0, "commit "+strconv.Quote(text.Truncate(commit, 100))+" is not a full commit id")
	default:
		src := cmp.Or(hook.Source, ev.cloneURL())
		req := Request{Source: src, Commit: commit, Image: strings.ReplaceAll(hook.Image, "{tag}", tag),
			Dockerfile: hook.Dockerfile, Context: hook.Context, Network: hook.Network}
		s.hookSubmit(r.Context(), req, submitter, 0, &res)
	}
	s.writeHookResult(w, res)
}

// signedBy: the event carries hook's secret as its forge sends it:
// GitHub's X-Hub-Signature-256 ("sha256=" and the hex HMAC-SHA256 of the
// raw body), or GitLab's X-Gitlab-Token (the secret itself). Compared in
// constant time.
func signedBy(h http.Header, body []byte, hook *GitHook) bool {
	if hook == nil || hook.Secret == "" {
		return false
	}
	if sig, ok := strings.CutPrefix(h.Get("X-Hub-Signature-256"), "sha256="); ok {
		got, err := hex.DecodeString(sig)
		if err != nil {
			return false
		}
		mac := hmac.New(sha256.New, []byte(hook.Secret))
		mac.Write(body)
		return hmac.Equal(got, mac.Sum(nil))
	}
	if tok := h.Get("X-Gitlab-Token"); tok != "" {
		return subtle.ConstantTimeCompare([]byte(tok), []byte(hook.Secret)) == 1
	}
	return false
}

// readBody reads an event body under maxBodyBytes (the bytes a signature
// is made over).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("body larger than %d bytes", maxBodyBytes))
		return nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "", "reading the body: "+err.Error())
		return nil, false
	}
	return body, true
}

// decodeEvent decodes an event; events carry many fields reprover does
// not use, so unknown fields are fine here.
func decodeEvent(w http.ResponseWriter, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "", "invalid event: "+err.Error())
		return false
	}
	return true
}
