target "default" {
  args = {
    BUILT = timestamp()
  }
}
