#!/usr/bin/env bash
# Builds slsa-verifier, the consumer that checks reprover's verification
# summaries (attest's TestSLSAVerifier), into $CACHE/bin (default .cache/bin)
# from the Go module proxy, once: nothing is rebuilt when the binary is there
# at this version. Prints one line.
#
# `go install …/cli/slsa-verifier@VERSION` is refused here (the proxy will not
# list the module's versions), so it is built inside a writable copy of the
# downloaded module, with its own go.mod (-mod=mod: a go.sum line it lacked
# would be fetched, not refused; v2.7.1's go.sum is complete).
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
src=$CACHE/src/slsa-verifier-$version
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# set -e does not apply inside an if's condition: each step is chained.
build() {
	if [ ! -d "$src" ]; then
		local dir
		dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') &&
			[ -n "$dir" ] &&
			rm -rf "$src.tmp" &&
			cp -r "$dir" "$src.tmp" &&
			chmod -R u+w "$src.tmp" &&
			mv "$src.tmp" "$src" || return 1
	fi
	(cd "$src" && GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath \
		-ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$version" \
		-o "$BIN/slsa-verifier" ./cli/slsa-verifier)
}
if ! build >"$log" 2>&1; then
	cat "$log" >&2
	echo "tools: building slsa-verifier $version failed" >&2
	exit 1
fi
echo "tools: built slsa-verifier $version from the Go module proxy in $((SECONDS - start))s ($BIN/slsa-verifier)"
