group "default" {
  targets = ["app", "worker"]
}

target "app" {
}

target "worker" {
}
