target "default" {
  inherits = ["missing"]
}
