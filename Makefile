# reprover — see README.md. Every target works from a fresh clone on Debian as root.
SHELL := /bin/bash
GO ?= go
CACHE ?= $(CURDIR)/.cache
BIN := $(CURDIR)/bin
TOOLS := $(CACHE)/bin
STATICCHECK_VERSION := v0.8.2
export PATH := $(TOOLS):$(PATH)

PREFIX ?= /usr/local

.PHONY: all build install tools test demo bench lint clean

all: build

## build: bin/reprover, and next to it buildkitd and buildctl when make tools
## has built them (reprover finds a buildkitd next to its own executable)
build:
	$(GO) build -o $(BIN)/reprover ./cmd/reprover
	@for t in buildkitd buildctl; do [ ! -x $(TOOLS)/$$t ] || cp $(TOOLS)/$$t $(BIN)/; done

## install: what make demo needs from Debian (runc, CNI plugins, iproute2,
## busybox-static, git) and buildkitd/buildctl at go.mod's version, then
## reprover, buildkitd and buildctl side by side in $(DESTDIR)$(PREFIX)/bin
install:
	CACHE=$(CACHE) bash scripts/tools.sh demo
	$(MAKE) --no-print-directory build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/reprover $(TOOLS)/buildkitd $(TOOLS)/buildctl $(DESTDIR)$(PREFIX)/bin/

## tools: what the tests and the demo need, only what is missing
## (scripts/tools.sh prints one line per tool it installs or builds, nothing
## when all are there): from Debian runc, CNI plugins, iproute2, busybox-static,
## git, postgresql, chromium, mmdebstrap, dpkg-dev and qemu-user-static
## (registered with binfmt_misc for linux/arm64); under .cache/ busybox for
## linux/386 and linux/arm64, a Debian root filesystem and a small apt
## repository (the apt tests); built from the Go module proxy into .cache/bin
## buildkitd/buildctl at go.mod's version, cosign, slsa-verifier and staticcheck
tools: $(TOOLS)/staticcheck
	CACHE=$(CACHE) bash scripts/tools.sh
	CACHE=$(CACHE) bash scripts/tools-slsa.sh

# staticcheck, for make lint, built once into .cache/bin.
$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## test: make tools, go vet, then every test with the race detector (30 min limit)
test: tools
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

## demo: starts a registry on 127.0.0.1 and a buildkitd, publishes a sample
## release built from a git repository, then runs reprover verify on the
## published release (reproducible, exit 0) and on a tampered copy of it (mismatch
## naming the injected file and variable, exit 1); buildkitd's own log goes to a
## file named at the end
demo:
	CACHE=$(CACHE) bash scripts/tools.sh demo
	$(MAKE) --no-print-directory build
	$(GO) run ./fixtures/cmd/demo -reprover $(BIN)/reprover

## bench: compare's throughput against the decompress-and-hash floor (in Go and
## with igzip), a pair sharing all but its last layer against reading only that
## layer, and peak memory; the real pairs (Debian, the Go toolchain and
## /usr/share, re-gzipped or with one file changed) with each decompressor
## against both floors, wall and CPU time, their plot written to
## .cache/bench/performance.svg (docs/performance.md); the large pairs (1 GB /
## 100k files and 10 GB / 1M files a side): time, peak RSS and RSS per 100k
## entries; verify's overhead over the same build with buildctl plus a diff
## (offline, and a Debian release installing with apt through the proxy);
## inspect against one walk of the same image's layers; igzip against Go by
## layer size (what sets auto's threshold); the service API under load
## (req/s, p99); with
## REPROVER_DIFFOCI=/path/to/diffoci, the pairs against diffoci --semantic in
## the same run. Bench data is kept in .cache/bench (about 2 GB more for the
## large pairs, 1 GB for the real ones)
bench: tools
	mkdir -p $(CACHE)/bench
	REPROVER_BENCH_DIR=$(CACHE)/bench REPROVER_BENCH_PLOT=$(CACHE)/bench/performance.svg \
		$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./compare/ ./verify/ ./service/ ./inspect/ ./layer/

## lint: make tools, then gofmt and goimports (imports in three groups: the
## standard library, other modules, this module; each lists the files it would
## change), go vet and staticcheck
lint: tools $(TOOLS)/goimports
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	@files=$$(find . -name '*.go' -not -path './.*' | xargs $(TOOLS)/goimports -l -local $(MODULE)); \
	test -z "$$files" || { echo "goimports -local $(MODULE) needed:"; echo "$$files"; exit 1; }
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

# goimports, for make lint, built once into .cache/bin from golang.org/x/tools
# at the version go.mod requires.
MODULE := github.com/reprover/reprover
GOIMPORTS_VERSION := v0.52.0
$(TOOLS)/goimports:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/tools/cmd/goimports@$(GOIMPORTS_VERSION)

## clean: removes bin/ (not .cache/)
clean:
	rm -rf $(BIN)
