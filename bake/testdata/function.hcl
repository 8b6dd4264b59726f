function "tag" {
  params = [name]
  result = "example.com/${name}"
}

target "default" {
  tags = [tag("app")]
}
