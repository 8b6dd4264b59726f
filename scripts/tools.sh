#!/usr/bin/env bash
# Installs what reprover's tests and demo need, cached under $CACHE (default
# .cache/): Debian packages (runc, CNI plugins, busybox-static, git, postgresql, chromium), and
# buildkitd and buildctl built from the Go module proxy at the BuildKit
# version pinned in go.mod. A second run is fast: nothing is rebuilt when the version matches.
#
#   tools.sh        everything the tests need (also postgresql, chromium, a
#                   linux/386 busybox, cosign, and a Debian root filesystem
#                   and apt repository for the apt tests)
#   tools.sh demo   only what make demo needs
set -euo pipefail
MODE=${1:-all}
cd "$(dirname "$0")/.."
CACHE=${CACHE:-$PWD/.cache}
BIN=$CACHE/bin
mkdir -p "$BIN" "$CACHE/src"

need=()
command -v runc >/dev/null || need+=(runc)
# CNI plugins: the managed buildkitd's bridge network, which BuildKit's
# capturing proxy (verify --network proxy) needs.
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v ip >/dev/null || need+=(iproute2)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v git >/dev/null || need+=(git)
# PostgreSQL for the service's scale-out and crash tests (fixtures.Postgres
# runs initdb and postgres from /usr/lib/postgresql/*/bin).
[ "$MODE" = demo ] || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
# Chromium for the service's page tests (chromedp runs the binary itself,
# not the /usr/bin/chromium wrapper script).
[ "$MODE" = demo ] || [ -x /usr/lib/chromium/chromium ] || need+=(chromium)
# mmdebstrap and dpkg-scanpackages for the apt test world (below).
[ "$MODE" = demo ] || command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
[ "$MODE" = demo ] || command -v dpkg-scanpackages >/dev/null || need+=(dpkg-dev)
if [ ${#need[@]} -gt 0 ]; then
	echo "tools: apt-get install ${need[*]}"
	# An index that fails (a mirror mid-sync, often the i386 one added
	# below) need not stop the install of amd64 packages.
	apt-get update -qq || echo "tools: apt-get update reported errors; trying the install anyway"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# Busybox for other platforms: linux/386 runs natively on amd64 kernels;
# linux/arm64 runs under qemu-user-static, registered with binfmt_misc
# (flag F, so it works inside runc's containers).
if [ "$MODE" != demo ]; then
	if [ ! -x /usr/bin/qemu-aarch64-static ]; then
		echo "tools: apt-get install qemu-user-static"
		apt-get update -qq || echo "tools: apt-get update reported errors; trying the install anyway"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
	fi
	if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
		mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc ||
			echo "tools: cannot mount binfmt_misc: emulated platforms will not build"
		/lib/systemd/systemd-binfmt /usr/lib/binfmt.d/qemu-aarch64.conf ||
			echo "tools: cannot register qemu-aarch64 with binfmt_misc"
	fi
	for arch in i386 arm64; do
		bb=$CACHE/busybox-$arch/bin/busybox
		[ -x "$bb" ] && continue
		echo "tools: fetching busybox-static:$arch"
		dpkg --add-architecture "$arch"
		apt-get update -qq || echo "tools: apt-get update reported errors; trying the download anyway"
		rm -rf "$CACHE/debs" && mkdir -p "$CACHE/debs"
		(cd "$CACHE/debs" && apt-get download "busybox-static:$arch")
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
if [ "$MODE" != demo ]; then
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
	mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
		grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]+/debian' | head -1 || true)
	mirror=${mirror:-http://deb.debian.org/debian}
	if [ ! -s "$CACHE/debian/rootfs.tar" ]; then
		echo "tools: mmdebstrap $suite (minbase) from $mirror into $CACHE/debian/rootfs.tar"
		mkdir -p "$CACHE/debian"
		rm -f "$CACHE/debian/rootfs.partial.tar"
		SOURCE_DATE_EPOCH=1740830400 mmdebstrap --quiet --mode=root --format=tar --variant=minbase --include=ca-certificates \
			--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --skip=output/dev \
			--customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/ldconfig/aux-cache; find "$1"/var/log -type f -delete' \
			"$suite" "$CACHE/debian/rootfs.partial.tar" "deb $mirror $suite main" "deb $mirror $suite-updates main" \
			"deb ${mirror}-security $suite-security main"
		mv "$CACHE/debian/rootfs.partial.tar" "$CACHE/debian/rootfs.tar"
	fi
	if [ ! -s "$CACHE/aptrepo/Packages" ]; then
		echo "tools: apt-get download hello jq into $CACHE/aptrepo"
		apt-get update -qq || echo "tools: apt-get update reported errors; trying the download anyway"
		rm -rf "$CACHE/aptrepo" && mkdir -p "$CACHE/aptrepo"
		(cd "$CACHE/aptrepo" && apt-get download -qq hello:amd64 jq:amd64 libjq1:amd64 libonig5:amd64 &&
			dpkg-scanpackages . /dev/null >Packages.partial 2>/dev/null && mv Packages.partial Packages)
	fi
fi

version=$(go list -m -f '{{.Version}}' github.com/moby/buildkit)
have=""
[ -x "$BIN/buildkitd" ] && have=$("$BIN/buildkitd" --version 2>/dev/null | awk '{print $3}')
if [ "$have" != "$version" ] || [ ! -x "$BIN/buildctl" ]; then
	echo "tools: building buildkitd and buildctl $version from the Go module proxy"
	dir=$(go mod download -json "github.com/moby/buildkit@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	src=$CACHE/src/buildkit-$version
	if [ ! -d "$src" ]; then
		rm -rf "$src.tmp"
		cp -r "$dir" "$src.tmp"
		chmod -R u+w "$src.tmp"
		mv "$src.tmp" "$src"
	fi
	# Built inside a copy of the module: `go install pkg@version` refuses
	# modules with replace directives. The version ldflag keeps the daemon
	# from reporting v0.0.0+unknown.
	(cd "$src" && go build -trimpath \
		-ldflags "-s -w -X github.com/moby/buildkit/version.Version=$version" \
		-o "$BIN/" ./cmd/buildkitd ./cmd/buildctl)
fi
"$BIN/buildkitd" --version

# cosign, the interoperability check of reprover's attestations.
cosign_version=v2.6.5
if [ "$MODE" != demo ] && { [ ! -x "$BIN/cosign" ] || ! "$BIN/cosign" version 2>/dev/null | grep -q "${cosign_version#v}"; }; then
	echo "tools: building cosign $cosign_version from the Go module proxy (a few minutes, once)"
	GOBIN="$BIN" GOFLAGS=-buildvcs=false go install -trimpath -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$cosign_version" \
		"github.com/sigstore/cosign/v2/cmd/cosign@$cosign_version"
fi
