variable "VERSION" {
  default = ""
  validation {
    condition     = VERSION != ""
    error_message = "VERSION is required."
  }
}

target "default" {
  args = {
    VERSION = VERSION
  }
}
