variable "TAG" {
  default = "latest"
}

variable "REGISTRY" {
  default = "example.com"
}

variable "PUSH" {
  default = false
}

variable "JOBS" {
  type    = number
  default = 4
}

variable "PLATFORMS" {
  type    = list(string)
  default = ["linux/amd64"]
}

variable "EMPTY" {
}

variable "IMAGE" {
  default = "${REGISTRY}/app"
}

target "default" {
  args = {
    TAG   = TAG
    PUSH  = PUSH
    JOBS  = JOBS
    EMPTY = EMPTY
  }
  platforms = PLATFORMS
  tags      = ["${IMAGE}:${TAG}"]
}
