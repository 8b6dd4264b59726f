package builder

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

const pin = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
const commit = "0123456789abcdef0123456789abcdef01234567"

func TestCheck(t *testing.T) {
	tests := []struct {
		name       string
		dockerfile string
		args       map[string]string
		want       []string // "LINE: rule" of each violation, in order
		wantBases  []string
		wantDL     []string
		wantMsgs   []string // when set, each violation's message, in order
		network    string   // the rebuild's: none (default) or proxy
		allow      []string // AllowHosts
		wantWarn   []string // "LINE: rule" of each warning
		wantRunDL  []string // "LINE: tools" of each RUN that downloads
	}{
		{name: "add from an internal mirror allowed by name", dockerfile: "FROM scratch\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://10.1.2.3/x /x\n",
			allow: []string{"10.1.2.3"}, wantDL: []string{"http://10.1.2.3/x sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"}},
		{name: "another private host is still refused", dockerfile: "FROM scratch\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://10.1.2.4/x /x\n",
			allow: []string{"10.1.2.3"}, want: []string{"2: add-url-private-host"}, wantDL: []string{"http://10.1.2.4/x sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"}},
		// RUN steps that download: refused offline, listed with the proxy;
		// a script piped into a shell is a warning in every mode.
		{name: "wget offline", dockerfile: "FROM busybox" + pin + "\nRUN wget -O /x https://example.com/x\n", want: []string{"2: run-downloads"}, wantBases: []string{"busybox" + pin},
			wantMsgs:  []string{"RUN downloads (wget), but --network none gives it no network: verify with --network proxy, with pins from reprover.lock.json (reprover lock) or the release's provenance"},
			wantRunDL: []string{"2: wget"}},
		{name: "apt-get offline", dockerfile: "FROM debian" + pin + "\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl\n",
			want: []string{"2: run-downloads"}, wantBases: []string{"debian" + pin}, wantRunDL: []string{"2: apt-get update, apt-get install"}},
		{name: "apt-get with the proxy", network: "proxy", dockerfile: "FROM debian" + pin + "\nRUN apt-get update && apt-get install -y curl\n",
			wantBases: []string{"debian" + pin}, wantRunDL: []string{"2: apt-get update, apt-get install"}},
		{name: "pip as a module, behind sudo", dockerfile: "FROM python" + pin + "\nRUN sudo -E python3 -m pip install requests\n",
			want: []string{"2: run-downloads"}, wantBases: []string{"python" + pin}, wantRunDL: []string{"2: pip install"}},
		{name: "words that are not downloads", dockerfile: "FROM busybox" + pin + "\nRUN echo curl wget && apt-get --version && go build ./... && git status\n", wantBases: []string{"busybox" + pin}},
		{name: "RUN --network=none stays offline", dockerfile: "FROM busybox" + pin + "\nRUN --network=none wget -O /x https://example.com/x || true\n",
			wantBases: []string{"busybox" + pin}, wantRunDL: []string{"2: wget"}},
		{name: "heredoc", dockerfile: "FROM alpine" + pin + "\nRUN <<EOF\nset -e\napk add --no-cache git\nEOF\n",
			want: []string{"2: run-downloads"}, wantBases: []string{"alpine" + pin}, wantRunDL: []string{"2: apk add"}},
		{name: "curl piped to sh", network: "proxy", dockerfile: "FROM busybox" + pin + "\nRUN curl -fsSL https://get.example/install.sh | sh -s -- -y\n",
			wantBases: []string{"busybox" + pin}, wantWarn: []string{"2: run-pipe-to-shell"}, wantRunDL: []string{"2: curl"}},
		{name: "download run through a substitution", network: "proxy", dockerfile: "FROM busybox" + pin + "\nRUN sh -c \"$(wget -qO- https://get.example/i.sh)\"\n",
			wantBases: []string{"busybox" + pin}, wantWarn: []string{"2: run-pipe-to-shell"}, wantRunDL: []string{"2: wget"}},
		{name: "piped offline: refused and warned", dockerfile: "FROM busybox" + pin + "\nRUN wget -qO- https://get.example/i.sh | bash\n",
			want: []string{"2: run-downloads"}, wantBases: []string{"busybox" + pin}, wantWarn: []string{"2: run-pipe-to-shell"}, wantRunDL: []string{"2: wget"}},
		{name: "hermetic", dockerfile: "FROM busybox" + pin + "\nCOPY . /app\nRUN echo hi\n", wantBases: []string{"busybox" + pin}},
		{name: "scratch", dockerfile: "FROM scratch\nCOPY x /x\n"},
		{name: "unpinned from", dockerfile: "FROM alpine:3.20\nRUN true\n", want: []string{"1: unpinned-from"}},
		{name: "unpinned from without tag", dockerfile: "\n\nFROM alpine\n", want: []string{"3: unpinned-from"}},
		{name: "from an arg nothing set", dockerfile: "ARG BASE\nFROM ${BASE}\n", want: []string{"2: unpinned-from"},
			wantMsgs: []string{"FROM ${BASE} names no image: give the release's value with --build-arg"}},
		{name: "tag and digest", dockerfile: "FROM alpine:3.20" + pin + "\n", wantBases: []string{"alpine:3.20" + pin}},
		{name: "arg expanded pinned", dockerfile: "ARG BASE=busybox" + pin + "\nFROM $BASE\n", wantBases: []string{"busybox" + pin}},
		{name: "arg expanded unpinned", dockerfile: "ARG TAG=latest\nFROM busybox:${TAG}\n", want: []string{"2: unpinned-from"}},
		{name: "build arg overrides to unpinned", dockerfile: "ARG BASE=busybox" + pin + "\nFROM $BASE\n",
			args: map[string]string{"BASE": "busybox:latest"}, want: []string{"2: unpinned-from"}},
		{name: "stage names are not images", dockerfile: "FROM busybox" + pin + " AS build\nRUN true\nFROM build\nCOPY --from=build /a /a\nCOPY --from=0 /a /b\n",
			wantBases: []string{"busybox" + pin}},
		{name: "copy from unpinned image", dockerfile: "FROM scratch\nCOPY --from=alpine:3 /bin/sh /sh\n", want: []string{"2: unpinned-copy-from"}},
		{name: "copy from pinned image", dockerfile: "FROM scratch\nCOPY --from=alpine" + pin + " /bin/sh /sh\n", wantBases: []string{"alpine" + pin}},
		{name: "run mount from unpinned", dockerfile: "FROM busybox" + pin + "\nRUN --mount=type=bind,from=golang:1.26,target=/go true\n", want: []string{"2: unpinned-copy-from"}, wantBases: []string{"busybox" + pin}},
		{name: "add url without checksum", dockerfile: "FROM scratch\nADD https://example.com/a.tar.gz /a\n", want: []string{"2: add-url-without-checksum"}},
		{name: "add url with checksum", dockerfile: "FROM scratch\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /a\n",
			wantDL: []string{"https://example.com/a.tar.gz sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"}},
		{name: "add metadata host", dockerfile: "FROM scratch\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://169.254.169.254/latest/meta-data /m\n",
			want: []string{"2: add-url-private-host"}, wantDL: []string{"http://169.254.169.254/latest/meta-data sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"}},
		{name: "add decimal loopback", dockerfile: "FROM scratch\nADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://2130706433/x /x\n",
			want: []string{"2: add-url-private-host"}, wantDL: []string{"http://2130706433/x sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"}},
		{name: "add git branch", dockerfile: "FROM scratch\nADD https://github.com/moby/buildkit.git#master /src\n", want: []string{"2: add-git-unpinned"}},
		{name: "add git commit", dockerfile: "FROM scratch\nADD https://github.com/moby/buildkit.git#" + commit + " /src\n", wantDL: []string{"https://github.com/moby/buildkit.git " + commit}},
		{name: "add git checksum", dockerfile: "FROM scratch\nADD --checksum=" + commit + " https://github.com/moby/buildkit.git#v0.34.2 /src\n", wantDL: []string{"https://github.com/moby/buildkit.git " + commit}},
		{name: "add local file", dockerfile: "FROM scratch\nADD rootfs.tar /\n"},
		{name: "syntax unpinned", dockerfile: "# syntax=docker/dockerfile:1\nFROM scratch\n", want: []string{"1: unpinned-syntax"}},
		{name: "syntax pinned", dockerfile: "# syntax=docker/dockerfile:1" + pin + "\nFROM scratch\n"},
		{name: "network host", dockerfile: "FROM busybox" + pin + "\nRUN --network=host true\n", want: []string{"2: run-network-host"}, wantBases: []string{"busybox" + pin}},
		{name: "network none is fine", dockerfile: "FROM busybox" + pin + "\nRUN --network=none true\n", wantBases: []string{"busybox" + pin}},
		{name: "security insecure", dockerfile: "FROM busybox" + pin + "\nRUN --security=insecure true\n", want: []string{"2: run-security-insecure"}, wantBases: []string{"busybox" + pin}},
		// ENV sets variables for the instructions after it, as ARG does, and
		// a stage built on another inherits its ENV. A variable set by
		// neither may come from the base image's config: what ADD would
		// fetch cannot be known before the build.
		{name: "env used in add", dockerfile: "FROM scratch\nENV U=https://example.com/a.tar.gz\nADD $U /a\n", want: []string{"3: add-url-without-checksum"}},
		{name: "env expands args", dockerfile: "FROM scratch\nARG H=example.com\nENV U=https://$H/x\nADD $U /x\n", want: []string{"4: add-url-without-checksum"},
			wantMsgs: []string{"ADD https://example.com/x has no --checksum=sha256:…"}},
		{name: "env inherited from a stage", dockerfile: "FROM scratch AS a\nENV U=https://example.com/x\nFROM a\nADD $U /x\n", want: []string{"4: add-url-without-checksum"}},
		{name: "env overrides arg", dockerfile: "FROM scratch\nENV U=https://example.com/x\nARG U=local.tar\nADD $U /x\n", want: []string{"4: add-url-without-checksum"}},
		{name: "add source from the base image's env", dockerfile: "FROM busybox" + pin + "\nADD $U /a\n", want: []string{"2: add-unresolved-variable"},
			wantBases: []string{"busybox" + pin}, wantMsgs: []string{"ADD $U uses U, which no ARG or ENV of this Dockerfile sets (the base image may): what it fetches cannot be known before the build"}},
		{name: "add checksum from the base image's env", dockerfile: "FROM busybox" + pin + "\nADD --checksum=$SUM https://example.com/a /a\n", want: []string{"2: add-unresolved-variable"},
			wantBases: []string{"busybox" + pin}},
		{name: "unset variable on scratch is empty", dockerfile: "FROM scratch\nADD ${SRC}rootfs.tar /\n"},
		// Meta ARGs expand in each other, in order, as BuildKit's global scope does.
		{name: "meta arg expands earlier meta arg", dockerfile: "ARG R=docker.io/library\nARG B=$R/busybox" + pin + "\nFROM $B\n",
			wantBases: []string{"docker.io/library/busybox" + pin}},
		{name: "meta arg expands earlier meta arg unpinned", dockerfile: "ARG R=docker.io/library\nARG B=${R}/busybox:latest\nFROM $B\n",
			want: []string{"3: unpinned-from"}, wantMsgs: []string{"FROM docker.io/library/busybox:latest has no @sha256: digest"}},
		{name: "build arg overrides earlier meta arg", dockerfile: "ARG R=docker.io/library\nARG B=$R/busybox" + pin + "\nFROM $B\n",
			args: map[string]string{"R": "mirror.example/lib"}, wantBases: []string{"mirror.example/lib/busybox" + pin}},
		{name: "build arg overrides later meta arg", dockerfile: "ARG R=docker.io/library\nARG B=$R/busybox" + pin + "\nFROM $B\n",
			args: map[string]string{"B": "busybox:1.36"}, want: []string{"3: unpinned-from"}, wantMsgs: []string{"FROM busybox:1.36 has no @sha256: digest"}},
		{name: "meta arg without default is unset", dockerfile: "ARG T\nFROM busybox:${T-1.36}\n",
			want: []string{"2: unpinned-from"}, wantMsgs: []string{"FROM busybox:1.36 has no @sha256: digest"}},
		// A stage sees a meta ARG only when it re-declares it.
		{name: "meta arg redeclared in stage", dockerfile: "ARG R=docker.io/library\nARG B=$R/busybox" + pin + "\nFROM scratch\nARG B\nCOPY --from=$B / /\n",
			wantBases: []string{"docker.io/library/busybox" + pin}},
		{name: "meta arg not redeclared in stage", dockerfile: "ARG SRC=rootfs.tar\nFROM scratch\nADD ${SRC:-https://example.com/a.tar.gz} /\n",
			want: []string{"3: add-url-without-checksum"}, wantMsgs: []string{"ADD https://example.com/a.tar.gz has no --checksum=sha256:…"}},
		{name: "stage arg default expands stage args", dockerfile: "FROM busybox" + pin + "\nARG V=1.26\nARG IMG=golang:$V\nCOPY --from=$IMG /go /go\n",
			want: []string{"4: unpinned-copy-from"}, wantMsgs: []string{"COPY --from=golang:1.26 has no @sha256: digest"}, wantBases: []string{"busybox" + pin}},
		{name: "every violation reported", dockerfile: "# syntax=docker/dockerfile:1\nFROM alpine\nADD http://x.example/y /y\nRUN --network=host true\nFROM debian:12\n",
			want: []string{"1: unpinned-syntax", "2: unpinned-from", "3: add-url-without-checksum", "4: run-network-host", "5: unpinned-from"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs, in, err := Check([]byte(tc.dockerfile), "Dockerfile", CheckOptions{BuildArgs: tc.args, Network: tc.network, AllowHosts: tc.allow})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range vs {
				got = append(got, strings.SplitN(strings.TrimPrefix(v.Error(), "Dockerfile:"), ": ", 3)[0]+": "+v.Rule.Name)
				if !strings.HasPrefix(v.Error(), "Dockerfile:") || v.Message == "" {
					t.Errorf("violation %q does not name the file and say why", v.Error())
				}
			}
			if tc.wantMsgs != nil {
				var msgs []string
				for _, v := range vs {
					msgs = append(msgs, v.Message)
				}
				if !slices.Equal(msgs, tc.wantMsgs) {
					t.Errorf("messages %q, want %q", msgs, tc.wantMsgs)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("violations %q, want %q", got, tc.want)
			}
			var bases, dls []string
			for _, b := range in.Bases {
				bases = append(bases, b.Ref)
			}
			for _, d := range in.Downloads {
				dls = append(dls, d.URL+" "+d.Checksum)
			}
			if !slices.Equal(bases, tc.wantBases) {
				t.Errorf("bases %q, want %q", bases, tc.wantBases)
			}
			if !slices.Equal(dls, tc.wantDL) {
				t.Errorf("downloads %q, want %q", dls, tc.wantDL)
			}
			var warns, runDL []string
			for _, w := range in.Warnings {
				warns = append(warns, fmt.Sprintf("%d: %s", w.Line, w.Rule))
			}
			for _, r := range in.RunDownloads {
				runDL = append(runDL, fmt.Sprintf("%d: %s", r.Line, strings.Join(r.Tools, ", ")))
			}
			if !slices.Equal(warns, tc.wantWarn) {
				t.Errorf("warnings %q, want %q", warns, tc.wantWarn)
			}
			if !slices.Equal(runDL, tc.wantRunDL) {
				t.Errorf("RUN downloads %q, want %q", runDL, tc.wantRunDL)
			}
		})
	}
}

func TestCheckParseError(t *testing.T) {
	_, _, err := Check([]byte("FROM busybox"+pin+"\nRUN --mount=type=nope true\n"), "sub/Dockerfile", CheckOptions{})
	if err == nil || !strings.Contains(err.Error(), "sub/Dockerfile") {
		t.Errorf("err = %v, want an error naming sub/Dockerfile", err)
	}
}

func TestRulesAreData(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Rules {
		if r.Name == "" || r.Description == "" || r.Why == "" || !strings.HasSuffix(r.URL, "#"+r.Name) || seen[r.Name] {
			t.Errorf("rule %+v: needs a unique name, a description, a reason and a doc link ending #name", r)
		}
		seen[r.Name] = true
	}
}

// TestReadDockerfile: only a regular file is read, and a FIFO is refused
// at once rather than waited on.
func TestReadDockerfile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "Dockerfile.fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, say string }{
		{fifo, "not a regular file"},
		{"/dev/zero", "not a regular file"},
		{dir, "not a regular file"},
		{filepath.Join(dir, "missing"), "no such file"},
	} {
		if _, err := ReadDockerfile(c.path); err == nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: err %v, want %q", c.path, err, c.say)
		}
	}
}
