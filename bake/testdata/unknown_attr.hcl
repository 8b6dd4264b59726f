# buildx ignores attributes and blocks it does not know, without
# evaluating them (a typo such as contxt silently keeps the default).
target "default" {
  contxt = UNDEFINED_VARIABLE
  future {
    x = 1
  }
}
