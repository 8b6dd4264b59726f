package builder

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const pinnedFrontend = "registry.example/frontend@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestParams: every row of Params, with a key it covers and what a
// provenance request (JudgeAttrs) and a rebuild's build args
// (rebuildArgs) then do with it. A row without a case fails the test.
func TestParams(t *testing.T) {
	type want struct {
		// Where JudgeAttrs puts the attribute: "arg", "target",
		// "filename", "attr", "ignored", or "refused".
		judged string
		// For build args: what a rebuild does with it ("sent", "dropped",
		// "replaced", "refused"); "" for other attributes.
		rebuild string
	}
	cases := []struct {
		row, key, value string
		want
	}{
		{"build-arg:BUILDKIT_SYNTAX", "build-arg:BUILDKIT_SYNTAX", pinnedFrontend, want{"arg", "sent"}},
		{"build-arg:BUILDKIT_SYNTAX", "build-arg:BUILDKIT_SYNTAX", "registry.example/evil-frontend:latest", want{"arg", "refused"}},
		{"build-arg:BUILDKIT_CACHE_MOUNT_NS", "build-arg:BUILDKIT_CACHE_MOUNT_NS", "publisher", want{"ignored", "replaced"}},
		{"build-arg:BUILDKIT_MULTI_PLATFORM", "build-arg:BUILDKIT_MULTI_PLATFORM", "1", want{"arg", "sent"}},
		{"build-arg:BUILDKIT_SANDBOX_HOSTNAME", "build-arg:BUILDKIT_SANDBOX_HOSTNAME", "builder", want{"arg", "sent"}},
		{"build-arg:BUILDKIT_DOCKERFILE_CHECK", "build-arg:BUILDKIT_DOCKERFILE_CHECK", "skip=all", want{"ignored", "dropped"}},
		{"build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", "build-arg:BUILDKIT_CONTEXT_KEEP_GIT_DIR", "1", want{"ignored", "dropped"}},
		{"build-arg:BUILDKIT_GIT_ADVICE", "build-arg:BUILDKIT_GIT_ADVICE", "1", want{"ignored", "dropped"}},
		{"build-arg:BUILDKIT_INLINE_CACHE", "build-arg:BUILDKIT_INLINE_CACHE", "1", want{"ignored", "dropped"}},
		{"build-arg:BUILDKIT_ATTEST_*", "build-arg:BUILDKIT_ATTEST_SCAN_STAGE", "true", want{"ignored", "dropped"}},
		{"build-arg:BUILDKIT_SBOM_SCAN_*", "build-arg:BUILDKIT_SBOM_SCAN_CONTEXT", "true", want{"ignored", "dropped"}},
		{"build-arg:BUILDKIT_*", "build-arg:BUILDKIT_FUTURE_KNOB", "1", want{"arg", "refused"}},
		{"build-arg:TARGETPLATFORM", "build-arg:TARGETPLATFORM", "x", want{"arg", "refused"}},
		{"build-arg:TARGETOS", "build-arg:TARGETOS", "x", want{"arg", "refused"}},
		{"build-arg:TARGETOSVERSION", "build-arg:TARGETOSVERSION", "x", want{"arg", "refused"}},
		{"build-arg:TARGETARCH", "build-arg:TARGETARCH", "x", want{"arg", "refused"}},
		{"build-arg:TARGETVARIANT", "build-arg:TARGETVARIANT", "x", want{"arg", "refused"}},
		{"build-arg:TARGETSTAGE", "build-arg:TARGETSTAGE", "x", want{"arg", "refused"}},
		{"build-arg:BUILDPLATFORM", "build-arg:BUILDPLATFORM", "x", want{"arg", "refused"}},
		{"build-arg:BUILDOS", "build-arg:BUILDOS", "x", want{"arg", "refused"}},
		{"build-arg:BUILDOSVERSION", "build-arg:BUILDOSVERSION", "x", want{"arg", "refused"}},
		{"build-arg:BUILDARCH", "build-arg:BUILDARCH", "x", want{"arg", "refused"}},
		{"build-arg:BUILDVARIANT", "build-arg:BUILDVARIANT", "x", want{"arg", "refused"}},
		{"build-arg:SOURCE_DATE_EPOCH", "build-arg:SOURCE_DATE_EPOCH", "1740830400", want{"arg", "sent"}},
		{"build-arg:HTTP_PROXY", "build-arg:HTTP_PROXY", "http://proxy.corp:3128", want{"ignored", "dropped"}},
		{"build-arg:HTTPS_PROXY", "build-arg:HTTPS_PROXY", "http://proxy.corp:3128", want{"ignored", "dropped"}},
		{"build-arg:FTP_PROXY", "build-arg:FTP_PROXY", "x", want{"ignored", "dropped"}},
		{"build-arg:NO_PROXY", "build-arg:NO_PROXY", "x", want{"ignored", "dropped"}},
		{"build-arg:ALL_PROXY", "build-arg:ALL_PROXY", "x", want{"ignored", "dropped"}},
		{"build-arg:http_proxy", "build-arg:http_proxy", "x", want{"ignored", "dropped"}},
		{"build-arg:https_proxy", "build-arg:https_proxy", "x", want{"ignored", "dropped"}},
		{"build-arg:ftp_proxy", "build-arg:ftp_proxy", "x", want{"ignored", "dropped"}},
		{"build-arg:no_proxy", "build-arg:no_proxy", "x", want{"ignored", "dropped"}},
		{"build-arg:all_proxy", "build-arg:all_proxy", "x", want{"ignored", "dropped"}},
		{"build-arg:*", "build-arg:VERSION", "1.2.3", want{"arg", "sent"}},
		{"build-arg:*", "build-arg:A=B", "x", want{"arg", "refused"}},
		{"build-arg:*", "build-arg:A\nB", "x", want{"arg", "refused"}},
		{"build-arg:*", "build-arg:", "x", want{"arg", "refused"}},
		{"build-arg:*", "build-arg:NUL", "a\x00b", want{"arg", "refused"}},
		{"target", "target", "release", want{"target", ""}},
		{"filename", "filename", "Dockerfile", want{"filename", ""}},
		{"dockerfilekey", "dockerfilekey", "dockerfile", want{"ignored", ""}},
		{"contextkey", "contextkey", "context", want{"ignored", ""}},
		{"platform", "platform", "linux/amd64", want{"ignored", ""}},
		{"context:*", "context:base", "docker-image://registry.example/evil:latest", want{"refused", ""}},
		{"input:*", "input:base", "x", want{"refused", ""}},
		{"no-cache", "no-cache", "", want{"ignored", ""}},
		{"no-cache-filter", "no-cache-filter", "build", want{"ignored", ""}},
		{"force-network-mode", "force-network-mode", "host", want{"ignored", ""}},
		{"add-hosts", "add-hosts", "evil=10.0.0.1", want{"ignored", ""}},
		{"hostname", "hostname", "builder", want{"attr", ""}},
		{"cgroup-parent", "cgroup-parent", "/x", want{"ignored", ""}},
		{"shm-size", "shm-size", "1g", want{"ignored", ""}},
		{"ulimit", "ulimit", "nofile=1024:1024", want{"ignored", ""}},
		{"memory", "memory", "1g", want{"ignored", ""}},
		{"memswap", "memswap", "1g", want{"ignored", ""}},
		{"cpushares", "cpushares", "1", want{"ignored", ""}},
		{"cpuperiod", "cpuperiod", "1", want{"ignored", ""}},
		{"cpuquota", "cpuquota", "1", want{"ignored", ""}},
		{"cpusetcpus", "cpusetcpus", "0", want{"ignored", ""}},
		{"cpusetmems", "cpusetmems", "0", want{"ignored", ""}},
		{"image-resolve-mode", "image-resolve-mode", "pull", want{"ignored", ""}},
		{"multi-platform", "multi-platform", "true", want{"attr", ""}},
		{"label:*", "label:org.opencontainers.image.title", "app", want{"attr", ""}},
		{"cache-from", "cache-from", "registry.example/cache", want{"ignored", ""}},
		{"cache-imports", "cache-imports", "[]", want{"ignored", ""}},
		{"attest:*", "attest:sbom", "generator=registry.example/scanner:latest", want{"ignored", ""}},
		{"cmdline", "cmdline", "evil", want{"ignored", ""}},
		{"source", "source", "registry.example/evil-frontend:latest", want{"ignored", ""}},
		{"vcs:*", "vcs:source", "https://git.example/app", want{"ignored", ""}},
		{"local-sessionid:*", "local-sessionid:context", "abc", want{"ignored", ""}},
		{"frontend.caps", "frontend.caps", "moby.buildkit.frontend.contexts+forward", want{"ignored", ""}},
		{"*", "some-future-attr", "x", want{"ignored", ""}},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		t.Run(c.key+"="+c.value, func(t *testing.T) {
			if got := Lookup(c.key); got.Key != c.row {
				t.Fatalf("Lookup(%q) is row %q, want %q", c.key, got.Key, c.row)
			}
			covered[c.row] = true
			j, err := JudgeAttrs(map[string]string{c.key: c.value}, "provenance")
			var got string
			switch {
			case err != nil:
				var pe *ParamError
				if !errors.As(err, &pe) || pe.Key != c.key || pe.From != "provenance" {
					t.Fatalf("JudgeAttrs: %v, want a ParamError naming %s from the provenance", err, c.key)
				}
				got = "refused"
			case len(j.Ignored) == 1 && j.Ignored[0] == c.key:
				got = "ignored"
			case len(j.BuildArgs) == 1:
				got = "arg"
			case j.Target == c.value && c.key == "target":
				got = "target"
			case j.Filename == c.value && c.key == "filename":
				got = "filename"
			case j.Attrs[c.key] == c.value && len(j.Attrs) == 1:
				got = "attr"
			}
			if got != c.judged {
				t.Errorf("JudgeAttrs puts %s in %q, want %q (%+v)", c.key, got, c.judged, j)
			}
			name, isArg := strings.CutPrefix(c.key, "build-arg:")
			if !isArg {
				return
			}
			attrs, err := rebuildArgs(map[string]string{name: c.value})
			got = ""
			switch v, sent := attrs[c.key]; {
			case err != nil:
				got = "refused"
				if !strings.Contains(err.Error(), "build parameter "+c.key) {
					t.Errorf("error %q does not name %s", err, c.key)
				}
			case name == argCacheNS:
				if strings.HasPrefix(v, "reprover-") && v != c.value {
					got = "replaced"
				}
			case sent && v == c.value:
				got = "sent"
			case !sent:
				got = "dropped"
			}
			if got != c.rebuild {
				t.Errorf("a rebuild with %s: %q, want %q (%v)", c.key, got, c.rebuild, attrs)
			}
			if err == nil && !strings.HasPrefix(attrs["build-arg:"+argCacheNS], "reprover-") {
				t.Errorf("no fresh cache mount namespace: %v", attrs)
			}
		})
	}
	for _, p := range Params {
		if !covered[p.Key] && !strings.HasPrefix(p.Key, "(request)") {
			t.Errorf("row %q of Params has no case", p.Key)
		}
	}
}

// TestCacheNamespaceFresh: two rebuilds never share a cache mount
// namespace.
func TestCacheNamespaceFresh(t *testing.T) {
	a, err := rebuildArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := rebuildArgs(nil)
	if err != nil {
		t.Fatal(err)
	}
	if a["build-arg:"+argCacheNS] == b["build-arg:"+argCacheNS] {
		t.Errorf("two rebuilds share the cache mount namespace %s", a["build-arg:"+argCacheNS])
	}
}

// TestCheckSyntaxArg: the build arg BUILDKIT_SYNTAX replaces # syntax=
// (BuildKit's frontend obeys it first), so Check judges it the same way
// and names it as the frontend.
func TestCheckSyntaxArg(t *testing.T) {
	df := "# syntax=" + pinnedFrontend + "\nFROM scratch\nCOPY a /a\n"
	for _, c := range []struct {
		name, arg string
		frontend  string
		violation string // "" for none
	}{
		{name: "directive only", frontend: pinnedFrontend},
		{name: "pinned arg", arg: "registry.example/other@sha256:" + strings.Repeat("a", 64), frontend: "registry.example/other@sha256:" + strings.Repeat("a", 64)},
		{name: "unpinned arg over a pinned directive", arg: "registry.example/evil-frontend:latest", frontend: "registry.example/evil-frontend:latest",
			violation: `Dockerfile: build-parameter: build arg BUILDKIT_SYNTAX="registry.example/evil-frontend:latest": the frontend image registry.example/evil-frontend:latest has no @sha256: digest`},
		{name: "pinned arg with a command line", arg: pinnedFrontend + " --flag", frontend: pinnedFrontend},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := map[string]string{}
			if c.arg != "" {
				args[ArgSyntax] = c.arg
			}
			vs, in, err := Check([]byte(df), "Dockerfile", CheckOptions{BuildArgs: args})
			if err != nil {
				t.Fatal(err)
			}
			if in.Frontend != c.frontend {
				t.Errorf("frontend %q, want %q", in.Frontend, c.frontend)
			}
			got := ""
			if len(vs) > 0 {
				got = vs.Error()
			}
			if !strings.HasPrefix(got, c.violation) || (c.violation == "") != (got == "") {
				t.Errorf("violations %q, want %q", got, c.violation)
			}
		})
	}
}

// TestParamsDoc keeps docs/threat-model.md's table of build parameters
// generated from Params.
func TestParamsDoc(t *testing.T) {
	path := filepath.Join("..", "docs", "threat-model.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReplaceParamsTable(string(doc))
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != string(doc) {
		t.Errorf("docs/threat-model.md's parameter table is stale: run go test ./builder -run TestParamsDoc -update")
	}
}

// FuzzJudgeAttrs: whatever a provenance's request holds, what reaches a
// rebuild is only what Params passes: no refused attribute, no frontend
// that is not pinned, no cache mount namespace but reprover's.
func FuzzJudgeAttrs(f *testing.F) {
	f.Add("build-arg:BUILDKIT_SYNTAX", "registry.example/evil:latest", "context:base", "docker-image://x")
	f.Add("build-arg:BUILDKIT_CACHE_MOUNT_NS", "publisher", "label:a", "b")
	f.Add("build-arg:A=B", "x", "build-arg:BUILDKIT_SYNTAX", pinnedFrontend+" --x")
	f.Add("source", "evil", "cmdline", "evil")
	f.Add("build-arg:buildkit_syntax", "x", "build-arg:BUILDKIT_SYNTAX\x00", "x")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		j, err := JudgeAttrs(map[string]string{k1: v1, k2: v2}, "provenance")
		if err != nil {
			return
		}
		for k := range j.Attrs {
			if p := Lookup(k); p.Action != Passed || strings.HasPrefix(k, "build-arg:") {
				t.Fatalf("attribute %q passed, its row is %+v", k, p)
			}
		}
		attrs, err := rebuildArgs(j.BuildArgs)
		if err != nil {
			return
		}
		for k, v := range attrs {
			name := strings.TrimPrefix(k, "build-arg:")
			switch p := BuildArgParam(name); {
			case name == argCacheNS:
				if !strings.HasPrefix(v, "reprover-") || len(v) != len("reprover-")+32 {
					t.Fatalf("cache mount namespace %q is not reprover's", v)
				}
			case p.Action != Passed && p.Action != Pinned:
				t.Fatalf("build arg %q sent, its row is %+v", name, p)
			case name == ArgSyntax && !digestRe.MatchString(SyntaxImage(v)):
				t.Fatalf("unpinned frontend %q sent", v)
			case !argName(name):
				t.Fatalf("build arg name %q sent", name)
			}
		}
	})
}
