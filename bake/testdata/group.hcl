group "default" {
  targets = ["all"]
}

group "all" {
  targets = ["app"]
}

target "app" {
  context = "app"
}

target "other" {
  context = "other"
}
