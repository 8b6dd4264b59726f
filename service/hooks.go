package service

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/reprover/reprover/image"
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

// gitPushEvent is the shape of GitHub's push event that matters here.
type gitPushEvent struct {
	Ref        string `json:"ref"`
	After      string `json:"after"`
	Deleted    bool   `json:"deleted"`
	Repository struct {
		FullName string `json:"full_name"`
		CloneURL string `json:"clone_url"`
	} `json:"repository"`
}

type hookResult struct {
	Accepted []view    `json:"accepted"`
	Ignored  []ignored `json:"ignored"`
}

type ignored struct {
	Event  int    `json:"event"`
	Reason string `json:"reason"`
}

// hookSubmit validates and submits one request made from an event.
func (s *Service) hookSubmit(ctx context.Context, req Request, i int, res *hookResult) {
	if err := req.Validate(s.cfg); err != nil {
		res.Ignored = append(res.Ignored, ignored{i, "invalid request: " + err.Error()})
		return
	}
	v, _, err := s.Submit(ctx, req)
	if err != nil {
		res.Ignored = append(res.Ignored, ignored{i, "could not store: " + err.Error()})
		return
	}
	res.Accepted = append(res.Accepted, viewOf(v, false))
}

const maxHookEvents = 100

func (s *Service) handleRegistryHook(w http.ResponseWriter, r *http.Request) {
	var env registryEnvelope
	if !decodeLooseBody(w, r, &env) {
		return
	}
	if len(env.Events) > maxHookEvents {
		writeError(w, http.StatusBadRequest, "events", fmt.Sprintf("more than %d events", maxHookEvents))
		return
	}
	res := hookResult{Accepted: []view{}, Ignored: []ignored{}}
	for i, ev := range env.Events {
		t := ev.Target
		switch {
		case ev.Action != "push":
			res.Ignored = append(res.Ignored, ignored{i, "action " + ev.Action})
			continue
		case t.Tag == "":
			res.Ignored = append(res.Ignored, ignored{i, "not a tag push"})
			continue
		}
		if _, err := image.ParseDigest(t.Digest); err != nil {
			res.Ignored = append(res.Ignored, ignored{i, "target.digest: " + err.Error()})
			continue
		}
		hook := s.registryHook(t.Repository)
		if hook == nil {
			res.Ignored = append(res.Ignored, ignored{i, "repository " + text.Truncate(t.Repository, 100) + " is not in hooks.registry"})
			continue
		}
		host := hook.Registry
		if host == "" {
			host = ev.Request.Host
		}
		ref := host + "/" + t.Repository + "@" + t.Digest
		req := Request{Image: ref, Source: hook.Source, Dockerfile: hook.Dockerfile, Context: hook.Context, Network: hook.Network}
		// The source and commit are read when the verification runs: the
		// image's provenance first, then its labels.
		if parsed, err := image.ParseReference(ref); err != nil {
			res.Ignored = append(res.Ignored, ignored{i, err.Error()})
			continue
		} else if err := imageAllowed(ref, parsed, s.cfg.Images.Allow); err != nil {
			res.Ignored = append(res.Ignored, ignored{i, err.Error()})
			continue
		}
		s.hookSubmit(r.Context(), req, i, &res)
	}
	writeJSON(w, http.StatusAccepted, res)
}

func (s *Service) registryHook(repo string) *RegistryHook {
	for i := range s.cfg.Hooks.Registry {
		if s.cfg.Hooks.Registry[i].Repository == repo {
			return &s.cfg.Hooks.Registry[i]
		}
	}
	return nil
}

func (s *Service) handleGitHook(w http.ResponseWriter, r *http.Request) {
	if e := r.Header.Get("X-GitHub-Event"); e != "" && e != "push" {
		writeJSON(w, http.StatusAccepted, hookResult{Accepted: []view{}, Ignored: []ignored{{0, "event " + e}}})
		return
	}
	var ev gitPushEvent
	if !decodeLooseBody(w, r, &ev) {
		return
	}
	res := hookResult{Accepted: []view{}, Ignored: []ignored{}}
	tag, isTag := strings.CutPrefix(ev.Ref, "refs/tags/")
	var hook *GitHook
	for i := range s.cfg.Hooks.Git {
		if s.cfg.Hooks.Git[i].Repository == ev.Repository.FullName {
			hook = &s.cfg.Hooks.Git[i]
		}
	}
	switch {
	case !isTag || tag == "":
		res.Ignored = append(res.Ignored, ignored{0, "not a tag: " + text.Truncate(ev.Ref, 100)})
	case ev.Deleted:
		res.Ignored = append(res.Ignored, ignored{0, "tag deleted"})
	case hook == nil:
		res.Ignored = append(res.Ignored, ignored{0, "repository " + text.Truncate(ev.Repository.FullName, 100) + " is not in hooks.git"})
	case strings.ContainsAny(tag, "/:@ \t\n") || len(tag) > 128:
		res.Ignored = append(res.Ignored, ignored{0, "tag " + text.Truncate(tag, 100) + " cannot name an image tag"})
	default:
		src := hook.Source
		if src == "" {
			src = ev.Repository.CloneURL
		}
		req := Request{Source: src, Commit: ev.After, Image: strings.ReplaceAll(hook.Image, "{tag}", tag),
			Dockerfile: hook.Dockerfile, Context: hook.Context, Network: hook.Network}
		s.hookSubmit(r.Context(), req, 0, &res)
	}
	writeJSON(w, http.StatusAccepted, res)
}

// decodeLooseBody reads an event body under maxBodyBytes; events carry
// many fields reprover does not use, so unknown fields are fine here.
func decodeLooseBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if err := jsonDecode(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "", "invalid event: "+err.Error())
		return false
	}
	return true
}
