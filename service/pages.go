package service

import (
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"

	"github.com/reprover/reprover/compare"
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

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"join":  func(s []string) string { return strings.Join(s, ", ") },
	"json":  func(v any) string { b, _ := json.Marshal(v); return string(b) },
	"short": func(s string) string { return s[:min(len(s), 12)] },
	"diff":  diffHTML,
}).ParseFS(webFS, "web/*.html"))

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

func (s *Service) handleIndexPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := Filter{Image: q.Get("image"), Commit: q.Get("commit"), Verdict: q.Get("verdict"), Limit: 50, Before: q.Get("cursor")}
	items, next, err := s.store.List(r.Context(), f)
	if err != nil {
		http.Error(w, "bad filter: "+err.Error(), http.StatusBadRequest)
		return
	}
	nq := url.Values{}
	for k, v := range map[string]string{"image": f.Image, "commit": f.Commit, "verdict": f.Verdict, "cursor": next} {
		if v != "" {
			nq.Set(k, v)
		}
	}
	s.render(w, "index.html", map[string]any{
		"Items": items, "Filter": f, "Filtered": f.Image != "" || f.Commit != "" || f.Verdict != "",
		"Next": next, "NextURL": "/?" + nq.Encode(),
		"Verdicts": []string{compare.Reproducible, compare.Equivalent, compare.Mismatch, compare.Error},
	})
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
	var rep *compare.Report
	if len(v.Report) > 0 {
		rep = &compare.Report{}
		if err := json.Unmarshal(v.Report, rep); err != nil {
			rep = nil
		}
	}
	s.render(w, "verification.html", map[string]any{"V": v, "R": rep})
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
