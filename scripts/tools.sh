#!/usr/bin/env bash
# Installs what reprover's tests and demo need, cached under $CACHE (default
# .cache/): Debian packages (runc, CNI plugins, iproute2, busybox-static, git,
# isal, postgresql, chromium, qemu-user-static), and buildkitd and buildctl built
# from the Go module proxy at the BuildKit version pinned in go.mod.
#
# Only what is missing is installed or built: a second run does nothing and
# prints nothing. Each tool it installs or builds is one line; the output of
# apt, mmdebstrap and go is kept and shown only when a step fails (then with
# the first errors of apt-get update, often the cause: a mirror mid-sync).
#
#   tools.sh        everything the tests need (also postgresql, chromium,
#                   busybox for linux/386 and linux/arm64, qemu-user-static,
#                   cosign, and a Debian root filesystem and apt repository
#                   for the apt tests)
#   tools.sh demo   only what make demo needs
set -euo pipefail
MODE=${1:-all}
cd "$(dirname "$0")/.."
CACHE=${CACHE:-$PWD/.cache}
BIN=$CACHE/bin
mkdir -p "$BIN" "$CACHE/src"

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

say() { echo "tools: $*"; }

# errors LOG prints LOG's first error lines (apt's E:, W: and Err:), or its
# last lines when it has none.
errors() {
	if grep -qE '^(E|W|Err|Error|error):' "$1"; then
		grep -m 5 -E '^(E|W|Err|Error|error):' "$1"
	else
		tail -n 5 "$1"
	fi
}

# fail WHAT LOG: the one message of a step that failed, and exit.
fail() {
	{
		echo "tools: $1 failed:"
		errors "$2" | sed 's/^/  /'
		if [ -s "$logs/update" ]; then
			echo "  apt-get update had reported:"
			errors "$logs/update" | sed 's/^/    /'
		fi
	} >&2
	exit 1
}

# apt_update runs apt-get update once per run (again only after an
# architecture was added). An index that fails (a mirror mid-sync, often a
# foreign architecture's) need not stop the steps that need the others: its
# errors are kept for the message of a step that then fails.
updated=
apt_update() {
	[ -z "$updated" ] || return 0
	updated=1
	apt-get update -qq >"$logs/update" 2>&1 || true
}

# What is missing. need: Debian packages, each announced on its own line.
need=()
bare=()
want() { need+=("$1"); say "installing $1 from Debian ($2)"; }
# want_bare: a package installed without its recommended packages.
want_bare() { bare+=("$1"); say "installing $1 from Debian, without its recommends ($2)"; }
command -v runc >/dev/null || want runc "BuildKit's OCI worker"
# CNI plugins: the managed buildkitd's bridge network, which BuildKit's
# capturing proxy (verify --network proxy) needs.
[ -x /usr/lib/cni/bridge ] || want containernetworking-plugins "buildkitd's bridge network"
command -v ip >/dev/null || want iproute2 "buildkitd's bridge network"
[ -x /bin/busybox ] || want busybox-static "the base images of the tests and the demo"
command -v git >/dev/null || want git "the sources verified"
# igzip (ISA-L), compare's faster gzip decompressor; without it compare
# decompresses in Go. Its tests run both.
command -v igzip >/dev/null || want isal "faster gzip decompression (igzip)"
busybox_archs=()
build_rootfs=
build_aptrepo=
build_python=
if [ "$MODE" != demo ]; then
	# PostgreSQL for the service's scale-out and crash tests (fixtures.Postgres
	# runs initdb and postgres from /usr/lib/postgresql/*/bin).
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || want postgresql "the service's PostgreSQL tests"
	# Chromium for the service's page tests (chromedp runs the binary itself,
	# not the /usr/bin/chromium wrapper script).
	[ -x /usr/lib/chromium/chromium ] || want chromium "the service's page tests"
	# mmdebstrap and dpkg-scanpackages for the apt test world (below).
	command -v mmdebstrap >/dev/null || want mmdebstrap "the apt tests' Debian root filesystem"
	command -v dpkg-scanpackages >/dev/null || want dpkg-dev "the apt tests' apt repository"
	# linux/arm64 runs under qemu-user-static, registered with binfmt_misc.
	[ -x /usr/bin/qemu-aarch64-static ] || want qemu-user-static "linux/arm64 builds"
	for arch in i386 arm64; do
		[ -x "$CACHE/busybox-$arch/bin/busybox" ] || busybox_archs+=("$arch")
	done
	[ -s "$CACHE/debian/rootfs.tar" ] || build_rootfs=1
	[ -s "$CACHE/aptrepo/Packages" ] || build_aptrepo=1
	# Python's interpreter, unpacked into a test base image, for the
	# causes tests' bytecode compiled in a build (fixtures.PythonBase).
	compgen -G "$CACHE/python/python3*-minimal_*.deb" >/dev/null || build_python=1
	# diffoscope for verify --diffoscope (its minimal package: the core
	# and the comparators of Debian's base tools; without its recommends,
	# which pull a scientific Python stack).
	command -v diffoscope >/dev/null || want_bare diffoscope-minimal "verify --diffoscope"
fi

# Busybox for other platforms comes from Debian's package of that
# architecture, which apt lists once dpkg knows the architecture.
for arch in "${busybox_archs[@]}"; do
	if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		dpkg --add-architecture "$arch"
	fi
done

if [ ${#need[@]} -gt 0 ]; then
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >"$logs/install" 2>&1 ||
		fail "apt-get install ${need[*]}" "$logs/install"
fi
if [ ${#bare[@]} -gt 0 ]; then
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${bare[@]}" >"$logs/install-bare" 2>&1 ||
		fail "apt-get install --no-install-recommends ${bare[*]}" "$logs/install-bare"
fi

if [ "$MODE" != demo ]; then
	# linux/386 runs natively on amd64 kernels; linux/arm64 under
	# qemu-user-static, registered with binfmt_misc (flag F, so it works
	# inside runc's containers).
	if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
		say "registering qemu-aarch64 with binfmt_misc"
		mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
			echo "tools: cannot mount binfmt_misc: emulated platforms will not build" >&2
		/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf ||
			echo "tools: cannot register qemu-aarch64 with binfmt_misc: linux/arm64 will not build" >&2
	fi
	for arch in "${busybox_archs[@]}"; do
		say "fetching busybox-static:$arch into $CACHE/busybox-$arch"
		apt_update
		rm -rf "$CACHE/debs" && mkdir -p "$CACHE/debs"
		(cd "$CACHE/debs" && apt-get download -qq "busybox-static:$arch") >"$logs/download" 2>&1 ||
			fail "apt-get download busybox-static:$arch" "$logs/download"
		dpkg-deb -x "$CACHE"/debs/busybox-static_*_"$arch".deb "$CACHE/busybox-$arch"
	done
fi

# The apt test world (fixtures.DebianBase, fixtures.AptRepo): a minimal
# Debian root filesystem as a tarball, from the suite and mirror this
# machine's apt uses, merged /usr as debootstrap makes it (not the usrmerge
# package, which pulls perl), no device nodes, fixed timestamps and no apt
# lists, caches or logs;
# and a flat apt repository (deb [trusted=yes] http://HOST:PORT/ ./) of a
# few small packages whose only dependency outside it is libc6.
if [ -n "$build_rootfs" ]; then
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]+/debian' | head -1 || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	say "mmdebstrap $suite (minbase) from $mirror into $CACHE/debian/rootfs.tar"
	mkdir -p "$CACHE/debian"
	rm -f "$CACHE/debian/rootfs.partial.tar"
	SOURCE_DATE_EPOCH=1740830400 mmdebstrap --quiet --mode=root --format=tar --variant=minbase --include=ca-certificates \
		--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --skip=output/dev \
		--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/ldconfig/aux-cache; find "$1"/var/log -type f -delete' \
		"$suite" "$CACHE/debian/rootfs.partial.tar" "deb $mirror $suite main" "deb $mirror $suite-updates main" \
		"deb ${mirror}-security $suite-security main" >"$logs/mmdebstrap" 2>&1 ||
		fail "mmdebstrap $suite" "$logs/mmdebstrap"
	mv "$CACHE/debian/rootfs.partial.tar" "$CACHE/debian/rootfs.tar"
fi
if [ -n "$build_aptrepo" ]; then
	say "apt-get download hello jq into $CACHE/aptrepo"
	apt_update
	rm -rf "$CACHE/aptrepo" && mkdir -p "$CACHE/aptrepo"
	(cd "$CACHE/aptrepo" && apt-get download -qq hello:amd64 jq:amd64 libjq1:amd64 libonig5:amd64 &&
		dpkg-scanpackages . /dev/null >Packages.partial && mv Packages.partial Packages) >"$logs/aptrepo" 2>&1 ||
		fail "the apt repository (apt-get download hello jq)" "$logs/aptrepo"
fi

if [ -n "$build_python" ]; then
	say "apt-get download python3-minimal into $CACHE/python"
	apt_update
	rm -rf "$CACHE/python" && mkdir -p "$CACHE/python"
	# python3-minimal names the interpreter package of this Debian release
	# (python3.11-minimal on bookworm).
	py=$(apt-cache depends python3-minimal 2>/dev/null | sed -n 's/^ *[A-Za-z]*Depends: \(python3\.[0-9]*-minimal\).*/\1/p' | head -1)
	(cd "$CACHE/python" && [ -n "$py" ] && apt-get download -qq "$py:amd64" "lib$py:amd64" libexpat1:amd64) >"$logs/python" 2>&1 ||
		fail "apt-get download ${py:-python3.X-minimal} (Python for the causes tests)" "$logs/python"
fi

version=$(go list -m -f '{{.Version}}' github.com/moby/buildkit)
have=""
[ -x "$BIN/buildkitd" ] && have=$("$BIN/buildkitd" --version 2>/dev/null | awk '{print $3}')
if [ "$have" != "$version" ] || [ ! -x "$BIN/buildctl" ]; then
	say "building buildkitd and buildctl $version from the Go module proxy"
	src=$CACHE/src/buildkit-$version
	# Built inside a copy of the module: `go install pkg@version` refuses
	# modules with replace directives. The version ldflag keeps the daemon
	# from reporting v0.0.0+unknown. set -e does not apply inside the
	# group's condition: each step is chained.
	{
		if [ ! -d "$src" ]; then
			dir=$(go mod download -json "github.com/moby/buildkit@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') &&
				[ -n "$dir" ] &&
				rm -rf "$src.tmp" &&
				cp -r "$dir" "$src.tmp" &&
				chmod -R u+w "$src.tmp" &&
				mv "$src.tmp" "$src"
		fi &&
			(cd "$src" && go build -trimpath \
				-ldflags "-s -w -X github.com/moby/buildkit/version.Version=$version" \
				-o "$BIN/" ./cmd/buildkitd ./cmd/buildctl) &&
			"$BIN/buildkitd" --version
	} >"$logs/buildkit" 2>&1 || fail "building buildkitd $version" "$logs/buildkit"
fi

# cosign, the interoperability check of reprover's attestations.
cosign_version=v2.6.5
if [ "$MODE" != demo ] && { [ ! -x "$BIN/cosign" ] || ! "$BIN/cosign" version 2>/dev/null | grep -q "${cosign_version#v}"; }; then
	say "building cosign $cosign_version from the Go module proxy (a few minutes, once)"
	GOBIN="$BIN" GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$cosign_version" \
		"github.com/sigstore/cosign/v2/cmd/cosign@$cosign_version" >"$logs/cosign" 2>&1 ||
		fail "building cosign $cosign_version" "$logs/cosign"
fi
