# reprover's release image: the static reprover binary on a distroless base.
#
# Build it with `docker buildx bake` (docker-bake.hcl pins the bases by
# digest and gives the module proxy and the version); docs/ci.md has the
# release workflow, and how to verify a published image from the image
# alone: `reprover verify --image IMAGE --network proxy`.
#
# Module downloads: `go build` fetches the modules go.sum names from
# GOPROXY inside the build, through BuildKit's proxy network (the release
# builds with `--network proxy`-style capture and provenance mode=max, so
# every download is a material with its sha256). -mod=readonly refuses any
# module go.sum does not hash, and go checks every download against go.sum,
# so the checksum database is not consulted (GOSUMDB=off: one host fewer
# for the proxy to allow). The vendored alternative was not taken: `go mod
# vendor` would commit every dependency's source into this repository.
ARG GO_IMAGE
ARG RUNTIME_IMAGE

FROM --platform=$BUILDPLATFORM ${GO_IMAGE} AS build
ARG GOPROXY
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
ENV CGO_ENABLED=0 GOFLAGS=-mod=readonly GOTOOLCHAIN=local GOSUMDB=off GOPROXY=${GOPROXY} \
    GOCACHE=/tmp/go-build GOMODCACHE=/tmp/go-mod
WORKDIR /src
COPY . .
RUN GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath -buildvcs=false \
      -ldflags "-s -w -buildid= -X main.version=${VERSION}" -o /out/reprover ./cmd/reprover

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title=reprover org.opencontainers.image.version=${VERSION}
COPY --from=build /out/reprover /usr/local/bin/reprover
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/reprover"]
