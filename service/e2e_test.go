package service_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/reprover/reprover/attest"
	"github.com/reprover/reprover/fixtures"
	"github.com/reprover/reprover/service"
	"github.com/reprover/reprover/verify"
)

// pipeline is the real runner: buildkitd, registry, signing key.
func pipeline(t *testing.T) (*service.PipelineRunner, *attest.PublicKey, string) {
	addr := fixtures.Buildkit(t, fixtures.StartDaemon)
	k, err := attest.GenerateKey(filepath.Join(t.TempDir(), "server"), attest.Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	return &service.PipelineRunner{Builders: verify.NewBuilders([]string{addr}, nil), Key: k}, k.Public(), addr
}

const sampleDockerfile = "FROM BASE\nCOPY app/ /app/\nRUN echo built > /app/built.txt\n"

// TestVerdictsEndToEnd: submissions through the API reach the real
// pipeline; a faithful release is reproducible, a tampered copy a
// mismatch naming the injected file, both signed.
func TestVerdictsEndToEnd(t *testing.T) {
	runner, pub, addr := pipeline(t)
	reg := fixtures.NewRegistry(t)
	rel := fixtures.PublishRelease(t, reg, addr, "e2e/app", map[string]string{"Dockerfile": sampleDockerfile, "app/hello.txt": "hello\n"})
	s := newServer(t, runner, nil)
	for _, tc := range []struct {
		image, verdict, path string
		passed               bool
	}{
		{rel.Published, string(verify.Reproducible), "", true},
		{rel.Tampered, string(verify.Mismatch), "/app/evil.sh", false},
	} {
		code, m, raw := s.do(t, "POST", "/api/v1/verifications", token, map[string]any{"source": rel.Dir, "commit": rel.Commit, "image": tc.image})
		if code != 202 {
			t.Fatalf("submit: %d %s", code, raw)
		}
		id := m["id"].(string)
		got := s.wait(t, id, 2*time.Minute)
		if got["status"] != service.StatusDone || got["verdict"] != tc.verdict {
			t.Errorf("%s: status %v verdict %v (error %v), want done %s", tc.image, got["status"], got["verdict"], got["error"], tc.verdict)
		}
		_, _, report := s.do(t, "GET", "/api/v1/verifications/"+id, "", nil)
		if tc.path != "" && !bytes.Contains(report, []byte(`"path": "`+tc.path+`"`)) {
			t.Errorf("the report does not name %s", tc.path)
		}
		readsBack(t, report)
		code, _, att := s.do(t, "GET", "/api/v1/verifications/"+id+"/attestation", "", nil)
		if code != 200 {
			t.Fatalf("attestation: %d", code)
		}
		envs := bytes.Split(bytes.TrimSpace(att), []byte("\n"))
		digest := tc.image[strings.LastIndex(tc.image, "@")+1:]
		v, err := attest.Check(context.Background(), envs, digest, []*attest.PublicKey{pub}, 1, attest.Limits{})
		if err != nil || v.Passed != tc.passed {
			t.Errorf("%s: attestation check passed=%v (%s, %v), want %v", tc.image, v.Passed, v.Reason, err, tc.passed)
		}
	}
	_, m, _ := s.do(t, "GET", "/api/v1/verifications?verdict=mismatch", "", nil)
	if items, _ := m["items"].([]any); len(items) != 1 {
		t.Errorf("list verdict=mismatch: %v", m)
	}
	_, m, _ = s.do(t, "GET", "/api/v1/verifications?commit="+rel.Commit+"&limit=1", "", nil)
	if items, _ := m["items"].([]any); len(items) != 1 || m["next"] == nil {
		t.Errorf("list by commit, one per page: %v", m)
	}
}

// TestHooks: a registry push notification and a GitHub tag push event
// become verifications mapped by the config; other events are ignored.
func TestHooks(t *testing.T) {
	runner, _, addr := pipeline(t)
	reg := fixtures.NewRegistry(t)
	rel := fixtures.PublishRelease(t, reg, addr, "hooks/app", map[string]string{"Dockerfile": sampleDockerfile, "app/hello.txt": "hi\n"})
	// The registry hook reads source and commit from the image's OCI
	// labels; a release pipeline sets them (here added to a copy).
	labelled, err := fixtures.Rebuild(rel.Image, nil, func(cf *v1.ConfigFile) {
		cf.Config.Labels = map[string]string{"org.opencontainers.image.revision": rel.Commit, "org.opencontainers.image.source": rel.Dir}
	})
	if err != nil {
		t.Fatal(err)
	}
	labelledRef := reg.MustPush(t, "hooks/labelled", "1.0", labelled)
	digest := labelledRef[strings.LastIndex(labelledRef, "@")+1:]
	s := newServer(t, runner, func(c *service.Config) {
		c.Hooks.Registry = []service.RegistryHook{{Repository: "hooks/labelled", Registry: reg.Host}}
		c.Hooks.Git = []service.GitHook{{Repository: "org/app", Source: rel.Dir, Image: reg.Host + "/hooks/app:{tag}"}}
	})
	event := fmt.Sprintf(`{"events":[
		{"action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"repository":"hooks/labelled","tag":"1.0"},"request":{"host":"ignored.example"}},
		{"action":"pull","target":{"digest":%q,"repository":"hooks/labelled","tag":"1.0"}},
		{"action":"push","target":{"digest":%q,"repository":"other/repo","tag":"1.0"}},
		{"action":"push","target":{"digest":%q,"repository":"hooks/labelled"}}]}`, digest, digest, digest, digest)
	code, m, raw := s.do(t, "POST", "/api/v1/hooks/registry", token, event)
	if code != 202 {
		t.Fatalf("registry hook: %d %s", code, raw)
	}
	acc, _ := m["accepted"].([]any)
	ign, _ := m["ignored"].([]any)
	if len(acc) != 1 || len(ign) != 3 {
		t.Fatalf("registry hook accepted %d and ignored %d, want 1 and 3: %s", len(acc), len(ign), raw)
	}
	v := acc[0].(map[string]any)
	req := v["request"].(map[string]any)
	if req["image"] != reg.Host+"/hooks/labelled@"+digest || req["commit"] != "" {
		t.Errorf("registry hook made %v, want the image alone (its provenance, then its labels, name the rest when it runs)", req)
	}
	got := s.wait(t, v["id"].(string), 2*time.Minute)
	if got["verdict"] != string(verify.Mismatch) {
		t.Errorf("labelled copy: %v (the labels are not in the source: a mismatch)", got["verdict"])
	}
	rep, _ := got["report"].(map[string]any)
	params, _ := rep["parameters"].(map[string]any)
	if c, _ := params["commit"].(map[string]any); c["value"] != rel.Commit || c["from"] != "label" {
		t.Errorf("the commit was not read from the label: %v", params)
	}

	push := func(ref string) (int, map[string]any) {
		body := fmt.Sprintf(`{"ref":%q,"after":%q,"deleted":false,"repository":{"full_name":"org/app","clone_url":"https://github.example/org/app.git"}}`, ref, rel.Commit)
		req, _ := http.NewRequest("POST", s.url+"/api/v1/hooks/git", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("X-GitHub-Event", "push")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		decode(t, resp, &out)
		return resp.StatusCode, out
	}
	code, m = push("refs/tags/release")
	acc, _ = m["accepted"].([]any)
	if code != 202 || len(acc) != 1 {
		t.Fatalf("git tag push: %d %v", code, m)
	}
	if got := s.wait(t, acc[0].(map[string]any)["id"].(string), 2*time.Minute); got["verdict"] != string(verify.Reproducible) {
		t.Errorf("tag push verification: %v %v", got["verdict"], got["error"])
	}
	if _, m = push("refs/heads/main"); len(m["ignored"].([]any)) != 1 {
		t.Errorf("a branch push was not ignored: %v", m)
	}
	if code, _, _ := s.do(t, "POST", "/api/v1/hooks/git", "", `{}`); code != 401 {
		t.Errorf("hook without a token: %d, want 401", code)
	}
}

// TestDialGuard: the runner refuses to connect to a registry on a private
// address that images.allow does not list, whatever the submission's
// validation said (a name can be re-pointed after it; the runner is called
// directly here to stand for that).
func TestDialGuard(t *testing.T) {
	runner, _, addr := pipeline(t)
	reg := fixtures.NewRegistry(t)
	rel := fixtures.PublishRelease(t, reg, addr, "guard/app", map[string]string{"Dockerfile": sampleDockerfile, "app/hello.txt": "hi\n"})
	runner.AllowPrivate = []string{"10.9.9.9:"}
	_, _, err := runner.Run(t.Context(), service.Request{Source: rel.Dir, Commit: rel.Commit, Image: rel.Published})
	if err == nil || !strings.Contains(err.Error(), "refusing to connect") {
		t.Errorf("err = %v, want the connection to %s refused", err, reg.Host)
	}
	runner.AllowPrivate = []string{"127.0.0.1:"}
	if rep, _, err := runner.Run(t.Context(), service.Request{Source: rel.Dir, Commit: rel.Commit, Image: rel.Published}); err != nil || rep.Verdict != verify.Reproducible {
		t.Errorf("allowed registry: %v %v", rep, err)
	}
}

// readsBack checks that the report the API serves (as stored) reads back
// as a verify.Report that, written again, is the same JSON.
func readsBack(t *testing.T, view []byte) {
	t.Helper()
	var v struct{ Report json.RawMessage }
	if err := json.Unmarshal(view, &v); err != nil || len(v.Report) == 0 {
		t.Fatalf("no report in %s (%v)", view, err)
	}
	rep, err := verify.ReadReport(v.Report)
	if err != nil {
		t.Fatal(err)
	}
	again, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var stored bytes.Buffer
	if err := json.Compact(&stored, v.Report); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, stored.Bytes()) {
		t.Errorf("the stored report does not read back as written:\nstored:    %s\nread back: %s", stored.Bytes(), again)
	}
}

// TestParameterErrorsInAPIWords: a verification that fails for a
// parameter the published image does not name (a busybox image has no
// provenance and no labels) says it as the API's field (source), in the
// job's error and in its report, never as a CLI flag.
func TestParameterErrorsInAPIWords(t *testing.T) {
	runner, _, _ := pipeline(t)
	reg := fixtures.NewRegistry(t)
	s := newServer(t, runner, nil)
	code, m, raw := s.do(t, "POST", "/api/v1/verifications", token, map[string]any{"image": reg.PushBusybox(t)})
	if code != 202 {
		t.Fatalf("submit: %d %s", code, raw)
	}
	got := s.wait(t, m["id"].(string), 2*time.Minute)
	msg, _ := got["error"].(string)
	if got["status"] != service.StatusFailed || !strings.Contains(msg, "do not name it; give source") || strings.Contains(msg, "--") {
		t.Errorf("status %v, error %q: want failed, naming the field source and no flag", got["status"], msg)
	}
	rep, _ := got["report"].(map[string]any)
	if repErr, _ := rep["error"].(string); repErr != msg {
		t.Errorf("the report's error %q, want the job's %q", repErr, msg)
	}
}
