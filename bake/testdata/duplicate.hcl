# buildx merges blocks that share a target name, later attributes winning.
target "default" {
  context = "one"
  args = {
    A = "1"
    B = "1"
  }
}

target "default" {
  dockerfile = "Dockerfile.two"
  args = {
    B = "2"
  }
}
