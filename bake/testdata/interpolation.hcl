# Top-level attributes are variables the environment cannot override.
NAME = "api"

variable "VERSION" {
  default = "1.2.3"
}

variable "MAJOR" {
  default = split(".", VERSION)[0]
}

target "default" {
  context    = "services/${NAME}"
  dockerfile = "${NAME}.Dockerfile"
  args = {
    VERSION = "v${VERSION}"
    MAJOR   = "${MAJOR}"
    ESCAPED = "$${NOT_INTERPOLATED}"
    BANNER  = <<-EOT
      ${NAME} ${VERSION}
      EOT
    NUMBER  = 1 + 2
    LIST    = "%{for p in ["a", "b"]}${p};%{endfor}"
  }
  tags = [for t in ["latest", VERSION] : "example.com/${NAME}:${t}"]
}
