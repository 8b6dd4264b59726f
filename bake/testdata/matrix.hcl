target "app" {
  name = "app-${tgt}"
  matrix = {
    tgt = ["a", "b"]
  }
}
