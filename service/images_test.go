package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/reprover/reprover/compare"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// TestImagePage: an image a verification compared has a page and an API
// answer with its inspect report (made from the real image in a registry
// in process, kept in the store) beside its verifications; the
// verification page links to it; an image no verification compared is
// 404, a malformed digest 400. The verification itself is a stand-in
// (funcRunner): what is tested is the image's inspection, not a rebuild.
// On SQLite and PostgreSQL (the inspection is kept in the store).
func TestImagePage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		database func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return "" }},
		{"postgres", func(t *testing.T) string { return fixtures.Postgres(t) }},
	} {
		t.Run(tc.name, func(t *testing.T) { testImagePage(t, tc.database(t)) })
	}
}

func testImagePage(t *testing.T, dsn string) {
	reg := fixtures.NewRegistry(t)
	ref := reg.MustPush(t, "svc/app", "v1", fixtures.Image(fixtures.Spec{Env: []string{"API_TOKEN=s3cret-value"},
		Steps: []fixtures.Step{{Instruction: "COPY . /app", Entries: []fixtures.Entry{fixtures.Dir("app"), fixtures.File("app/hello", "hi\n")}}}}))
	_, digest, _ := strings.Cut(ref, "@")
	s := newServer(t, funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		return &verify.Report{SchemaVersion: 1, Verdict: verify.Reproducible, Published: &compare.ImageRef{Ref: r.Image, Digest: digest}}, nil, nil
	}), func(c *service.Config) {
		if dsn != "" {
			c.Database = dsn
		}
	})
	req := validRequest()
	req["image"] = ref
	_, m, _ := s.do(t, "POST", "/api/v1/verifications", token, req)
	id := m["id"].(string)
	if got := s.wait(t, id, 20*time.Second); got["status"] != service.StatusDone {
		t.Fatalf("verification %v", got)
	}

	code, m, raw := s.do(t, "GET", "/api/v1/images/"+digest, "", nil)
	if code != 200 {
		t.Fatalf("GET /api/v1/images/%s: %d %s", digest, code, raw)
	}
	// Kept: asked again, the same report (its inspection is not redone).
	if _, _, again := s.do(t, "GET", "/api/v1/images/"+digest, "", nil); string(again) != string(raw) {
		t.Errorf("asked again, another answer:\n%s\n%s", raw, again)
	}
	vs, _ := m["verifications"].([]any)
	ins, _ := m["inspection"].(map[string]any)
	if len(vs) != 1 || vs[0].(map[string]any)["id"] != id || ins == nil || ins["digest"] != digest {
		t.Errorf("image answer %s", raw)
	}
	if !strings.Contains(string(raw), `"check": "secretInEnv"`) || strings.Contains(string(raw), "s3cret-value") {
		t.Errorf("the inspection lacks the secret's finding, or shows the secret: %s", raw)
	}
	code, _, page := s.do(t, "GET", "/images/"+digest, "", nil)
	for _, want := range []string{"secretInEnv", "runsAsRoot", `href="/verifications/` + id + `"`, `id="highest">high`} {
		if code != 200 || !strings.Contains(string(page), want) {
			t.Errorf("image page (%d) lacks %q:\n%s", code, want, page)
		}
	}
	if strings.Contains(string(page), "s3cret-value") {
		t.Errorf("the image page shows the secret")
	}
	if _, _, list := s.do(t, "GET", "/", "", nil); !strings.Contains(string(list), `<a href="/images/`+digest+`">highest finding high</a>`) {
		t.Errorf("the list does not show the image's highest finding:\n%s", list)
	}
	if _, _, vp := s.do(t, "GET", "/verifications/"+id, "", nil); !strings.Contains(string(vp), `href="/images/`+digest+`"`) {
		t.Errorf("the verification page does not link to the image's page")
	}
	for path, want := range map[string]int{
		"/api/v1/images/sha256:" + strings.Repeat("c", 64): 404,
		"/api/v1/images/sha256:ABC":                        400,
		"/images/sha256:" + strings.Repeat("c", 64):        404,
	} {
		if code, _, body := s.do(t, "GET", path, "", nil); code != want {
			t.Errorf("GET %s: %d, want %d: %s", path, code, want, body)
		}
	}
}
