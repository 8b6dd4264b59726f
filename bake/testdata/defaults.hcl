# The smallest bake file: every field takes buildx's default.
target "default" {
}
