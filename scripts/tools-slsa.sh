#!/usr/bin/env bash
# Builds slsa-verifier, the consumer that checks reprover's verification
# summaries (attest's TestSLSAVerifier), into $CACHE/bin (default .cache/bin)
# from the Go module proxy, once: nothing is rebuilt when the binary is there
# at this version. Prints one line.
#
# `go install …/cli/slsa-verifier@VERSION` is refused here (the proxy will not
# list the module's versions), so it is built inside a writable copy of the
# downloaded module; -mod=mod because its go.sum does not cover the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${CACHE:-$PWD/.cache}
BIN=$CACHE/bin
version=v2.7.1
module=github.com/slsa-framework/slsa-verifier/v2
mkdir -p "$BIN" "$CACHE/src"

if [ -x "$BIN/slsa-verifier" ] && "$BIN/slsa-verifier" version 2>/dev/null | grep -q "GitVersion: *$version\$"; then
	echo "tools: slsa-verifier $version ($BIN/slsa-verifier)"
	exit 0
fi
start=$SECONDS
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! {
	dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	src=$CACHE/src/slsa-verifier-$version
	if [ ! -d "$src" ]; then
		rm -rf "$src.tmp"
		cp -r "$dir" "$src.tmp"
		chmod -R u+w "$src.tmp"
		mv "$src.tmp" "$src"
	fi
	(cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath \
		-ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$version" \
		-o "$BIN/slsa-verifier" ./cli/slsa-verifier)
} >"$log" 2>&1; then
	cat "$log" >&2
	echo "tools: building slsa-verifier $version failed" >&2
	exit 1
fi
echo "tools: built slsa-verifier $version from the Go module proxy in $((SECONDS - start))s ($BIN/slsa-verifier)"
