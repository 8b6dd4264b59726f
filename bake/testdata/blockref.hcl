target "base" {
  tags = ["a"]
}

target "default" {
  tags = target.base.tags
}
