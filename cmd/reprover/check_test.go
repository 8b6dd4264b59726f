package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	const pin = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	dir := t.TempDir()
	write := func(name, body string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	write("Dockerfile", "FROM busybox"+pin+"\nCOPY . /app\n")
	write("sub/Dockerfile", "FROM alpine:3.20\nADD https://example.com/x /x\n")
	write("apt/Dockerfile", "FROM debian"+pin+"\nRUN apt-get update && apt-get install -y curl\nRUN curl -fsSL https://get.example/i.sh | sh\n")
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
	}{
		{"hermetic", []string{"check", "--source", dir}, 0, []string{"is hermetic", "1 base image"}, nil},
		{"violations", []string{"check", "--source", dir, "--dockerfile", "sub/Dockerfile"}, 2, nil,
			[]string{"sub/Dockerfile:1: unpinned-from: FROM alpine:3.20 has no @sha256: digest", "sub/Dockerfile:2: add-url-without-checksum"}},
		{"json", []string{"check", "--source", dir, "--dockerfile", "sub/Dockerfile", "--format", "json"}, 2,
			[]string{`"hermetic": false`, `"rule": "unpinned-from"`, `"line": 2`}, nil},
		{"missing", []string{"check", "--source", filepath.Join(dir, "nope")}, 2, nil, []string{"nope", "no such file"}},
		{"downloads offline", []string{"check", "--source", dir, "--dockerfile", "apt/Dockerfile"}, 2, nil,
			[]string{"apt/Dockerfile:2: run-downloads: RUN downloads (apt-get update, apt-get install), but --network none gives it no network: verify with --network proxy",
				"warning: apt/Dockerfile:3: run-pipe-to-shell: RUN pipes what curl fetched into a shell"}},
		{"downloads with the proxy", []string{"check", "--source", dir, "--dockerfile", "apt/Dockerfile", "--network", "proxy"}, 0,
			[]string{"is hermetic", "apt/Dockerfile:2: RUN downloads (apt-get update, apt-get install): with --network proxy, each download must equal a pin"},
			[]string{"warning: apt/Dockerfile:3: run-pipe-to-shell"}},
		{"bad network", []string{"check", "--source", dir, "--network", "host"}, 2, nil, []string{`--network "host": want none or proxy`}},
		{"bad build arg", []string{"check", "--source", dir, "--build-arg", "NOEQUALS"}, 2, nil, []string{"--build-arg"}},
		// reprover's own release: its Dockerfile takes its bases from the
		// bake file, which pins them.
		{"reprover's Dockerfile alone names no base", []string{"check", "--source", root}, 2, nil,
			[]string{"unpinned-from: FROM ${GO_IMAGE} names no image: give the release's value with --build-arg"}},
		{"reprover's bake file", []string{"check", "--source", root, "--bake", "docker-bake.hcl", "--network", "proxy"}, 0,
			[]string{"Dockerfile is hermetic: 2 base image(s)"}, nil},
		{"a bake variable set to a tag", []string{"check", "--source", root, "--bake", "docker-bake.hcl", "--bake-var", "GO_IMAGE=golang:1.26"}, 2, nil,
			[]string{"unpinned-from: FROM golang:1.26 has no @sha256: digest"}},
		{"a build arg wins over the bake file", []string{"check", "--source", root, "--bake", "docker-bake.hcl", "--build-arg", "RUNTIME_IMAGE=alpine"}, 2, nil,
			[]string{"unpinned-from: FROM alpine has no @sha256: digest"}},
		{"no such bake file", []string{"check", "--source", dir, "--bake", "ci/docker-bake.hcl"}, 2, nil, []string{"--bake ci/docker-bake.hcl"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, tc.args, tc.wantCode, tc.wantStdout, tc.wantStderr)
		})
	}
}

// TestCheckBakeConfined: a bake file is the commit's, so what it names is
// read as verify --bake reads it: inside the source, reached without a
// symlink, a regular file. Each case once made check read a file outside
// the source (or block on a FIFO) and print its first line in a parse
// error; now each is refused naming the path, and no secret is printed.
func TestCheckBakeConfined(t *testing.T) {
	const secret = "root:$6$SECRET-HASH:19000:0:99999:7:::"
	const token = `{"auths": {"registry.example": {"auth": "c2VjcmV0LXRva2Vu"}}}`
	outside := t.TempDir()
	for name, body := range map[string]string{"shadow": secret + "\n", "Dockerfile": secret + "\n", "config.json": token + "\n"} {
		if err := os.WriteFile(filepath.Join(outside, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name    string
		target  string            // the bake file's target body
		files   map[string]string // files of the source; "->X" makes a symlink to X
		fifo    string            // a FIFO of the source
		wantErr string
	}{
		{name: "dockerfile up and out", target: `dockerfile = "../../../../../../../..` + outside + `/shadow"`, wantErr: "must be a path inside the source"},
		{name: "absolute dockerfile", target: `dockerfile = "` + outside + `/shadow"`, wantErr: "must be a path inside the source"},
		{name: "a Docker config.json", target: `dockerfile = "` + outside + `/config.json"`, wantErr: "must be a path inside the source"},
		{name: "context outside", target: `context = "` + outside + `"`, wantErr: "must be a path inside the source"},
		{name: "cwd:// dockerfile", target: `dockerfile = "cwd://../../../../../../../..` + outside + `/shadow"`, wantErr: "must be a path inside the source"},
		{name: "symlinked Dockerfile", target: `dockerfile = "Dockerfile.release"`,
			files: map[string]string{"Dockerfile.release": "->" + outside + "/shadow"}, wantErr: "Dockerfile.release is a symlink"},
		{name: "symlinked context", target: `context = "app"`,
			files: map[string]string{"app": "->" + outside}, wantErr: "app is a symlink"},
		{name: "FIFO", target: `dockerfile = "Dockerfile.fifo"`, fifo: "Dockerfile.fifo", wantErr: "not a regular file"},
		{name: "the commit's own file that is no Dockerfile", target: `dockerfile = "notes.txt"`,
			files: map[string]string{"notes.txt": secret + "\n"}, wantErr: "notes.txt:1: not a Dockerfile BuildKit can parse (the file was named by the bake file: its text is not shown)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bake := "target \"default\" {\n  " + tc.target + "\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "docker-bake.hcl"), []byte(bake), 0o644); err != nil {
				t.Fatal(err)
			}
			for name, body := range tc.files {
				var err error
				if target, ok := strings.CutPrefix(body, "->"); ok {
					err = os.Symlink(target, filepath.Join(dir, name))
				} else {
					err = os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if tc.fifo != "" {
				if err := syscall.Mkfifo(filepath.Join(dir, tc.fifo), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			_, stderr := expect(t, []string{"check", "--source", dir, "--bake", "docker-bake.hcl"}, 2, nil, []string{tc.wantErr})
			for _, s := range []string{"SECRET", "c2VjcmV0"} {
				if strings.Contains(stderr, s) {
					t.Errorf("stderr shows a file's contents (%s):\n%s", s, stderr)
				}
			}
		})
	}
}
