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

## install: reprover, buildkitd and buildctl side by side in $(PREFIX)/bin
install:
	CACHE=$(CACHE) bash scripts/tools.sh demo
	$(MAKE) --no-print-directory build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN)/reprover $(TOOLS)/buildkitd $(TOOLS)/buildctl $(DESTDIR)$(PREFIX)/bin/

## tools: what the tests and the demo need (cached under .cache/): runc,
## busybox-static, git, postgresql and chromium from Debian, buildkitd/buildctl at go.mod's version
tools: $(TOOLS)/staticcheck
	CACHE=$(CACHE) bash scripts/tools.sh
	CACHE=$(CACHE) bash scripts/tools-slsa.sh

$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

## test: every test, with the race detector
test: tools
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 30m ./...

## demo: a registry, two images an auditor should tell apart, reprover diff on them
demo:
	CACHE=$(CACHE) bash scripts/tools.sh demo
	$(MAKE) --no-print-directory build
	$(GO) run ./fixtures/cmd/demo -reprover $(BIN)/reprover

## bench: compare throughput against the decompress-and-hash floor, and peak memory;
## the service API under load (req/s, p99)
bench: tools
	mkdir -p $(CACHE)/bench
	REPROVER_BENCH_DIR=$(CACHE)/bench $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./compare/ ./verify/ ./service/

lint: tools
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...

clean:
	rm -rf $(BIN)
