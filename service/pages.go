package service

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/reprover/reprover/causes"
	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/internal/gitid"
	"github.com/reprover/reprover/internal/text"
	"github.com/reprover/reprover/verify"
)

//go:embed web
var webFS embed.FS

// staticFS serves /static/ from web/static.
var staticFS = func() fs.FS {
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err)
	}
	return sub
}()

// pages show every string they print through visible or visibleLines
// (text.Visible): a report's strings come from an image, a provenance or
// a repository, a request's from whoever submitted it.
var pages = template.Must(template.New("").Funcs(text.TemplateFuncs()).Funcs(template.FuncMap{
	"join":    func(s []string) string { return strings.Join(s, ", ") },
	"json":    func(v any) string { b, _ := json.Marshal(v); return string(b) },
	"short":   shortID,
	"diff":    diffHTML,
	"meta":    metaText,
	"anchor":  anchor,
	"epoch":   func(s *int64) string { return time.Unix(*s, 0).UTC().Format(time.RFC3339) },
	"sorted":  func(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) },
	"plural":  plural,
	"filterq": filterURL,
	"inc":     func(i int) int { return i + 1 }, // layers counted from 1, as people count
}).ParseFS(webFS, "web/*.html"))

// shortID shortens a commit or a digest for a table cell; the full value
// goes in the cell's title.
func shortID(s string) string {
	if d, ok := strings.CutPrefix(s, "sha256:"); ok {
		return "sha256:" + d[:min(len(d), 12)]
	}
	return s[:min(len(s), 12)]
}

// diffHTML colours a unified diff's added and removed lines.
func diffHTML(d string) template.HTML {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimSuffix(d, "\n"), "\n") {
		esc := template.HTMLEscapeString(l)
		switch {
		case strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "+++"):
			b.WriteString(`<span class="add">` + esc + "</span>\n")
		case strings.HasPrefix(l, "-") && !strings.HasPrefix(l, "---"):
			b.WriteString(`<span class="del">` + esc + "</span>\n")
		default:
			b.WriteString(esc + "\n")
		}
	}
	return template.HTML(b.String())
}

// metaText is one side of a changed file in a line: what the aspects
// (mode, owner, size, content) refer to.
func metaText(m *compare.FileMeta) string {
	if m == nil {
		return "—"
	}
	parts := []string{m.Type, m.Mode, fmt.Sprintf("%d:%d", m.UID, m.GID), plural(int(m.Size), "byte")}
	if m.Digest != "" {
		parts = append(parts, shortID(m.Digest))
	}
	if m.Linkname != "" {
		parts = append(parts, "→ "+m.Linkname)
	}
	if m.DevMajor != 0 || m.DevMinor != 0 {
		parts = append(parts, fmt.Sprintf("dev %d,%d", m.DevMajor, m.DevMinor))
	}
	for _, k := range slices.Sorted(maps.Keys(m.Xattrs)) {
		parts = append(parts, "xattr "+k)
	}
	if m.Occurrences > 1 {
		parts = append(parts, fmt.Sprintf("%d entries in the layer", m.Occurrences))
	}
	return strings.Join(parts, " ")
}

var notAnchor = regexp.MustCompile(`[^a-zA-Z0-9_-]+`)

// anchor is the fragment id of a platform's section.
func anchor(platform string) string { return "platform-" + notAnchor.ReplaceAllString(platform, "-") }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// filterURL is the list filtered on one more field, for links in the list.
func filterURL(f Filter, key, value string) string {
	q := url.Values{}
	for k, v := range map[string]string{"image": f.Image, "commit": f.Commit, "verdict": f.Verdict, "status": f.Status} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set(key, value)
	return "/?" + q.Encode()
}

func (s *Service) handleIndexPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Image: strings.TrimSpace(q.Get("image")), Commit: strings.TrimSpace(q.Get("commit")),
		Verdict: q.Get("verdict"), Status: q.Get("status"), Limit: 50, Before: q.Get("cursor")}
	items, next, err := s.store.List(r.Context(), f)
	var fe *FieldError
	if errors.As(err, &fe) {
		http.Error(w, "bad filter: "+fe.Error(), http.StatusBadRequest)
		return
	}
	if err != nil {
		s.logger.Error("listing", "err", err)
		http.Error(w, "reading the store", http.StatusInternalServerError)
		return
	}
	var notice string
	if f.Commit != "" && !gitid.Valid(f.Commit) {
		// The store matches whole commits; a short one matches nothing,
		// which must not read as "never verified".
		notice = fmt.Sprintf("The commit filter %q is not a full commit id (40 or 64 hex characters); only full ids match.", f.Commit)
	}
	nq := url.Values{}
	for k, v := range map[string]string{"image": f.Image, "commit": f.Commit, "verdict": f.Verdict, "status": f.Status, "cursor": next} {
		if v != "" {
			nq.Set(k, v)
		}
	}
	var digests []string
	for _, v := range items {
		if v.ImageDigest != "" {
			digests = append(digests, v.ImageDigest)
		}
	}
	images, err := s.store.ImageSummaries(r.Context(), digests)
	if err != nil {
		s.logger.Warn("reading inspections", "err", err)
	}
	s.render(w, "index.html", map[string]any{
		"Head":   head{Title: "Verifications"},
		"Images": images,
		"Items":  items, "Filter": f, "Filtered": f.Image != "" || f.Commit != "" || f.Verdict != "" || f.Status != "",
		"Notice": notice, "Paged": f.Before != "",
		"Next": next, "NextURL": "/?" + nq.Encode(),
		"Verdicts": verify.Verdicts,
		"Statuses": []string{StatusQueued, StatusRunning, StatusDone, StatusFailed},
	})
}

// head is what the layout's head needs.
type head struct {
	Title string
	// Refresh reloads the page every this many seconds (0: never): a
	// verification still queued or running, without any script.
	Refresh int
}

// summary is the top of a verification page: the sentence an auditor
// reads first, and one line per platform with what differs.
type summary struct {
	Class    string // ok, warn, bad or pending: the banner's colour
	Headline string
	Detail   string
	Changed  []platformSummary
}

type platformSummary struct {
	Platform                             string
	Verdict                              verify.Verdict
	Layers, LayersChanged, Files, Config int
	Findings                             int
	Encoding                             []string
}

func summarize(v *Verification, r *verify.Report) summary {
	switch v.Status {
	case StatusQueued:
		return summary{Class: "pending", Headline: "Queued: this verification has not started yet.", Detail: "This page reloads until it finishes."}
	case StatusRunning:
		return summary{Class: "pending", Headline: "Running: the source is being rebuilt and compared.", Detail: "This page reloads until it finishes."}
	}
	var s summary
	files, layers, config, differ := 0, 0, 0, 0
	if r != nil {
		for _, p := range r.Platforms {
			ps := platformSummary{Platform: p.Platform, Verdict: p.Verdict, Layers: len(p.Layers), Files: len(p.Files),
				Config: len(p.Config), Findings: len(p.Findings), Encoding: p.Encoding}
			for _, l := range p.Layers {
				if l.Verdict != compare.Identical {
					ps.LayersChanged++
				}
				ps.Findings += len(l.Findings)
			}
			if p.Verdict == verify.Mismatch {
				differ++
			}
			files += ps.Files
			layers += ps.LayersChanged
			config += ps.Config
			s.Changed = append(s.Changed, ps)
		}
	}
	verdict := v.Verdict
	if v.Status == StatusFailed {
		verdict = verify.Error
	}
	switch verdict {
	case verify.Reproducible:
		s.Class, s.Headline = "ok", "Reproducible: rebuilding the source gives the published image, bit for bit."
		if r != nil && r.Published != nil {
			s.Detail = "Both have the digest " + r.Published.Digest + "."
		}
	case compare.Equivalent:
		s.Class, s.Headline = "ok", "Equivalent: the rebuild has the same files and config as the published image, stored differently."
		if r != nil {
			s.Detail = "Only the encoding differs: " + strings.Join(r.Encoding, ", ") + "."
		}
	case verify.Mismatch:
		s.Class, s.Headline = "bad", "Mismatch: the published image is not what this source builds."
		if r != nil {
			s.Detail = fmt.Sprintf("On %d of %s: %s changed in %s, %s changed. Every difference is listed below.",
				differ, plural(len(r.Platforms), "platform"), plural(files, "file"), plural(layers, "layer"), plural(config, "config field"))
		}
	default:
		s.Class, s.Headline = "bad", "Error: this verification could not reach a verdict."
		s.Detail = v.Error
		if s.Detail == "" && r != nil {
			s.Detail = r.Error
		}
	}
	return s
}

func (s *Service) handleVerificationPage(w http.ResponseWriter, r *http.Request) {
	v, err := s.store.Get(r.Context(), r.PathValue("id"))
	if errors.Is(err, ErrNotFound) {
		http.Error(w, "no verification "+r.PathValue("id"), http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, "reading the store", http.StatusInternalServerError)
		return
	}
	var rep *verify.Report
	if len(v.Report) > 0 {
		if rep, err = verify.ReadReport(v.Report); err != nil {
			s.logger.Warn("unreadable report", "id", v.ID, "err", err)
			rep = nil
		}
	}
	h := head{Title: "Verification " + v.ID}
	if v.Status == StatusQueued || v.Status == StatusRunning {
		h.Refresh = 5
	}
	s.render(w, "verification.html", map[string]any{"Head": h, "V": v, "R": rep, "S": summarize(v, rep)})
}

// handleCausesPage is the table of causes the verification pages link
// to (docs/causes.md, served by the service itself).
func (s *Service) handleCausesPage(w http.ResponseWriter, _ *http.Request) {
	paths := map[string][]causes.PathRule{}
	for _, r := range causes.Paths {
		paths[r.Cause.ID] = append(paths[r.Cause.ID], r)
	}
	s.render(w, "causes.html", struct {
		Head   head
		Causes []causes.Cause
		Paths  map[string][]causes.PathRule
	}{head{Title: "causes of differences"}, causes.Table, paths})
}

func (s *Service) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		s.logger.Error("rendering", "page", name, "err", err)
		http.Error(w, "rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Write([]byte(b.String()))
}
