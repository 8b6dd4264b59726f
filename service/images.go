package service

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/image"
	"github.com/reprover/reprover/inspect"
)

// An image's page (GET /images/{digest}, GET /api/v1/images/{digest}):
// its inspect report beside every verification of it. Only images the
// service has verified are inspected (their registries passed
// images.allow then); the report is kept in the store by digest, made
// once, when it is first asked for.

// Inspector inspects one image (REPO@sha256:…) for the service.
type Inspector func(ctx context.Context, ref string) (*inspect.Report, error)

// newInspector inspects images through the registries images.allow lets
// the service reach (dialGuard), checking attached verdicts with the
// service's own signing key when it has one.
func newInspector(allow []string, key *attest.PrivateKey) Inspector {
	tr := dialGuard(allow)
	return func(ctx context.Context, ref string) (*inspect.Report, error) {
		r, err := image.Open(ctx, ref, image.Options{Transport: tr})
		if err != nil {
			return nil, err
		}
		defer r.Close()
		o := inspect.Options{Registry: attest.RegistryOptions{Transport: tr}}
		if key != nil {
			o.Keys = []*attest.PublicKey{key.Public()}
		}
		return inspect.Image(ctx, r, o)
	}
}

// SetInspector replaces how the service inspects images; call it before
// Start.
func (s *Service) SetInspector(f Inspector) { s.inspector = f }

// maxImageVerifications bounds the verifications an image's page lists.
const maxImageVerifications = 100

// ImageVerifications are the finished verifications of the published
// image of that digest, newest first, at most limit.
func (s *Store) ImageVerifications(ctx context.Context, digest string, limit int) ([]*Verification, error) {
	return s.many(ctx, `SELECT `+columns+` FROM reprover_verification WHERE image_digest = ? ORDER BY created_at DESC, id DESC LIMIT ?`, digest, limit)
}

// Inspection is the inspect report kept for the image of that digest;
// nil when there is none.
func (s *Store) Inspection(ctx context.Context, digest string) (json.RawMessage, error) {
	var rep string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT report FROM reprover_inspection WHERE digest = ?`), digest).Scan(&rep)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return json.RawMessage(rep), err
}

// PutInspection keeps the inspect report of the image of that digest (a
// later one replaces it).
func (s *Store) PutInspection(ctx context.Context, digest, ref string, rep *inspect.Report, now time.Time) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO reprover_inspection (digest, image, report, highest, created_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (digest) DO UPDATE SET image = excluded.image, report = excluded.report, highest = excluded.highest, created_at = excluded.created_at`),
		digest, ref, string(b), string(rep.Highest()), ms(now))
	return err
}

// ImageSummary is what the list of verifications shows of an image's
// inspection: its highest finding ("" for none) and the reprover
// verdicts attached to it that PASSED, checked with the service's key
// and in all.
type ImageSummary struct {
	Highest         inspect.Severity
	Passed, Checked int
}

// ImageSummaries are the summaries of the inspections kept for digests
// (an image not inspected yet has none).
func (s *Store) ImageSummaries(ctx context.Context, digests []string) (map[string]*ImageSummary, error) {
	out := map[string]*ImageSummary{}
	for _, d := range digests {
		if _, ok := out[d]; ok {
			continue
		}
		raw, err := s.Inspection(ctx, d)
		if err != nil {
			return nil, err
		}
		if raw == nil {
			continue
		}
		var rep struct {
			Platforms []struct {
				Findings []struct {
					Severity inspect.Severity `json:"severity"`
				} `json:"findings"`
			} `json:"platforms"`
			Verdicts []inspect.Verdict `json:"verdicts"`
		}
		if err := json.Unmarshal(raw, &rep); err != nil {
			return nil, fmt.Errorf("inspection of %s: %w", d, err)
		}
		var sum ImageSummary
		for _, p := range rep.Platforms {
			for _, f := range p.Findings {
				if f.Severity.Rank() > sum.Highest.Rank() {
					sum.Highest = f.Severity
				}
			}
		}
		for _, v := range rep.Verdicts {
			if v.Result == attest.ResultPassed && v.Why == "" {
				sum.Passed++
				if v.Checked {
					sum.Checked++
				}
			}
		}
		out[d] = &sum
	}
	return out, nil
}

// imageView is an image as the API shows it.
type imageView struct {
	Digest        string          `json:"digest"`
	Image         string          `json:"image"` // REPO@sha256:… as inspected
	Inspection    json.RawMessage `json:"inspection"`
	Verifications []view          `json:"verifications"`
	// Stopped: the release verified, and its latest verification does
	// not (reverify.every shows it; docs/service.md).
	Stopped *Stopped `json:"stoppedVerifying,omitempty"`
}

// imageOf gathers an image's verifications and its inspect report
// (inspecting it when none is kept), answering the error itself when it
// cannot (400, 404, 502); ok false then.
func (s *Service) imageOf(w http.ResponseWriter, r *http.Request, html bool) (iv imageView, rep *inspect.Report, vs []*Verification, ok bool) {
	fail := func(code int, field, msg string) {
		if html {
			http.Error(w, msg, code)
		} else {
			writeError(w, code, field, msg)
		}
	}
	d, err := image.ParseDigest(r.PathValue("digest"))
	if err != nil {
		fail(http.StatusBadRequest, "digest", err.Error())
		return iv, nil, nil, false
	}
	ctx := r.Context()
	if vs, err = s.store.ImageVerifications(ctx, d.String(), maxImageVerifications); err != nil {
		s.logger.Error("listing an image's verifications", "digest", d, "err", err)
		fail(http.StatusInternalServerError, "", "reading the store")
		return iv, nil, nil, false
	}
	if len(vs) == 0 {
		fail(http.StatusNotFound, "", fmt.Sprintf("image %s: %v (no verification of it)", d, ErrNotFound))
		return iv, nil, nil, false
	}
	ref, err := image.ParseReference(vs[0].Request.Image)
	if err != nil || ref.Transport != image.Registry {
		fail(http.StatusInternalServerError, "", "the verification's image is not a registry reference")
		return iv, nil, nil, false
	}
	iv = imageView{Digest: d.String(), Image: ref.Name + "@" + d.String(), Verifications: []view{}}
	for _, v := range vs {
		iv.Verifications = append(iv.Verifications, viewOf(v, false))
	}
	iv.Stopped = stoppedVerifying(vs)
	raw, err := s.store.Inspection(ctx, d.String())
	if err != nil {
		s.logger.Error("reading an inspection", "digest", d, "err", err)
		fail(http.StatusInternalServerError, "", "reading the store")
		return iv, nil, nil, false
	}
	if raw == nil {
		if rep, err = s.inspect(ctx, iv.Image); err != nil {
			fail(http.StatusBadGateway, "", "inspecting "+iv.Image+": "+sayFields(err))
			return iv, nil, nil, false
		}
		if raw, err = json.Marshal(rep); err != nil {
			fail(http.StatusInternalServerError, "", err.Error())
			return iv, nil, nil, false
		}
	} else if err := json.Unmarshal(raw, &rep); err != nil {
		s.logger.Warn("unreadable inspection", "digest", d, "err", err)
	}
	iv.Inspection = raw
	return iv, rep, vs, true
}

// inspect inspects ref, one image at a time (each reads every layer),
// within the job deadline, and keeps the report.
func (s *Service) inspect(ctx context.Context, ref string) (*inspect.Report, error) {
	if s.inspector == nil {
		return nil, errors.New("this service does not inspect images")
	}
	select {
	case s.inspecting <- struct{}{}:
		defer func() { <-s.inspecting }()
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.JobTimeout)
	defer cancel()
	rep, err := s.inspector(ctx, ref)
	if err != nil {
		return nil, err
	}
	_, digest, _ := strings.Cut(ref, "@")
	if err := s.store.PutInspection(context.WithoutCancel(ctx), digest, ref, rep, s.now()); err != nil {
		s.logger.Warn("keeping an inspection", "image", ref, "err", err)
	}
	return rep, nil
}

func (s *Service) handleImage(w http.ResponseWriter, r *http.Request) {
	if iv, _, _, ok := s.imageOf(w, r, false); ok {
		writeJSON(w, http.StatusOK, iv)
	}
}

func (s *Service) handleImagePage(w http.ResponseWriter, r *http.Request) {
	iv, rep, vs, ok := s.imageOf(w, r, true)
	if !ok {
		return
	}
	var section template.HTML
	if rep != nil {
		var b strings.Builder
		if err := rep.WriteHTMLSection(&b); err != nil {
			s.logger.Error("rendering an inspection", "digest", iv.Digest, "err", err)
		}
		section = template.HTML(b.String()) // html/template's output, every string escaped
	}
	s.render(w, "image.html", map[string]any{"Head": head{Title: "Image " + iv.Digest}, "I": iv, "R": rep, "Section": section, "Items": vs})
}
