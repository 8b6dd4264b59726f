#!/bin/sh
# pin-bases.sh prints docker-bake.hcl's base image variables pinned to the
# digests their tags name today, for a maintainer to paste (and review) in
# docker-bake.hcl. It asks the registries with crane, from the same
# go-containerregistry version as go.mod.
#
#   scripts/pin-bases.sh [GO_TAG [RUNTIME_TAG]]
set -eu
go_tag=${1:-docker.io/library/golang:1.26.8-bookworm}
runtime_tag=${2:-gcr.io/distroless/static-debian12:latest}
cd "$(dirname "$0")/.."
version=$(go list -m -f '{{.Version}}' github.com/google/go-containerregistry)
crane() { go run "github.com/google/go-containerregistry/cmd/crane@$version" "$@"; }
for pair in "GO_IMAGE $go_tag" "RUNTIME_IMAGE $runtime_tag"; do
	set -- $pair
	digest=$(crane digest "$2")
	printf 'variable "%s" {\n  default = "%s@%s"\n}\n' "$1" "$2" "$digest"
done
