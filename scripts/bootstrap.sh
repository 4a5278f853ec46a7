#!/usr/bin/env bash
# Installs what building and testing culprit need on Debian 12 (run as root; idempotent).
#   libseccomp-dev   libseccomp.a/.so: the what-if mode and the tests' seccomp filters
#   file, util-linux the tests' checks (file, unshare, script)
#   iproute2         network namespaces with loopback up for the DNS tests
#   dnsmasq          a loopback DNS server the DNS tests answer from
#   nftables         the egress tests' router rules (drop, reset, ICMP reject, frag-needed drop)
#   curl, wget       the real clients the egress tests compare culprit with (apt-get is there)
#   runc, docker.io  real containers for the container tests
#   podman, crun, containerd, containernetworking-plugins
#                    `culprit host --containers` against each runtime (containerd's ctr runs
#                    against dockerd's own containerd), `--reproduce cni` against Debian's
#                    loopback plugin (docker.io already pulls containerd; podman pulls crun)
#   debootstrap      a local Debian image (no registry is reachable)
#   python3 jsonschema, pyyaml  validate JSON outputs against the schema, parse the examples
#   curl, strace     real programs `culprit trace` is tested on (and strace -f its benchmark's
#                    reference)
#   qemu-system-x86, apparmor, cpio, gcc  scripts/vm-matrix.sh: a VM of Debian's kernel (Yama,
#                    AppArmor, cgroup v2), apparmor_parser inside it, its initramfs, gt.c
#   and, downloaded (never installed) into /var/tmp/culprit-vm-matrix: Debian's kernel package
#   (the one linux-image-amd64 depends on) and busybox-static, the VM's kernel and shell
#   strace           holds a probe in a system call while a test signals culprit
#   golang-go        Go's encoding/json, the reference for how Docker reads a profile (Tests/go-reference)
#   scripts/bootstrap.sh           everything the tests need
#   scripts/bootstrap.sh --build   only what building and running culprit needs
set -euo pipefail
build_packages=(libseccomp-dev file bc util-linux)
packages=("${build_packages[@]}" iproute2 dnsmasq nftables curl wget runc docker.io debootstrap
  golang-github-containers-common python3 time qemu-system-x86 apparmor cpio gcc libc6-dev golang-go
  strace podman crun containerd containernetworking-plugins)
if [ "${1:-}" = "--build" ]; then
  packages=("${build_packages[@]}")
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Debian's dnsmasq package starts a system-wide server on port 53; the tests start their own
# inside network namespaces, so the system one is not wanted.
if command -v systemctl >/dev/null && systemctl is-active --quiet dnsmasq 2>/dev/null; then
  systemctl stop dnsmasq || true
fi
command -v swift >/dev/null || { echo "bootstrap: swift (6.x) is not on PATH" >&2; exit 1; }
if [ "${1:-}" = "--build" ]; then
  echo "bootstrap: ready to build" >&2
  exit 0
fi
# The VM's kernel and busybox for scripts/vm-matrix.sh, fetched once.
vm_cache=${CULPRIT_VM_WORK:-/var/tmp/culprit-vm-matrix}
mkdir -p "$vm_cache"
apt-cache show linux-image-amd64 >/dev/null 2>&1 || apt-get update -q
kernel_package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
for package in "$kernel_package" busybox-static; do
  ls "$vm_cache/$package"_*.deb >/dev/null 2>&1 || (cd "$vm_cache" && apt-get download -q "$package")
done
python3 -c 'import jsonschema' 2>/dev/null || python3 -m pip install -q jsonschema
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install -q pyyaml
echo "bootstrap: ready" >&2
