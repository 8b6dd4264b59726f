# As in buildx, a group naming itself stands for the target of that name.
group "default" {
  targets = ["default"]
}

target "default" {
  context = "self"
}
