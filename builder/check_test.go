package builder

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// checkCase is one Dockerfile and everything Check finds in it. A list left
// empty means Check must find none of that kind.
type checkCase struct {
	name string
	// dockerfile starts on the line after its opening backquote: the
	// newline there is not part of it, so line numbers count from the
	// first line written.
	dockerfile string
	opts       CheckOptions
	// violations are the rules broken that refuse the rebuild, in order,
	// each "LINE: rule", or "LINE: rule: message" to check the message too.
	violations []string
	warnings   []string // "LINE: rule" of each rule broken that is only reported
	bases      []string // Inputs.Bases, by Ref
	downloads  []string // Inputs.Downloads, "URL checksum"
	runs       []string // Inputs.RunDownloads, "LINE: tool, tool"
}

// checkCases are grouped by the rule they are about, in the order of Rules;
// build-parameter's cases are TestCheckSyntaxArg's (params_test.go).
var checkCases = []struct {
	rule  string // a rule's name, or "hermetic" or "several"
	cases []checkCase
}{
	{"unpinned-from", []checkCase{
		{
			name: "tag",
			dockerfile: `
FROM alpine:3.20
RUN true
`,
			violations: []string{"1: unpinned-from"},
		},
		{
			name: "no tag, after blank lines",
			dockerfile: `


FROM alpine
`,
			violations: []string{"3: unpinned-from"},
		},
		{
			name: "tag and digest",
			dockerfile: `
FROM alpine:3.20@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
`,
			bases: []string{"alpine:3.20@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "an arg nothing sets",
			dockerfile: `
ARG BASE
FROM ${BASE}
`,
			violations: []string{"2: unpinned-from: FROM ${BASE} names no image: give the release's value with --build-arg"},
		},
		{
			name: "arg expanded, pinned",
			dockerfile: `
ARG BASE=busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM $BASE
`,
			bases: []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "arg expanded, unpinned",
			dockerfile: `
ARG TAG=latest
FROM busybox:${TAG}
`,
			violations: []string{"2: unpinned-from"},
		},
		{
			name: "build arg overrides to unpinned",
			dockerfile: `
ARG BASE=busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM $BASE
`,
			opts:       CheckOptions{BuildArgs: map[string]string{"BASE": "busybox:latest"}},
			violations: []string{"2: unpinned-from"},
		},
		{
			name: "stage names are not images",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS build
RUN true
FROM build
COPY --from=build /a /a
COPY --from=0 /a /b
`,
			bases: []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		// Meta ARGs expand in each other, in order, as BuildKit's global scope does.
		{
			name: "meta arg expands an earlier one",
			dockerfile: `
ARG R=docker.io/library
ARG B=$R/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM $B
`,
			bases: []string{"docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "meta arg expands an earlier one, unpinned",
			dockerfile: `
ARG R=docker.io/library
ARG B=${R}/busybox:latest
FROM $B
`,
			violations: []string{"3: unpinned-from: FROM docker.io/library/busybox:latest has no @sha256: digest"},
		},
		{
			name: "build arg overrides an earlier meta arg",
			dockerfile: `
ARG R=docker.io/library
ARG B=$R/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM $B
`,
			opts:  CheckOptions{BuildArgs: map[string]string{"R": "mirror.example/lib"}},
			bases: []string{"mirror.example/lib/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "build arg overrides a later meta arg",
			dockerfile: `
ARG R=docker.io/library
ARG B=$R/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM $B
`,
			opts:       CheckOptions{BuildArgs: map[string]string{"B": "busybox:1.36"}},
			violations: []string{"3: unpinned-from: FROM busybox:1.36 has no @sha256: digest"},
		},
		{
			name: "meta arg without a default is unset",
			dockerfile: `
ARG T
FROM busybox:${T-1.36}
`,
			violations: []string{"2: unpinned-from: FROM busybox:1.36 has no @sha256: digest"},
		},
		// FROM finds a stage by name only: 0 is the image library/0.
		{
			name: "FROM 0 is an image, not stage 0",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS a
FROM 0
`,
			violations: []string{"2: unpinned-from: FROM 0 has no @sha256: digest"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
	}},
	{"unpinned-copy-from", []checkCase{
		{
			name: "copy from an unpinned image",
			dockerfile: `
FROM scratch
COPY --from=alpine:3 /bin/sh /sh
`,
			violations: []string{"2: unpinned-copy-from"},
		},
		{
			name: "copy from a pinned image",
			dockerfile: `
FROM scratch
COPY --from=alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef /bin/sh /sh
`,
			bases: []string{"alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "run mount from an unpinned image",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN --mount=type=bind,from=golang:1.26,target=/go true
`,
			violations: []string{"2: unpinned-copy-from"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		// A stage sees a meta ARG only when it re-declares it.
		{
			name: "meta arg redeclared in the stage",
			dockerfile: `
ARG R=docker.io/library
ARG B=$R/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM scratch
ARG B
COPY --from=$B / /
`,
			bases: []string{"docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "stage arg default expands stage args",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ARG V=1.26
ARG IMG=golang:$V
COPY --from=$IMG /go /go
`,
			violations: []string{"4: unpinned-copy-from: COPY --from=golang:1.26 has no @sha256: digest"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		// RUN --mount from= finds a stage by name only, COPY --from by index too.
		{
			name: "mount from=0 is an image, not stage 0",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN --mount=from=0,target=/x true
`,
			violations: []string{"2: unpinned-copy-from: RUN --mount from=0 has no @sha256: digest"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		// ONBUILD instructions run first in each stage built FROM their stage.
		{
			name: "ONBUILD COPY --from an unpinned image",
			dockerfile: `
FROM scratch AS a
ONBUILD COPY --from=reg.example/evil:latest / /
FROM a
`,
			violations: []string{"2: unpinned-copy-from: COPY --from=reg.example/evil:latest has no @sha256: digest"},
		},
		{
			name: "ONBUILD does not run where the stage is copied from",
			dockerfile: `
FROM scratch AS a
ONBUILD COPY --from=reg.example/evil:latest / /
FROM scratch
COPY --from=a / /
`,
		},
	}},
	// ENV sets variables for the instructions after it, as ARG does, and a
	// stage built on another inherits its ENV.
	{"add-url-without-checksum", []checkCase{
		{
			name: "no checksum",
			dockerfile: `
FROM scratch
ADD https://example.com/a.tar.gz /a
`,
			violations: []string{"2: add-url-without-checksum"},
		},
		{
			name: "checksum",
			dockerfile: `
FROM scratch
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/a.tar.gz /a
`,
			downloads: []string{"https://example.com/a.tar.gz sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"},
		},
		{
			name: "env used in add",
			dockerfile: `
FROM scratch
ENV U=https://example.com/a.tar.gz
ADD $U /a
`,
			violations: []string{"3: add-url-without-checksum"},
		},
		{
			name: "env expands args",
			dockerfile: `
FROM scratch
ARG H=example.com
ENV U=https://$H/x
ADD $U /x
`,
			violations: []string{"4: add-url-without-checksum: ADD https://example.com/x has no --checksum=sha256:…"},
		},
		{
			name: "env inherited from a stage",
			dockerfile: `
FROM scratch AS a
ENV U=https://example.com/x
FROM a
ADD $U /x
`,
			violations: []string{"4: add-url-without-checksum"},
		},
		// An ARG with a value replaces an ENV's (BuildKit's dispatchArg);
		// one without keeps it.
		{
			name: "arg with a default overrides env",
			dockerfile: `
FROM scratch
ENV U=local.tar
ARG U=https://example.com/x
ADD $U /x
`,
			violations: []string{"4: add-url-without-checksum: ADD https://example.com/x has no --checksum=sha256:…"},
		},
		{
			name: "arg without a default keeps env",
			dockerfile: `
FROM scratch
ENV U=https://example.com/x
ARG U
ADD $U /x
`,
			violations: []string{"4: add-url-without-checksum"},
		},
		{
			name: "build arg overrides env through arg",
			dockerfile: `
FROM scratch
ENV U=app/hello.txt
ARG U
ADD ${U} /x
`,
			opts:       CheckOptions{BuildArgs: map[string]string{"U": "https://example.com/x"}},
			violations: []string{"4: add-url-without-checksum: ADD https://example.com/x has no --checksum=sha256:…"},
		},
		// A stage built on another keeps its ARG values (BuildKit's state
		// carries them), then has its ENVs applied over them.
		{
			name: "arg inherited from a stage",
			dockerfile: `
FROM scratch AS a
ARG U=https://example.com/x
FROM a
ADD ${U} /x
`,
			violations: []string{"4: add-url-without-checksum: ADD https://example.com/x has no --checksum=sha256:…"},
		},
		{
			name: "a stage's env applied over its args in a stage built on it",
			dockerfile: `
FROM scratch AS a
ENV U=https://example.com/x
ARG U=local.tar
FROM a
ADD $U /x
`,
			violations: []string{"5: add-url-without-checksum: ADD https://example.com/x has no --checksum=sha256:…"},
		},
		// ENV expands all its keys and values before it sets any
		// (BuildKit's EnvCommand.Expand, then dispatchEnv).
		{
			name: "one ENV's values expand before it sets them",
			dockerfile: `
FROM scratch
ENV U=https://example.com/x
ENV U=local.tar V=$U
ADD $V /x
`,
			violations: []string{"4: add-url-without-checksum: ADD https://example.com/x has no --checksum=sha256:…"},
		},
		{
			name: "ENV's key expanded",
			dockerfile: `
FROM scratch
ARG K=U
ENV ${K}=https://example.com/x
ADD $U /x
`,
			violations: []string{"4: add-url-without-checksum: ADD https://example.com/x has no --checksum=sha256:…"},
		},
		{
			name: "ONBUILD ADD",
			dockerfile: `
FROM scratch AS a
ONBUILD ADD http://example.com/secret /s
FROM a
`,
			violations: []string{"2: add-url-without-checksum: ADD http://example.com/secret has no --checksum=sha256:…"},
		},
		{
			name: "ONBUILD uses the variables of the stage it runs in",
			dockerfile: `
FROM scratch AS a
ARG U=https://example.com/x
ONBUILD ADD $U /x
FROM a
`,
			violations: []string{"3: add-url-without-checksum: ADD https://example.com/x has no --checksum=sha256:…"},
		},
		{
			name: "meta arg not redeclared in the stage",
			dockerfile: `
ARG SRC=rootfs.tar
FROM scratch
ADD ${SRC:-https://example.com/a.tar.gz} /
`,
			violations: []string{"3: add-url-without-checksum: ADD https://example.com/a.tar.gz has no --checksum=sha256:…"},
		},
	}},
	{"add-git-unpinned", []checkCase{
		{
			name: "branch",
			dockerfile: `
FROM scratch
ADD https://github.com/moby/buildkit.git#master /src
`,
			violations: []string{"2: add-git-unpinned"},
		},
		{
			name: "commit",
			dockerfile: `
FROM scratch
ADD https://github.com/moby/buildkit.git#0123456789abcdef0123456789abcdef01234567 /src
`,
			downloads: []string{"https://github.com/moby/buildkit.git 0123456789abcdef0123456789abcdef01234567"},
		},
		{
			name: "tag with the commit as checksum",
			dockerfile: `
FROM scratch
ADD --checksum=0123456789abcdef0123456789abcdef01234567 https://github.com/moby/buildkit.git#v0.34.2 /src
`,
			downloads: []string{"https://github.com/moby/buildkit.git 0123456789abcdef0123456789abcdef01234567"},
		},
	}},
	{"add-url-private-host", []checkCase{
		{
			name: "metadata host",
			dockerfile: `
FROM scratch
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://169.254.169.254/latest/meta-data /m
`,
			violations: []string{"2: add-url-private-host"},
			downloads:  []string{"http://169.254.169.254/latest/meta-data sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"},
		},
		{
			name: "decimal loopback",
			dockerfile: `
FROM scratch
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://2130706433/x /x
`,
			violations: []string{"2: add-url-private-host"},
			downloads:  []string{"http://2130706433/x sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"},
		},
		{
			name: "an internal mirror allowed by name",
			dockerfile: `
FROM scratch
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://10.1.2.3/x /x
`,
			opts:      CheckOptions{AllowHosts: []string{"10.1.2.3"}},
			downloads: []string{"http://10.1.2.3/x sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"},
		},
		{
			name: "another private host is still refused",
			dockerfile: `
FROM scratch
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://10.1.2.4/x /x
`,
			opts:       CheckOptions{AllowHosts: []string{"10.1.2.3"}},
			violations: []string{"2: add-url-private-host"},
			downloads:  []string{"http://10.1.2.4/x sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"},
		},
		// git sources are judged as URLs are.
		{
			name: "git on loopback",
			dockerfile: `
FROM scratch
ADD http://127.0.0.1:8080/internal.git#0123456789abcdef0123456789abcdef01234567 /src
`,
			violations: []string{"2: add-url-private-host: ADD http://127.0.0.1:8080/internal.git#0123456789abcdef0123456789abcdef01234567: the host 127.0.0.1 is local (loopback): not fetched unless the host is allowed by name"},
			downloads:  []string{"http://127.0.0.1:8080/internal.git 0123456789abcdef0123456789abcdef01234567"},
		},
		{
			name: "git over ssh on a private network",
			dockerfile: `
FROM scratch
ADD git@10.1.2.3:org/repo.git#0123456789abcdef0123456789abcdef01234567 /src
`,
			violations: []string{"2: add-url-private-host"},
			downloads:  []string{"git@10.1.2.3:org/repo.git 0123456789abcdef0123456789abcdef01234567"},
		},
		{
			name: "git host allowed by name",
			dockerfile: `
FROM scratch
ADD https://10.1.2.3/org/repo.git#0123456789abcdef0123456789abcdef01234567 /src
`,
			opts:      CheckOptions{AllowHosts: []string{"10.1.2.3"}},
			downloads: []string{"https://10.1.2.3/org/repo.git 0123456789abcdef0123456789abcdef01234567"},
		},
		// A name is judged by what it resolves to (testResolver: vm is
		// 127.0.0.1, as in the red team's /etc/hosts).
		{
			name: "a name that resolves to loopback",
			dockerfile: `
FROM scratch
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://vm:8080/secret /s
`,
			violations: []string{"2: add-url-private-host: ADD http://vm:8080/secret: the host vm resolves to 127.0.0.1 (loopback): not fetched unless the host is allowed by name"},
			downloads:  []string{"http://vm:8080/secret sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"},
		},
		{
			name: "a name that resolves to loopback, allowed by name and port",
			dockerfile: `
FROM scratch
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d http://vm:8080/secret /s
`,
			opts:      CheckOptions{AllowHosts: []string{"vm:8080"}},
			downloads: []string{"http://vm:8080/secret sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"},
		},
		{
			name: "a git host that resolves to a private address",
			dockerfile: `
FROM scratch
ADD https://git.corp.example/r.git#0123456789abcdef0123456789abcdef01234567 /src
`,
			violations: []string{"2: add-url-private-host"},
			downloads:  []string{"https://git.corp.example/r.git 0123456789abcdef0123456789abcdef01234567"},
		},
	}},
	// A variable no ARG or ENV sets may come from the base image's config:
	// what ADD would fetch cannot be known before the build.
	{"add-unresolved-variable", []checkCase{
		{
			name: "source from the base image's env",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ADD $U /a
`,
			violations: []string{"2: add-unresolved-variable: ADD $U uses U, which no ARG or ENV of this Dockerfile sets (the base image may): what it fetches cannot be known before the build"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "checksum from the base image's env",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ADD --checksum=$SUM https://example.com/a /a
`,
			violations: []string{"2: add-unresolved-variable"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "an unset variable on scratch is empty",
			dockerfile: `
FROM scratch
ADD ${SRC}rootfs.tar /
`,
		},
		{
			name: "a stage's arg the base image's env may replace",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef AS a
ARG U=local.tar
FROM a
ADD $U /x
`,
			violations: []string{"4: add-unresolved-variable: ADD $U uses U, which no ARG or ENV of this Dockerfile sets (the base image may): what it fetches cannot be known before the build"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "an arg expanding what the base image's env may set",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ARG U=${MIRROR}/x.tar
ADD $U /x
`,
			violations: []string{"3: add-unresolved-variable"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "a word only the base image's env lets expand",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ADD ${U:?} /x
`,
			violations: []string{"2: add-unresolved-variable"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		// BuildKit sets the platform ARGs: with no platform given, a
		// source that uses them is unknown; with platforms, one per platform.
		{
			name: "a platform arg, no platform given",
			dockerfile: `
FROM scratch
ARG TARGETARCH
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/tool-${TARGETARCH} /t
`,
			violations: []string{"3: add-unresolved-variable: ADD https://example.com/tool-${TARGETARCH} uses TARGETARCH, which BuildKit sets for the platform it builds: give the platforms: what it fetches cannot be known before the build"},
		},
		{
			name: "a platform arg, platforms given",
			dockerfile: `
FROM scratch
ARG TARGETARCH
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/tool-${TARGETARCH} /t
`,
			opts:      CheckOptions{Platforms: []string{"linux/amd64", "linux/arm64"}},
			downloads: []string{"https://example.com/tool-amd64 sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d", "https://example.com/tool-arm64 sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d"},
		},
		{
			name: "PATH is set on scratch",
			dockerfile: `
FROM scratch
ADD ${PATH:+https://example.com/x} /x
`,
			opts:       CheckOptions{Platforms: []string{"linux/amd64"}},
			violations: []string{"2: add-url-without-checksum"},
		},
	}},
	// BuildKit sets TARGETOS, TARGETARCH, … in the global scope without an
	// ARG line; with no platform given their values are unknown.
	{"image-unresolved-variable", []checkCase{
		{
			name: "a platform arg picks the image",
			dockerfile: `
FROM ${TARGETOS:+reg.example/evil:latest}${TARGETOS:-busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}
`,
			violations: []string{"1: image-unresolved-variable: FROM ${TARGETOS:+reg.example/evil:latest}${TARGETOS:-busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef} uses TARGETOS, which BuildKit sets for the platform it builds: give the platforms: which image it names cannot be known before the build"},
		},
		{
			name: "each platform given is judged",
			dockerfile: `
FROM ${TARGETOS:+reg.example/evil:latest}${TARGETOS:-busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}
`,
			opts:       CheckOptions{Platforms: []string{"linux/amd64"}},
			violations: []string{"1: unpinned-from: FROM reg.example/evil:latestlinux has no @sha256: digest"},
		},
		{
			name: "a platform arg through a meta arg",
			dockerfile: `
ARG IMG=busybox-${BUILDARCH}@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM scratch
ARG IMG
COPY --from=$IMG / /
`,
			opts:       CheckOptions{Platforms: []string{"linux/amd64"}},
			violations: []string{"4: image-unresolved-variable"},
		},
		{
			name: "the build platform given",
			dockerfile: `
ARG IMG=busybox-${BUILDARCH}@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM scratch
ARG IMG
COPY --from=$IMG / /
`,
			opts:  CheckOptions{BuildPlatform: "linux/arm64"},
			bases: []string{"busybox-arm64@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		// A build arg replaces an automatic ARG's value, as in BuildKit's
		// defaultArgs.
		{
			name: "a build arg sets a platform arg",
			dockerfile: `
FROM ${TARGETOS:+reg.example/evil:latest}${TARGETOS:-busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef}
`,
			// BuildKit lets it (platform.go's defaultArgs); builder.Params
			// refuses it: it would choose what the rules judged for
			// another platform.
			opts:       CheckOptions{BuildArgs: map[string]string{"TARGETOS": ""}},
			violations: []string{"0: build-parameter: build arg TARGETOS=\"\": set by BuildKit from the platform built (or the worker's, or the stage): a build arg that sets it would make the build choose another image or file than the one the rules judged for that platform"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
	}},
	{"unpinned-syntax", []checkCase{
		{
			name: "tag",
			dockerfile: `
# syntax=docker/dockerfile:1
FROM scratch
`,
			violations: []string{"1: unpinned-syntax"},
		},
		{
			name: "digest",
			dockerfile: `
# syntax=docker/dockerfile:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
FROM scratch
`,
		},
	}},
	{"run-network-host", []checkCase{
		{
			name: "host",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN --network=host true
`,
			violations: []string{"2: run-network-host"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "none is fine",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN --network=none true
`,
			bases: []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
	}},
	{"run-security-insecure", []checkCase{
		{
			name: "insecure",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN --security=insecure true
`,
			violations: []string{"2: run-security-insecure"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
	}},
	// RUN steps that download: refused offline, listed with the proxy.
	{"run-downloads", []checkCase{
		{
			name: "wget offline",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN wget -O /x https://example.com/x
`,
			violations: []string{"2: run-downloads: RUN downloads (wget), but --network none gives it no network: verify with --network proxy, with pins from reprover.lock.json (reprover lock) or the release's provenance"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:       []string{"2: wget"},
		},
		{
			name: "apt-get offline",
			dockerfile: `
FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends curl
`,
			violations: []string{"2: run-downloads"},
			bases:      []string{"debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:       []string{"2: apt-get update, apt-get install"},
		},
		{
			name: "apt-get with the proxy",
			dockerfile: `
FROM debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN apt-get update && apt-get install -y curl
`,
			opts:  CheckOptions{Network: NetworkProxy},
			bases: []string{"debian@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:  []string{"2: apt-get update, apt-get install"},
		},
		{
			name: "pip as a module, behind sudo",
			dockerfile: `
FROM python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN sudo -E python3 -m pip install requests
`,
			violations: []string{"2: run-downloads"},
			bases:      []string{"python@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:       []string{"2: pip install"},
		},
		{
			name: "heredoc",
			dockerfile: `
FROM alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN <<EOF
set -e
apk add --no-cache git
EOF
`,
			violations: []string{"2: run-downloads"},
			bases:      []string{"alpine@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:       []string{"2: apk add"},
		},
		{
			name: "RUN --network=none stays offline",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN --network=none wget -O /x https://example.com/x || true
`,
			bases: []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:  []string{"2: wget"},
		},
		{
			name: "words that are not downloads",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN echo curl wget && apt-get --version && go build ./... && git status
`,
			bases: []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
	}},
	// A script piped into a shell is a warning with every network.
	{"run-pipe-to-shell", []checkCase{
		{
			name: "curl piped to sh",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN curl -fsSL https://get.example/install.sh | sh -s -- -y
`,
			opts:     CheckOptions{Network: NetworkProxy},
			warnings: []string{"2: run-pipe-to-shell"},
			bases:    []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:     []string{"2: curl"},
		},
		{
			name: "a download run through a substitution",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN sh -c "$(wget -qO- https://get.example/i.sh)"
`,
			opts:     CheckOptions{Network: NetworkProxy},
			warnings: []string{"2: run-pipe-to-shell"},
			bases:    []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:     []string{"2: wget"},
		},
		{
			name: "offline: refused and warned",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN wget -qO- https://get.example/i.sh | bash
`,
			violations: []string{"2: run-downloads"},
			warnings:   []string{"2: run-pipe-to-shell"},
			bases:      []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
			runs:       []string{"2: wget"},
		},
	}},
	{"hermetic", []checkCase{
		{
			name: "pinned base, local files",
			dockerfile: `
FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
COPY . /app
RUN echo hi
`,
			bases: []string{"busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		},
		{
			name: "scratch",
			dockerfile: `
FROM scratch
COPY x /x
`,
		},
		{
			name: "add a local file",
			dockerfile: `
FROM scratch
ADD rootfs.tar /
`,
		},
	}},
	{"several", []checkCase{
		{
			name: "every violation reported",
			dockerfile: `
# syntax=docker/dockerfile:1
FROM alpine
ADD http://x.example/y /y
RUN --network=host true
FROM debian:12
`,
			violations: []string{"1: unpinned-syntax", "2: unpinned-from", "3: add-url-without-checksum", "4: run-network-host", "5: unpinned-from"},
		},
	}},
}

func TestCheck(t *testing.T) {
	for _, group := range checkCases {
		t.Run(group.rule, func(t *testing.T) {
			for _, tc := range group.cases {
				t.Run(tc.name, func(t *testing.T) { tc.run(t) })
			}
		})
	}
}

func (tc checkCase) run(t *testing.T) {
	dockerfile, ok := strings.CutPrefix(tc.dockerfile, "\n")
	if !ok {
		t.Fatal("the case's Dockerfile does not start on the line after its backquote")
	}
	if tc.opts.Resolver == nil {
		tc.opts.Resolver = testResolver
	}
	vs, in, err := CheckContext(t.Context(), []byte(dockerfile), "Dockerfile", tc.opts)
	if err != nil {
		t.Fatal(err)
	}
	var violations []string
	for i, v := range vs {
		if !strings.HasPrefix(v.Error(), "Dockerfile:") || v.Message == "" {
			t.Errorf("violation %q does not name the file and say why", v.Error())
		}
		got := strconv.Itoa(v.Line) + ": " + v.Rule.Name // 0: a build parameter, not a line
		if i < len(tc.violations) && strings.Count(tc.violations[i], ": ") >= 2 {
			got += ": " + v.Message
		}
		violations = append(violations, got)
	}
	equal(t, "violations", violations, tc.violations)
	var warnings, bases, downloads, runs []string
	for _, w := range in.Warnings {
		warnings = append(warnings, fmt.Sprintf("%d: %s", w.Line, w.Rule))
	}
	for _, b := range in.Bases {
		bases = append(bases, b.Ref)
	}
	for _, d := range in.Downloads {
		downloads = append(downloads, d.URL+" "+d.Checksum)
	}
	for _, r := range in.RunDownloads {
		runs = append(runs, fmt.Sprintf("%d: %s", r.Line, strings.Join(r.Tools, ", ")))
	}
	equal(t, "warnings", warnings, tc.warnings)
	equal(t, "bases", bases, tc.bases)
	equal(t, "downloads", downloads, tc.downloads)
	equal(t, "RUN downloads", runs, tc.runs)
}

// fakeResolver answers from a table, as the red team's /etc/hosts did: a
// real resolver cannot be made to answer a name with a loopback or
// private address portably. Other names do not resolve.
type fakeResolver map[string]string

func (r fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := r[host]; ok {
		return []netip.Addr{netip.MustParseAddr(a)}, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

var testResolver = fakeResolver{"vm": "127.0.0.1", "git.corp.example": "10.0.0.7", "mirror.example": "93.184.215.14"}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

// TestCheckCasesCoverRules: every rule has its group of cases in
// checkCases (build-parameter's are in TestCheckSyntaxArg), and every
// group is a rule or says why it is not one.
func TestCheckCasesCoverRules(t *testing.T) {
	groups := map[string]bool{}
	for _, g := range checkCases {
		groups[g.rule] = true
		if !slices.ContainsFunc(Rules, func(r Rule) bool { return r.Name == g.rule }) && g.rule != "hermetic" && g.rule != "several" {
			t.Errorf("checkCases has a group %q, which is no rule", g.rule)
		}
	}
	for _, r := range Rules {
		if !groups[r.Name] && r.Name != RuleBuildParam.Name {
			t.Errorf("rule %s has no cases in checkCases", r.Name)
		}
	}
}

func TestCheckParseError(t *testing.T) {
	dockerfile := `FROM busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN --mount=type=nope true
`
	_, _, err := Check([]byte(dockerfile), "sub/Dockerfile", CheckOptions{})
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
		if _, err := ReadDockerfile(c.path, CheckLimits{}); err == nil || !strings.Contains(err.Error(), c.say) {
			t.Errorf("%s: err %v, want %q", c.path, err, c.say)
		}
	}
}
