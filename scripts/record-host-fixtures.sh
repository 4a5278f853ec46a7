#!/usr/bin/env bash
# Records the fixtures of `culprit host` from the real runtime components on this machine into
# Tests/CulpritCoreTests/Fixtures/host/: each component's version command output (as culprit
# runs it: stdin /dev/null, stdout and stderr together, LC_ALL=C), and for the Go binaries the
# raw .go.buildinfo section (objcopy) beside what `go version -m` prints for the whole binary.
# Also the same for Go builds of Tests/CulpritCLITests/HostFixtures/cni-plugins (a stand-in
# module with the real module paths, vendoring netlink v1.3.0, built as the plugins are).
# Reads only; installs nothing. Needs objcopy (binutils) and go (golang-go).
set -euo pipefail
cd "$(dirname "$0")/.."
out=Tests/CulpritCoreTests/Fixtures/host
mkdir -p "$out/versions" "$out/buildinfo"
record() { # name path args...
  local name=$1 path=$2; shift 2
  [ -x "$path" ] || { echo "skip $name: $path not installed" >&2; return 0; }
  env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C HOME=/nonexistent \
    "$path" "$@" </dev/null >"$out/versions/$name.txt" 2>&1 || true
  if go version -m "$path" >"$out/buildinfo/$name.go-version-m.txt" 2>/dev/null && [ -s "$out/buildinfo/$name.go-version-m.txt" ]; then
    objcopy -O binary --only-section=.go.buildinfo "$path" "$out/buildinfo/$name.section" && chmod 644 "$out/buildinfo/$name.section"
  else
    rm -f "$out/buildinfo/$name.go-version-m.txt" "$out/buildinfo/$name.section"
  fi
  echo "$name	$path	$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | cut -d: -f1 | head -1)	$(head -c 200 "$out/versions/$name.txt" | head -1)"
}
{
  echo "# name	path	package	first line"
  record dockerd /usr/sbin/dockerd --version
  record docker-cli-28.2.2 /usr/local/bin/docker --version
  record docker-cli-debian /usr/bin/docker --version
  record containerd /usr/bin/containerd --version
  record containerd-shim-runc-v2 /usr/bin/containerd-shim-runc-v2 -v
  record runc /usr/sbin/runc --version
  record crun /usr/bin/crun --version
  record podman /usr/bin/podman --version
  record conmon /usr/bin/conmon --version
  record cni-loopback-debian /usr/lib/cni/loopback
  work=$(mktemp -d /tmp/c13-host-fixtures.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  cp -r Tests/CulpritCLITests/HostFixtures/cni-plugins "$work/src"
  build() { # name tags ldflags-version
    (cd "$work/src" && GOFLAGS=-mod=vendor GOPROXY=off GOCACHE="$work/cache" GO111MODULE=on \
      go build -tags "$2" ${3:+-ldflags "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$3"} \
      -o "$work/$1" ./plugins/main/loopback)
    record "$1" "$work/$1"
  }
  build cni-loopback-v1.6.0 "" v1.6.0
  build cni-loopback-devel-netlink-1.3.0 "" ""
  build cni-loopback-v1.7.0 netlinksafe v1.7.0
} >"$out/versions/INDEX.tsv"
cat "$out/versions/INDEX.tsv"
