#!/usr/bin/env bash
# Records culprit's reader fixtures from real systems: `culprit-testkit capture` run inside each
# one. Needs root, dist/culprit-testkit (scripts/build-static.sh --testkit), and for the
# recipes: runc; dockerd (docker.io); podman; debootstrap; qemu-system-x86, cpio, gcc (static
# glibc) and Debian's kernel package (downloaded, not installed).
#
#   scripts/record-fixtures.sh [--install] [NAME...]      (no NAME: all of them)
#
# Each capture lands in $CULPRIT_FIXTURE_WORK/<name>/ (default /var/tmp/culprit-fixtures) with a
# commands.log of what was run, its date and duration. --install copies root/ and syscalls.json
# (and a runc bundle's config.json) into Tests/CulpritCoreTests/Fixtures/<name>/, where
# PROVENANCE.md (written by hand) says where it came from; update it when re-recording.
#
# Names: host-debian12-hybrid runc-default runc-userns docker-debian-default
#        docker-scratch-capdrop podman-default cgroupv2-qemu (also writes cgroupv2-qemu-hostns
#        and cgroupv2-qemu-unshared from the same boot)
#
# No capture has a network: containers run with --network none or a private network
# namespace, the VM has no network device. Nothing is pulled from a registry: the images are
# built locally (scripts/lib/images.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
here="$repo/scripts"
# shellcheck source=lib/dockerd.sh
source "$here/lib/dockerd.sh"
# shellcheck source=lib/podman.sh
source "$here/lib/podman.sh"
# shellcheck source=lib/images.sh
source "$here/lib/images.sh"

work=${CULPRIT_FIXTURE_WORK:-/var/tmp/culprit-fixtures}
testkit="$repo/dist/culprit-testkit"
install=0
[ "${1:-}" = "--install" ] && { install=1; shift; }
all=(host-debian12-hybrid runc-default runc-userns docker-debian-default docker-scratch-capdrop podman-default cgroupv2-qemu)
names=("$@")
[ ${#names[@]} -eq 0 ] && names=("${all[@]}")
[ -x "$testkit" ] || { echo "no $testkit: run scripts/build-static.sh --testkit" >&2; exit 1; }

log() { echo "$*" >>"$out/commands.log"; echo "+ $*" >&2; }
# Runs and logs a command with its wall time.
timed() {
  log "$*"
  local start=$EPOCHREALTIME status=0
  "$@" || status=$?
  log "  -> exit $status in $(printf '%.2f' "$(echo "$EPOCHREALTIME - $start" | bc)") s"
  return $status
}
fresh() {
  out="$work/$1"
  rm -rf "$out"
  mkdir -p "$out"
  log "# $1 recorded $(date -u +%FT%TZ) on $(uname -srm)"
}

record_host-debian12-hybrid() {
  fresh host-debian12-hybrid
  timed "$testkit" capture "$out/fx"
}

# An OCI bundle from `runc spec`, with the static test kit as its whole rootfs and the output
# directory bind-mounted at /out. $2: extra python editing the config (c).
runc_bundle() {
  local name=$1 edit=${2:-}
  local bundle="$work/bundles/$name"
  rm -rf "$bundle"
  mkdir -p "$bundle/rootfs/proc" "$bundle/rootfs/sys" "$bundle/rootfs/dev" "$bundle/rootfs/out" "$out/out"
  install -m 0755 "$testkit" "$bundle/rootfs/culprit-testkit"
  (cd "$bundle" && runc spec)
  python3 - "$bundle/config.json" "$out/out" <<EOF
import json, sys
path, outdir = sys.argv[1], sys.argv[2]
c = json.load(open(path))
c["process"]["terminal"] = False
c["process"]["args"] = ["/culprit-testkit", "capture", "/out/fx"]
c["mounts"].append({"destination": "/out", "type": "bind", "source": outdir, "options": ["rbind", "rw"]})
$edit
json.dump(c, open(path, "w"), indent=2)
EOF
  cp "$bundle/config.json" "$out/bundle-config.json"
  log "runc --version: $(runc --version | head -1)"
  (cd "$bundle" && timed runc --root "$work/runc-state" run "culprit-fx-$name")
  rm -rf "$bundle"
  mv "$out/out/fx" "$out/fx"
  rmdir "$out/out"
}

record_runc-default() {
  fresh runc-default
  runc_bundle default
}

record_runc-userns() {
  fresh runc-userns
  mkdir -p "$out/out"
  chown 100000:100000 "$out/out"
  runc_bundle userns '
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
}

record_docker-debian-default() {
  fresh docker-debian-default
  timed culprit_dockerd_start
  log "$(culprit_docker version --format 'docker client {{.Client.Version}}, engine {{.Server.Version}}')"
  timed culprit_image_debian docker
  mkdir -p "$out/out"
  install -m 0755 "$testkit" "$out/out/culprit-testkit"
  timed culprit_docker run --rm --network none -v "$out/out:/out" culprit-debian:bookworm /out/culprit-testkit capture /out/fx
  mv "$out/out/fx" "$out/fx"
  rm -rf "$out/out"
}

record_docker-scratch-capdrop() {
  fresh docker-scratch-capdrop
  timed culprit_dockerd_start
  log "$(culprit_docker version --format 'docker client {{.Client.Version}}, engine {{.Server.Version}}')"
  timed culprit_image_scratch culprit-scratch:testkit "$testkit" docker
  mkdir -p "$out/out"
  chown 1000:1000 "$out/out"
  timed culprit_docker run --rm --network none --cap-drop ALL --read-only --user 1000:1000 \
    --pids-limit 64 --memory 64m --cpus 0.5 -v "$out/out:/out" culprit-scratch:testkit /culprit-testkit capture /out/fx
  mv "$out/out/fx" "$out/fx"
  rm -rf "$out/out"
}

record_podman-default() {
  fresh podman-default
  log "$(podman --version)"
  timed culprit_image_debian podman
  mkdir -p "$out/out"
  install -m 0755 "$testkit" "$out/out/culprit-testkit"
  # crun 1.8.1 refuses this hybrid host ("cgroups in hybrid mode not supported"), so runc.
  # Podman's default RLIMIT_NOFILE (1048576) is above the hard limit this machine allows without
  # CAP_SYS_RESOURCE; the nproc value restates Podman's own default (it lowers its own limit to
  # 32768 and passes that on).
  timed culprit_podman run --runtime runc --rm --network none --ulimit nofile=20000:20000 \
    --ulimit nproc=32768:32768 -v "$out/out:/out" culprit-debian:bookworm /out/culprit-testkit capture /out/fx
  mv "$out/out/fx" "$out/fx"
  rm -rf "$out/out"
}

record_cgroupv2-qemu() {
  fresh cgroupv2-qemu
  rm -rf "$work/cgroupv2-qemu-hostns" "$work/cgroupv2-qemu-unshared"
  local vm="$work/vm"
  mkdir -p "$vm"
  # Debian's kernel, unpacked without being installed.
  local package
  package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
  if ! ls "$vm/$package"_*.deb >/dev/null 2>&1; then (cd "$vm" && timed apt-get download "$package"); fi
  rm -rf "$vm/kernel"
  timed dpkg -x "$(ls "$vm/$package"_*.deb)" "$vm/kernel"
  local vmlinuz
  vmlinuz=$(ls "$vm"/kernel/boot/vmlinuz-*)
  log "kernel package: $(basename "$(ls "$vm/$package"_*.deb)")"

  local stage="$vm/initramfs"
  rm -rf "$stage"
  mkdir -p "$stage"/{proc,sys,dev,tmp}
  timed gcc -static -O2 -Wall -o "$stage/init" "$here/qemu-cgroupv2/init.c"
  install -m 0755 "$testkit" "$stage/culprit-testkit"
  (cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1 >"$vm/initramfs.cpio.gz")

  # TCG by default: nested KVM on the machines this was written on hangs in early boot (or
  # fails setting MSRs with -cpu host), and TCG boots this kernel in about 10 s anyway.
  local accel=${CULPRIT_QEMU_ACCEL:-tcg}
  log "qemu: $(qemu-system-x86_64 --version | head -1), accel $accel"
  rm -f "$vm/console.log" "$vm/data.txt"
  timed timeout "${CULPRIT_QEMU_TIMEOUT:-300}" qemu-system-x86_64 -accel "$accel" -m 512 -smp 1 \
    -display none -monitor none -nic none -no-reboot \
    -kernel "$vmlinuz" -initrd "$vm/initramfs.cpio.gz" \
    -append "console=ttyS0 panic=-1 systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all" \
    -serial "file:$vm/console.log" -serial "file:$vm/data.txt"
  cp "$vm/console.log" "$out/console.log"
  python3 - "$vm/data.txt" "$work" <<'EOF'
import base64, os, sys
data, work = sys.argv[1], sys.argv[2]
lines = open(data, encoding="ascii", errors="replace").read().replace("\r", "").split("\n")
assert "CULPRIT-DONE" in lines, "the VM did not finish writing its fixtures"
target = None
names = {"hostns": "cgroupv2-qemu-hostns", "private": "cgroupv2-qemu", "unshared": "cgroupv2-qemu-unshared"}
chunks = {}
for line in lines[lines.index("CULPRIT-BEGIN") + 1 : lines.index("CULPRIT-DONE")]:
    if line.startswith("CULPRIT-FILE "):
        _, path, size = line.split(" ")
        target = path
        chunks[target] = (int(size), [])
    elif line:
        chunks[target][1].append(line)
for path, (size, body) in chunks.items():
    content = base64.b64decode("".join(body))
    assert len(content) == size, (path, size, len(content))
    parts = path.split("/")  # ['', 'tmp', 'fx', variant, ...]
    dest = os.path.join(work, names[parts[3]], "fx", *parts[4:])
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    open(dest, "wb").write(content)
print(f"unpacked {len(chunks)} files", file=sys.stderr)
EOF
  for variant in cgroupv2-qemu-hostns cgroupv2-qemu-unshared; do
    cp "$out/commands.log" "$out/console.log" "$work/$variant/"
  done
}

for name in "${names[@]}"; do
  "record_$name"
done
culprit_dockerd_stop

if [ $install -eq 1 ]; then
  for name in "${names[@]}"; do
    variants=("$name")
    [ "$name" = cgroupv2-qemu ] && variants+=(cgroupv2-qemu-hostns cgroupv2-qemu-unshared)
    for variant in "${variants[@]}"; do
      dest="$repo/Tests/CulpritCoreTests/Fixtures/$variant"
      mkdir -p "$dest"
      rm -rf "$dest/root" "$dest/syscalls.json"
      cp -r "$work/$variant/fx/root" "$work/$variant/fx/syscalls.json" "$dest/"
      [ -f "$work/$variant/bundle-config.json" ] && cp "$work/$variant/bundle-config.json" "$dest/"
      echo "installed $dest" >&2
    done
  done
fi
