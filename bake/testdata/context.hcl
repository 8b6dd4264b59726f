target "sub" {
  context    = "./services/api/"
  dockerfile = "build/Dockerfile.prod"
  target     = "runtime"
}

target "abs" {
  context    = "services/api"
  dockerfile = "/src/Dockerfile"
}

target "remote" {
  context    = "https://github.com/docker/buildx.git#v0.38.2"
  dockerfile = "Dockerfile"
}

target "cwd" {
  context    = "cwd://web"
  dockerfile = "cwd://docker/web.Dockerfile"
}

target "empty-dockerfile" {
  context    = "app"
  dockerfile = ""
}
