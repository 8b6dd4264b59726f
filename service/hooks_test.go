package service_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

const (
	githubSecret = "github-hook-secret-0123"
	gitlabSecret = "gitlab-hook-secret-4567"
)

// forgeServer is a service with a git hook for the repository of each
// documented payload in testdata, each with its own secret. Its runner
// only counts: these tests are about which events become which requests.
func forgeServer(t *testing.T) *server {
	return newServer(t, &countingRunner{}, func(c *service.Config) {
		c.Hooks.Git = []service.GitHook{
			{Repository: "Codertocat/Hello-World", Source: "/srv/src/hello", Image: "registry.example/hello:{tag}", Secret: githubSecret},
			{Repository: "jsmith/example", Source: "/srv/src/example", Image: "registry.example/example:{tag}", Secret: gitlabSecret},
		}
	})
}

// payload reads a documented event from testdata, edited by edit (nil:
// the file's bytes as they are).
func payload(t *testing.T, name string, edit func(m map[string]any)) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	return b
}

func hubSignature(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends an event with headers and returns the status, the
// Retry-After header and the decoded answer.
func (s *server) post(t *testing.T, path string, body []byte, headers map[string]string) (int, string, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), "POST", s.url+path, bytes.NewReader(body))
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, resp.Header.Get("Retry-After"), m
}

// TestForgeHooks: tag pushes as GitHub and GitLab document them, signed as
// they sign them (GitHub: X-Hub-Signature-256, an HMAC-SHA256 of the raw
// body; GitLab: X-Gitlab-Token), become verifications of the configured
// image at the tagged commit; an event not signed with its hook's secret
// is refused; tags that cannot name an image, missing commits and deleted
// tags are ignored with a reason.
func TestForgeHooks(t *testing.T) {
	gh := func(edit func(m map[string]any)) []byte { return payload(t, "github-push-tag.json", edit) }
	gl := func(edit func(m map[string]any)) []byte { return payload(t, "gitlab-tag-push.json", edit) }
	github := func(secret string, body []byte) map[string]string {
		return map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": hubSignature(secret, body), "Content-Type": "application/json"}
	}
	gitlab := map[string]string{"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": gitlabSecret}
	tag := func(name string) func(m map[string]any) {
		return func(m map[string]any) { m["ref"] = "refs/tags/" + name }
	}
	for _, tc := range []struct {
		name     string
		body     []byte
		headers  map[string]string
		wantCode int
		// wantImage and wantCommit: the request accepted; wantIgnored: the
		// reason it was not.
		wantImage, wantCommit, wantSource, wantIgnored string
	}{
		{name: "GitHub, signed", body: gh(nil), headers: github(githubSecret, gh(nil)), wantCode: 202,
			wantImage: "registry.example/hello:v1.0.0", wantCommit: "2ec1c8b2cd0d3e1d6a6bc10d3ea5fdc2a3b0e6e5", wantSource: "/srv/src/hello"},
		{name: "GitLab, its token", body: gl(nil), headers: gitlab, wantCode: 202,
			wantImage: "registry.example/example:v1.0.0", wantCommit: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7", wantSource: "/srv/src/example"},
		{name: "the API's token", body: gh(nil), headers: map[string]string{"Authorization": "Bearer " + token, "X-GitHub-Event": "push"}, wantCode: 202,
			wantImage: "registry.example/hello:v1.0.0", wantCommit: "2ec1c8b2cd0d3e1d6a6bc10d3ea5fdc2a3b0e6e5", wantSource: "/srv/src/hello"},
		{name: "GitHub, a wrong secret", body: gh(nil), headers: github("not-the-secret-at-all", gh(nil)), wantCode: 401},
		{name: "GitHub, the other hook's secret", body: gh(nil), headers: github(gitlabSecret, gh(nil)), wantCode: 401},
		{name: "GitHub, the body changed after signing", body: gh(tag("v6.6.6")), headers: github(githubSecret, gh(nil)), wantCode: 401},
		{name: "GitHub, a malformed signature", body: gh(nil), headers: map[string]string{"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=zz"}, wantCode: 401},
		{name: "GitLab, a wrong token", body: gl(nil), headers: map[string]string{"X-Gitlab-Event": "Tag Push Hook", "X-Gitlab-Token": githubSecret}, wantCode: 401},
		{name: "no signature", body: gh(nil), headers: map[string]string{"X-GitHub-Event": "push"}, wantCode: 401},
		{name: "GitHub's ping", body: []byte(`{"zen":"Keep it logically awesome.","hook_id":1,"repository":{"full_name":"Codertocat/Hello-World"}}`),
			headers:  map[string]string{"X-GitHub-Event": "ping", "X-Hub-Signature-256": hubSignature(githubSecret, []byte(`{"zen":"Keep it logically awesome.","hook_id":1,"repository":{"full_name":"Codertocat/Hello-World"}}`))},
			wantCode: 202, wantIgnored: "event ping"},
		{name: "a tag of ..", body: gh(tag("..")), headers: github(githubSecret, gh(tag(".."))), wantCode: 202, wantIgnored: `tag ".." cannot name an image tag`},
		{name: "a tag of <script>", body: gh(tag("<script>")), headers: github(githubSecret, gh(tag("<script>"))), wantCode: 202, wantIgnored: `tag "<script>" cannot name an image tag`},
		{name: "a branch push", body: gl(func(m map[string]any) { m["ref"] = "refs/heads/main" }), headers: gitlab, wantCode: 202, wantIgnored: "not a tag: refs/heads/main"},
		{name: "no commit", body: gh(func(m map[string]any) { m["after"], m["head_commit"] = "", nil }),
			headers: github(githubSecret, gh(func(m map[string]any) { m["after"], m["head_commit"] = "", nil })), wantCode: 202, wantIgnored: "no commit in the event"},
		{name: "a short commit", body: gh(func(m map[string]any) { m["after"], m["head_commit"] = "6dcb09b", nil }),
			headers: github(githubSecret, gh(func(m map[string]any) { m["after"], m["head_commit"] = "6dcb09b", nil })), wantCode: 202, wantIgnored: `commit "6dcb09b" is not a full commit id`},
		{name: "GitHub, a deleted tag", body: gh(func(m map[string]any) {
			m["after"], m["head_commit"], m["deleted"], m["created"] = "0000000000000000000000000000000000000000", nil, true, false
		}), headers: github(githubSecret, gh(func(m map[string]any) {
			m["after"], m["head_commit"], m["deleted"], m["created"] = "0000000000000000000000000000000000000000", nil, true, false
		})), wantCode: 202, wantIgnored: "tag deleted"},
		{name: "GitLab, a deleted tag", body: gl(func(m map[string]any) {
			m["before"], m["after"], m["checkout_sha"] = m["after"], "0000000000000000000000000000000000000000", nil
		}), headers: gitlab, wantCode: 202, wantIgnored: "tag deleted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := forgeServer(t)
			code, _, m := s.post(t, "/api/v1/hooks/git", tc.body, tc.headers)
			if code != tc.wantCode {
				t.Fatalf("status %d, want %d: %v", code, tc.wantCode, m)
			}
			acc, _ := m["accepted"].([]any)
			ign, _ := m["ignored"].([]any)
			switch {
			case tc.wantIgnored != "":
				if len(acc) != 0 || len(ign) != 1 || !strings.Contains(ign[0].(map[string]any)["reason"].(string), tc.wantIgnored) {
					t.Errorf("accepted %v, ignored %v; want ignored: %s", acc, ign, tc.wantIgnored)
				}
			case tc.wantImage != "":
				if len(acc) != 1 {
					t.Fatalf("accepted %v, ignored %v; want one accepted", acc, ign)
				}
				req := acc[0].(map[string]any)["request"].(map[string]any)
				if req["image"] != tc.wantImage || req["commit"] != tc.wantCommit || req["source"] != tc.wantSource {
					t.Errorf("request %v, want image %s at %s from %s", req, tc.wantImage, tc.wantCommit, tc.wantSource)
				}
			}
			if _, list, _ := s.do(t, "GET", "/api/v1/verifications", "", nil); len(list["items"].([]any)) != len(acc) {
				t.Errorf("%d verifications stored, want %d", len(list["items"].([]any)), len(acc))
			}
		})
	}
}

// TestRegistryHookHost: the registry hook names the image with the
// event's request.host only when it is a host: one carrying a path would
// point the verification at another repository.
func TestRegistryHookHost(t *testing.T) {
	digest := "sha256:" + strings.Repeat("d", 64)
	for _, tc := range []struct {
		host, wantImage, wantIgnored string
	}{
		{host: "registry.example", wantImage: "registry.example/hooks/app@" + digest},
		{host: "registry.example:5000", wantImage: "registry.example:5000/hooks/app@" + digest},
		{host: "registry.example/other/repo", wantIgnored: `request.host "registry.example/other/repo" is not HOST[:PORT]`},
		{host: "registry.example/other/repo@sha256:" + strings.Repeat("e", 64) + "#", wantIgnored: "is not HOST[:PORT]"},
		{host: "user@registry.example", wantIgnored: "is not HOST[:PORT]"},
		{host: "", wantIgnored: `request.host "" is not HOST[:PORT]`},
		{host: "169.254.169.254", wantIgnored: "registry host 169.254.169.254 is local, private or link-local"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			s := newServer(t, &countingRunner{}, func(c *service.Config) {
				c.Hooks.Registry = []service.RegistryHook{{Repository: "hooks/app"}}
			})
			ev, _ := json.Marshal(map[string]any{"events": []any{map[string]any{"action": "push",
				"target":  map[string]any{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "repository": "hooks/app", "tag": "1.0"},
				"request": map[string]any{"host": tc.host}}}})
			code, _, m := s.post(t, "/api/v1/hooks/registry", ev, map[string]string{"Authorization": "Bearer " + token})
			acc, _ := m["accepted"].([]any)
			ign, _ := m["ignored"].([]any)
			if code != 202 {
				t.Fatalf("status %d: %v", code, m)
			}
			if tc.wantImage != "" {
				if len(acc) != 1 || acc[0].(map[string]any)["request"].(map[string]any)["image"] != tc.wantImage {
					t.Errorf("accepted %v, ignored %v; want %s", acc, ign, tc.wantImage)
				}
				return
			}
			if len(acc) != 0 || len(ign) != 1 || !strings.Contains(ign[0].(map[string]any)["reason"].(string), tc.wantIgnored) {
				t.Errorf("accepted %v, ignored %v; want ignored: %s", acc, ign, tc.wantIgnored)
			}
		})
	}
}

// blockingRunner holds every run until the test ends: verifications stay
// queued or running (fault injection: a real rebuild cannot be held).
func blockingRunner(t *testing.T) service.Runner {
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	return funcRunner(func(ctx context.Context, r service.Request) (*verify.Report, []byte, error) {
		select {
		case <-done:
		case <-ctx.Done():
		}
		return nil, nil, context.Canceled
	})
}

// TestSubmissionBounds: one token may hold limits.queuedPerToken
// verifications queued or running (then 429 with Retry-After, nothing
// stored; the same request again is still answered, another token still
// served); a platform string is bounded; requests that mean the same are
// one verification.
func TestSubmissionBounds(t *testing.T) {
	const other = "another-token-of-the-service"
	req := func(commit string) map[string]any {
		m := validRequest()
		m["commit"] = strings.Repeat(commit, 40)
		return m
	}
	t.Run("queue limit per token", func(t *testing.T) {
		s := newServer(t, blockingRunner(t), func(c *service.Config) {
			c.Limits.QueuedPerToken = 2
			c.Auth.Tokens = append(c.Auth.Tokens, other)
		})
		for _, c := range []string{"1", "2"} {
			if code, _, raw := s.do(t, "POST", "/api/v1/verifications", token, req(c)); code != 202 {
				t.Fatalf("submission %s: %d %s", c, code, raw)
			}
		}
		body, _ := json.Marshal(req("3"))
		code, retry, m := s.post(t, "/api/v1/verifications", body, map[string]string{"Authorization": "Bearer " + token})
		if code != 429 || retry != "60" || !strings.Contains(m["error"].(string), "limits.queuedPerToken") {
			t.Errorf("third: %d Retry-After %q %v, want 429 Retry-After 60 naming limits.queuedPerToken", code, retry, m)
		}
		if code, _, raw := s.do(t, "POST", "/api/v1/verifications", token, req("1")); code != 200 {
			t.Errorf("the first again: %d %s, want 200", code, raw)
		}
		if code, _, raw := s.do(t, "POST", "/api/v1/verifications", other, req("3")); code != 202 {
			t.Errorf("another token: %d %s, want 202", code, raw)
		}
		if _, m, _ := s.do(t, "GET", "/api/v1/verifications", "", nil); len(m["items"].([]any)) != 3 {
			t.Errorf("%d verifications stored, want 3", len(m["items"].([]any)))
		}
	})
	t.Run("a long platform", func(t *testing.T) {
		s := newServer(t, &countingRunner{}, nil)
		m := validRequest()
		m["platforms"] = []string{"linux/amd64/" + strings.Repeat("v", 5000)}
		if code, got, raw := s.do(t, "POST", "/api/v1/verifications", token, m); code != 400 || got["field"] != "platforms" {
			t.Errorf("a platform of 5,012 bytes: %d %s, want 400 naming platforms", code, raw)
		}
	})
	with := func(edit func(m map[string]any)) map[string]any {
		m := validRequest()
		edit(m)
		return m
	}
	for _, tc := range []struct {
		name string
		a, b map[string]any
	}{
		{"network omitted or none", validRequest(), with(func(m map[string]any) { m["network"] = "none" })},
		{"a platform twice", with(func(m map[string]any) { m["platforms"] = []string{"linux/amd64"} }),
			with(func(m map[string]any) { m["platforms"] = []string{"linux/amd64", "linux/amd64"} })},
		{"platforms in another order", with(func(m map[string]any) { m["platforms"] = []string{"linux/amd64", "linux/arm64"} }),
			with(func(m map[string]any) { m["platforms"] = []string{"linux/arm64", "linux/amd64"} })},
		{"a platform in another spelling", with(func(m map[string]any) { m["platforms"] = []string{"linux/arm64"} }),
			with(func(m map[string]any) { m["platforms"] = []string{"linux/arm64/v8"} })},
		{"a trailing slash on a path", validRequest(), with(func(m map[string]any) { m["source"] = "/srv/src/app/" })},
		{"a trailing slash on a URL", with(func(m map[string]any) { m["source"] = "https://git.example/org/app" }),
			with(func(m map[string]any) { m["source"] = "https://git.example/org/app/" })},
		{"empty build arguments", validRequest(), with(func(m map[string]any) { m["buildArgs"] = map[string]string{} })},
		{"a URL's scheme and host in another case", with(func(m map[string]any) { m["source"] = "https://git.example/org/app" }),
			with(func(m map[string]any) { m["source"] = "HTTPS://Git.Example/org/app" })},
		{"an scp address's host in another case", with(func(m map[string]any) { m["source"] = "git@git.example:org/app" }),
			with(func(m map[string]any) { m["source"] = "git@GIT.example:org/app" })},
		{"a Dockerfile path with ./", with(func(m map[string]any) { m["dockerfile"] = "Dockerfile" }),
			with(func(m map[string]any) { m["dockerfile"] = "./Dockerfile" })},
		{"a context with ./ and a trailing slash", with(func(m map[string]any) { m["context"] = "sub" }),
			with(func(m map[string]any) { m["context"] = "./sub/" })},
		{"the root context as ./", with(func(m map[string]any) { m["context"] = "." }),
			with(func(m map[string]any) { m["context"] = "./" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, &countingRunner{}, func(c *service.Config) { c.Sources.Allow = append(c.Sources.Allow, "git@") })
			code, first, raw := s.do(t, "POST", "/api/v1/verifications", token, tc.a)
			if code != 202 {
				t.Fatalf("first: %d %s", code, raw)
			}
			code, second, raw := s.do(t, "POST", "/api/v1/verifications", token, tc.b)
			if code != 200 || second["id"] != first["id"] {
				t.Errorf("the same request written otherwise: %d %s, want 200 and id %v", code, raw, first["id"])
			}
		})
	}
	// Kept apart: each may mean another build (normalise says why).
	for _, tc := range []struct {
		name string
		a, b map[string]any
	}{
		{"a source with and without .git", with(func(m map[string]any) { m["source"] = "https://git.example/org/app" }),
			with(func(m map[string]any) { m["source"] = "https://git.example/org/app.git" })},
		{"a source's path in another case", with(func(m map[string]any) { m["source"] = "https://git.example/org/app" }),
			with(func(m map[string]any) { m["source"] = "https://git.example/Org/app" })},
		{"the context omitted and the root", validRequest(), with(func(m map[string]any) { m["context"] = "." })},
		{"the Dockerfile omitted and Dockerfile", validRequest(), with(func(m map[string]any) { m["dockerfile"] = "Dockerfile" })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, &countingRunner{}, nil)
			code, first, raw := s.do(t, "POST", "/api/v1/verifications", token, tc.a)
			if code != 202 {
				t.Fatalf("first: %d %s", code, raw)
			}
			code, second, raw := s.do(t, "POST", "/api/v1/verifications", token, tc.b)
			if code != 202 || second["id"] == first["id"] {
				t.Errorf("a request that may mean another build: %d %s, want 202 and an id other than %v", code, raw, first["id"])
			}
		})
	}
}
