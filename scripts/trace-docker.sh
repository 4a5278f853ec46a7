#!/usr/bin/env bash
# `culprit trace` in real Docker containers (Debian's docker.io, the private dockerd of
# scripts/lib/dockerd.sh): dist/culprit bind-mounted into the local Debian image, run with
# Docker's defaults (its seccomp profile, 14 capabilities, its device rules) and --network none,
# tracing programs from the image. Checks the layer of the failure that mattered in each case:
#   mknod-cat   sh -c 'mknod N c 1 1 && cat N'   cat's open: cgroup-devices (EPERM; 1:1 is
#                                                in no allow rule, unlike /dev/full's 1:7)
#   mount       mount -t tmpfs none /mnt         mount: seccomp (Docker's profile refuses mount
#                                                without CAP_SYS_ADMIN before the kernel's
#                                                capability check could)
#   connect     bash -c 'echo > /dev/tcp/127.0.0.1/9'   connect: network (ECONNREFUSED)
# Exits 1 on a wrong verdict. Needs root, docker.io, debootstrap (scripts/bootstrap.sh).
#   scripts/trace-docker.sh [--keep DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=lib/dockerd.sh
source scripts/lib/dockerd.sh
# shellcheck source=lib/images.sh
source scripts/lib/images.sh
keep=""
[ "${1:-}" = "--keep" ] && keep=${2:?--keep needs a directory}
[ -x dist/culprit ] || scripts/build-static.sh >/dev/null
started_here=0
if ! _culprit_dockerd_pid >/dev/null; then started_here=1; fi
culprit_dockerd_start
out=$(mktemp -d /var/tmp/culprit-c12-trace.XXXXXX)
cleanup() {
  rm -rf "$out"
  [ $started_here = 1 ] && culprit_dockerd_stop
  return 0
}
trap cleanup EXIT
culprit_image_debian docker
image=culprit-debian:$CULPRIT_DEBIAN_SUITE

failed=0
check() {
  local name=$1 layer=$2 syscall=$3; shift 3
  local status=0
  culprit_docker run --rm --network none -v "$PWD/dist/culprit:/culprit:ro" -v "$out:/out" "$image" \
    /culprit trace --format json --output "/out/$name.json" -- "$@" >/dev/null 2>&1 || status=$?
  if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp "$out/$name.json" "$keep/" 2>/dev/null || true
    culprit_docker run --rm --network none -v "$PWD/dist/culprit:/culprit:ro" -v "$keep:/out" "$image" \
      /culprit trace --output "/out/$name.txt" -- "$@" >/dev/null 2>&1 || true
  fi
  if python3 - "$out/$name.json" "$layer" "$syscall" "$status" <<'PY'
import json, sys
path, layer, syscall, status = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
trace = json.load(open(path))["trace"]
m = trace["findings"][trace["mattered"]] if trace["mattered"] is not None else None
ok = m is not None and m["layer"] == layer and m["syscall"] == syscall and trace["exitStatus"] == status
print(f"  {'ok  ' if ok else 'FAIL'} {path.rsplit('/', 1)[-1]:14} exit {status}: "
      + (f"{m['syscall']} {m['errno']} -> {m['layer']} ({(m['seccomp'] or {}).get('method')}): {m['reason']}" if m else "no failure named"))
sys.exit(0 if ok else 1)
PY
  then :; else failed=1; fi
}

echo "culprit trace in Docker $(culprit_docker version --format '{{.Server.Version}}') ($image, default profile, --network none)"
check mknod-cat cgroup-devices openat /bin/sh -c 'mknod /tmp/mem c 1 1 && cat /tmp/mem'
check mount seccomp mount /bin/mount -t tmpfs none /mnt
check connect network connect /bin/bash -c 'echo > /dev/tcp/127.0.0.1/9'
exit $failed
