package service

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/verify"
)

// maxBodyBytes bounds a request body (submissions and hook events).
const maxBodyBytes = 256 << 10

// Handler is the HTTP API, the hooks, the web pages and the metrics.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, write bool, h http.HandlerFunc) {
		mux.Handle(pattern, s.instrument(pattern, s.authorize(write, h)))
	}
	route("POST /api/v1/verifications", true, s.handleSubmit)
	route("GET /api/v1/verifications", false, s.handleList)
	route("GET /api/v1/verifications/{id}", false, s.handleGet)
	route("GET /api/v1/verifications/{id}/attestation", false, s.handleAttestation)
	route("POST /api/v1/hooks/registry", true, s.handleRegistryHook)
	// The git hook authenticates its events itself: the token, or the
	// forge's signature with the hook's secret.
	mux.Handle("POST /api/v1/hooks/git", s.instrument("POST /api/v1/hooks/git", http.HandlerFunc(s.handleGitHook)))
	route("GET /{$}", false, s.handleIndexPage)
	route("GET /verifications/{id}", false, s.handleVerificationPage)
	route("GET /causes", false, s.handleCausesPage)
	route("GET /api/v1/images/{digest}", false, s.handleImage)
	route("GET /images/{digest}", false, s.handleImagePage)
	mux.Handle("GET /static/", s.instrument("GET /static/", http.FileServerFS(staticFS)))
	mux.Handle("GET /healthz", s.instrument("GET /healthz", http.HandlerFunc(s.handleHealth)))
	mux.Handle("GET /metrics", s.authorize(false, promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}).ServeHTTP))
	return securityHeaders(mux)
}

// NewHTTPServer is an http.Server with the timeouts a public endpoint needs
// (slow headers, slow bodies, idle connections).
func (s *Service) NewHTTPServer() *http.Server {
	return &http.Server{
		Addr:              s.cfg.Listen,
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
		w.Header().Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

func (s *Service) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		h.ServeHTTP(rec, r)
		s.metrics.requests.WithLabelValues(route, strconv.Itoa(rec.code)).Inc()
	})
}

// authorize: writes need a bearer token; reads too unless publicReads.
func (s *Service) authorize(write bool, h http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !write && s.cfg.PublicReads {
			h(w, r)
			return
		}
		if !s.tokenOK(r.Header.Get("Authorization")) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="reprover"`)
			writeError(w, http.StatusUnauthorized, "", "missing or wrong bearer token")
			return
		}
		h(w, r)
	})
}

// tokenOK compares the token with every configured one in constant time.
func (s *Service) tokenOK(header string) bool {
	tok, ok := strings.CutPrefix(header, "Bearer ")
	if !ok || tok == "" {
		return false
	}
	match := 0
	for _, t := range s.cfg.Auth.Tokens {
		match |= subtle.ConstantTimeCompare([]byte(tok), []byte(t))
	}
	return match == 1
}

type apiError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

func writeError(w http.ResponseWriter, code int, field, msg string) {
	writeJSON(w, code, apiError{Error: msg, Field: field})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// decodeBody reads a JSON body under maxBodyBytes, refusing unknown fields
// and trailing data, and names the field at fault.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "", fmt.Sprintf("body larger than %d bytes", maxBodyBytes))
		} else {
			writeError(w, http.StatusBadRequest, "", "reading the body: "+err.Error())
		}
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		field := ""
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field = te.Field
		} else if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			field = strings.Trim(f, `"`)
		}
		writeError(w, http.StatusBadRequest, field, "invalid JSON: "+err.Error())
		return false
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, "", "trailing data after the JSON object")
		return false
	}
	return true
}

// view is a verification as the API shows it.
type view struct {
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Verdict     verify.Verdict    `json:"verdict,omitempty"`
	Error       string            `json:"error,omitempty"`
	Request     Request           `json:"request"`
	Attempts    int               `json:"attempts"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	FinishedAt  *time.Time        `json:"finishedAt,omitempty"`
	Report      json.RawMessage   `json:"report,omitempty"`
	Attestation bool              `json:"attestation"`
	Links       map[string]string `json:"links"`
}

func viewOf(v *Verification, withReport bool) view {
	out := view{ID: v.ID, Status: v.Status, Verdict: v.Verdict, Error: v.Error, Request: v.Request, Attempts: v.Attempts,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, FinishedAt: v.FinishedAt, Attestation: len(v.Attestation) > 0,
		Links: map[string]string{"self": "/api/v1/verifications/" + v.ID, "page": "/verifications/" + v.ID}}
	if out.Attestation {
		out.Links["attestation"] = "/api/v1/verifications/" + v.ID + "/attestation"
	}
	if withReport {
		out.Report = v.Report
	}
	return out
}

func (s *Service) handleSubmit(w http.ResponseWriter, r *http.Request) {
	var req Request
	if !decodeBody(w, r, &req) {
		return
	}
	v, created, err := s.accept(r.Context(), req, tokenSubmitter(r))
	if err != nil {
		s.writeSubmitError(w, err)
		return
	}
	code := http.StatusOK
	if created {
		code = http.StatusAccepted
	}
	writeJSON(w, code, viewOf(v, false))
}

// lookup reads the verification named by the path, or answers 404/500.
func (s *Service) lookup(w http.ResponseWriter, r *http.Request) (*Verification, bool) {
	v, err := s.store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "id", "no verification "+text.Truncate(r.PathValue("id"), 100))
		return nil, false
	}
	if err != nil {
		writeError(w, http.StatusInternalServerError, "", "reading the store")
		return nil, false
	}
	return v, true
}

func (s *Service) handleGet(w http.ResponseWriter, r *http.Request) {
	if v, ok := s.lookup(w, r); ok {
		writeJSON(w, http.StatusOK, viewOf(v, true))
	}
}

func (s *Service) handleAttestation(w http.ResponseWriter, r *http.Request) {
	v, ok := s.lookup(w, r)
	if !ok {
		return
	}
	if len(v.Attestation) == 0 {
		writeError(w, http.StatusNotFound, "", "no attestation (not finished, or the server does not sign)")
		return
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Write(v.Attestation)
}

func (s *Service) handleList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit := 50
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 200 {
			writeError(w, http.StatusBadRequest, "limit", "want 1 to 200")
			return
		}
		limit = n
	}
	f := Filter{Image: q.Get("image"), Commit: q.Get("commit"), Verdict: q.Get("verdict"), Status: q.Get("status"), Limit: limit, Before: q.Get("cursor")}
	items, next, err := s.store.List(r.Context(), f)
	var fe *FieldError
	if errors.As(err, &fe) {
		writeError(w, http.StatusBadRequest, fe.Field, fe.Error())
		return
	}
	if err != nil {
		s.logger.Error("listing", "err", err)
		writeError(w, http.StatusInternalServerError, "", "reading the store")
		return
	}
	out := struct {
		Items []view `json:"items"`
		Next  string `json:"next,omitempty"`
	}{Items: []view{}, Next: next}
	for _, v := range items {
		out.Items = append(out.Items, viewOf(v, false))
	}
	writeJSON(w, http.StatusOK, out)
}

// healthTimeout bounds the whole health check (its parts run at once).
const healthTimeout = 2 * time.Second

// health is /healthz's answer: each part's "ok" or what failed.
type health struct {
	Status string            `json:"status"` // ok or unhealthy
	Checks map[string]string `json:"checks"`
}

// handleHealth checks each part a verification needs: the store (its
// table read, not only a ping), the queue (River's table read through
// River, and River running), and the BuildKit pool (a daemon that answers,
// when the runner has a pool). 503 names the part that failed.
func (s *Service) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
	defer cancel()
	checks := map[string]func(context.Context) error{
		"store": func(ctx context.Context) error { _, err := s.store.Counts(ctx); return err },
		"queue": s.queue.Check,
	}
	if c, ok := s.runner.(interface{ Check(context.Context) error }); ok {
		checks["buildkit"] = c.Check
	}
	h := health{Status: "ok", Checks: map[string]string{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for name, check := range checks {
		wg.Go(func() {
			res := "ok"
			if err := check(ctx); err != nil {
				res = err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			h.Checks[name] = res
			if res != "ok" {
				h.Status = "unhealthy"
			}
		})
	}
	wg.Wait()
	code := http.StatusOK
	if h.Status != "ok" {
		code = http.StatusServiceUnavailable
		s.logger.Warn("unhealthy", "checks", h.Checks)
	}
	writeJSON(w, code, h)
}
