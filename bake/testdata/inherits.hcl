target "_common" {
  args = {
    GO_VERSION = "1.22"
    CGO        = "0"
    UNSET      = null
  }
  platforms  = ["linux/amd64"]
  cache-from = ["type=registry,ref=example.com/cache:common"]
  labels = {
    "org.opencontainers.image.source" = "https://example.com/repo"
  }
}

target "_release" {
  inherits = ["_common"]
  args = {
    GO_VERSION = "1.23"
    RELEASE    = "1"
  }
  platforms = ["linux/amd64", "linux/arm64", "linux/amd64"]
  tags      = ["example.com/app:release"]
}

target "_debug" {
  args = {
    GO_VERSION = "1.21"
    DEBUG      = "1"
  }
  dockerfile = "Dockerfile.debug"
}

# Later inherits win over earlier ones; the target's own attributes win
# over all inherited ones; a null arg does not erase an inherited value.
target "app" {
  inherits   = ["_release", "_debug"]
  dockerfile = "Dockerfile.app"
  args = {
    CGO = null
  }
  cache-from = ["type=registry,ref=example.com/cache:app"]
  cache-to   = ["type=inline"]
  output     = [{ type = "registry" }, "type=docker"]
}
