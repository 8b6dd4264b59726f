target "default" {
  secret   = ["id=token,env=TOKEN"]
  ssh      = ["default"]
  no-cache = true
  contexts = {
    base = "docker-image://alpine:3.20"
  }
  dockerfile-inline = "FROM base\n"
}
