# reprover's release: `docker buildx bake` with the variables below.
# docs/ci.md has the workflow that runs it on a tag, and the command that
# verifies the published image from the image alone.

# Bases, pinned by digest (scripts/pin-bases.sh prints fresh pins for the
# tags named here).
variable "GO_IMAGE" {
  default = "docker.io/library/golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107"
}
variable "RUNTIME_IMAGE" {
  default = "gcr.io/distroless/static-debian12@sha256:9c346e4be81b5ca7ff31a0d89eaeade58b0f95cfd3baed1f36083ddb47ca3160"
}

# Where `go build` fetches the modules go.sum names.
variable "GOPROXY" {
  default = "https://proxy.golang.org"
}

# The release's version (the tag), stamped into the binary.
variable "VERSION" {
  default = "dev"
}

variable "IMAGE" {
  default = "ghcr.io/reprover/reprover"
}

variable "PLATFORMS" {
  type    = list(string)
  default = ["linux/amd64", "linux/arm64"]
}

target "release" {
  context    = "."
  dockerfile = "Dockerfile"
  args = {
    GO_IMAGE      = GO_IMAGE
    RUNTIME_IMAGE = RUNTIME_IMAGE
    GOPROXY       = GOPROXY
    VERSION       = VERSION
  }
  platforms = PLATFORMS
  tags      = ["${IMAGE}:${VERSION}"]
  attest = ["type=provenance,mode=max"]
  output = ["type=image,push=true,oci-mediatypes=true,rewrite-timestamp=true"]
}

group "default" {
  targets = ["release"]
}
