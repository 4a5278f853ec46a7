#!/usr/bin/env bash
# Runs dist/culprit on the kernels users have: one QEMU boot (TCG) of Debian's own kernel, with
# cgroup v2 alone, Yama and AppArmor, runs every scenario of scripts/vm-matrix/init.sh (cgroup v2
# pids limits, AppArmor profiles, runc containers, Yama 1, 2 and 3) and checks every verdict and
# the kernel's own answers against scripts/vm-matrix/expect.table.
#
#   scripts/vm-matrix.sh [--install | --install-trace] [--keep]
#
# The ground truth comes from the kernel, not from culprit: scripts/vm-matrix/gt.c (static C,
# no code shared with culprit) makes the same calls and prints the raw answers, and the kernel
# log of each scenario holds Yama's and AppArmor's audit lines. Results come back over the VM's
# second serial port. --install copies each scenario's record (observations, snapshot facts,
# verdict), gt answers and kernel log into Tests/CulpritCoreTests/Fixtures/vm-matrix/, where
# `swift test` judges them again (VMMatrixFixtureTests); the `culprit trace --pid` scenarios
# (trace-expect.table) go to Fixtures/vm-matrix/trace/ (VMMatrixTraceFixtureTests), and
# --install-trace installs only those. --keep leaves the work directory.
#
# Needs root, dist/culprit and dist/culprit-testkit (scripts/build-static.sh --testkit),
# qemu-system-x86, apparmor (apparmor_parser), runc, gcc, cpio, python3 (scripts/bootstrap.sh),
# and Debian's archive for `apt-get download` of the kernel and busybox-static (never installed;
# kept in $CULPRIT_VM_WORK, default /var/tmp/culprit-vm-matrix, between runs). The VM has no
# network device.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
here="$repo/scripts/vm-matrix"
install=0 keep=0
for arg in "$@"; do
  case $arg in
    --install) install=1 ;;
    --install-trace) install=2 ;;
    --keep) keep=1 ;;
    *) echo "usage: scripts/vm-matrix.sh [--install | --install-trace] [--keep]" >&2; exit 2 ;;
  esac
done
for bin in dist/culprit dist/culprit-testkit; do
  [ -x "$bin" ] || { echo "vm-matrix: no $bin: run scripts/build-static.sh --testkit" >&2; exit 1; }
done
for tool in qemu-system-x86_64 apparmor_parser runc gcc cpio python3; do
  command -v "$tool" >/dev/null || { echo "vm-matrix: $tool is missing (scripts/bootstrap.sh installs it)" >&2; exit 1; }
done

cache=${CULPRIT_VM_WORK:-/var/tmp/culprit-vm-matrix}
mkdir -p "$cache"
work=$(mktemp -d "$cache/run.XXXXXX")
cleanup() { [ $keep -eq 1 ] && echo "vm-matrix: work directory kept: $work" >&2 || rm -rf "$work"; }
trap cleanup EXIT
start=$EPOCHREALTIME

# Debian's kernel and a static busybox, downloaded once and unpacked, never installed.
fetch() {
  local package=$1
  if ! ls "$cache/$package"_*.deb >/dev/null 2>&1; then
    (cd "$cache" && apt-get download "$package" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2)
  fi
  ls "$cache/$package"_*.deb | tail -1
}
kernel_package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
kernel_deb=$(fetch "$kernel_package")
busybox_deb=$(fetch busybox-static)
dpkg-deb -x "$kernel_deb" "$work/kernel"
vmlinuz=$(ls "$work"/kernel/boot/vmlinuz-*)

# The initramfs.
stage="$work/initramfs"
mkdir -p "$stage"/{bin,sbin,proc,sys,dev,tmp,run,etc,profiles,bundles,crootfs} "$stage/lib/x86_64-linux-gnu" "$stage/lib64"
dpkg-deb -x "$busybox_deb" "$work/busybox"
install -m 0755 "$work/busybox/bin/busybox" "$stage/bin/busybox"
install -m 0755 "$here/init.sh" "$stage/init"
gcc -static -O2 -Wall -Wno-unused-result -o "$stage/gt" "$here/gt.c"
install -m 0755 dist/culprit "$stage/culprit"
install -m 0755 dist/culprit-testkit "$stage/culprit-testkit"
# apparmor_parser and runc are dynamic: their libraries come along.
install -m 0755 "$(command -v apparmor_parser)" "$stage/sbin/apparmor_parser"
install -m 0755 "$(command -v runc)" "$stage/sbin/runc"
for lib in $(ldd "$(command -v apparmor_parser)" "$(command -v runc)" | awk '/=> \// {print $3}' | sort -u); do
  cp -L "$lib" "$stage/lib/x86_64-linux-gnu/"
done
cp -L /lib64/ld-linux-x86-64.so.2 "$stage/lib64/"
mkdir -p "$stage/etc/apparmor.d"
cp -r /etc/apparmor.d/abi "$stage/etc/apparmor.d/"
cp "$here"/apparmor/* "$stage/profiles/"
# The containers' rootfs and bundles.
mkdir -p "$stage/crootfs"/{bin,proc,sys,dev,tmp,out}
chmod 1777 "$stage/crootfs/tmp"
cp "$stage/bin/busybox" "$stage/crootfs/bin/busybox"
for applet in sh sleep; do ln -s busybox "$stage/crootfs/bin/$applet"; done
cp "$stage/culprit" "$stage/culprit-testkit" "$stage/gt" "$stage/crootfs/"
(cd "$work" && runc spec && mv config.json runc-spec.json)
python3 "$here/bundles.py" "$work/runc-spec.json" "$repo"/Tests/CulpritCoreTests/Fixtures/seccomp-profiles/moby-default-0ec744f4.json \
  "$stage/bundles" >/dev/null
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1 >"$work/initramfs.cpio.gz")
echo "vm-matrix: initramfs $(du -h "$work/initramfs.cpio.gz" | cut -f1), kernel $(basename "$kernel_deb")" >&2

# One boot. TCG: nested KVM on these machines hangs in early boot or fails setting MSRs. It takes
# about 75 s on an idle 2-core machine, 230 s when other builds share it; the timeout allows that.
timeout "${CULPRIT_VM_TIMEOUT:-400}" qemu-system-x86_64 -accel tcg -m 1536 -smp 1 -display none -monitor none \
  -nic none -no-reboot -kernel "$vmlinuz" -initrd "$work/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1 cgroup_no_v1=all systemd.unified_cgroup_hierarchy=1 apparmor=1 security=apparmor" \
  -serial "file:$work/console.log" -serial "file:$work/data.txt" || {
  echo "vm-matrix: qemu failed or timed out; the console's last lines:" >&2
  tail -20 "$work/console.log" >&2
  exit 1
}
mkdir -p "$work/out"
python3 - "$work/data.txt" "$work/out" <<'PY'
import base64, io, sys, tarfile
text = open(sys.argv[1], encoding="ascii", errors="replace").read().replace("\r", "")
if "CULPRIT-DONE" not in text:
    sys.exit("vm-matrix: the VM did not finish writing its results")
body = text.split("CULPRIT-BEGIN\n", 1)[1].split("CULPRIT-DONE", 1)[0]
tarfile.open(fileobj=io.BytesIO(base64.b64decode(body)), mode="r:gz").extractall(sys.argv[2])
PY
cp "$work/console.log" "$work/out/console.log"
boot=$(printf '%.0f' "$(echo "$EPOCHREALTIME - $start" | bc)")
echo "vm-matrix: VM done in ${boot} s (download, staging and boot)" >&2

status=0
python3 "$here/check.py" "$here/expect.table" "$here/trace-expect.table" "$work/out" || status=$?

dest="$repo/Tests/CulpritCoreTests/Fixtures/vm-matrix"
if [ $install -ge 1 ]; then
  # `culprit trace` scenarios (trace-expect.table) have their own directory.
  rm -rf "$dest/trace"
  for dir in "$work"/out/*/; do
    [ -f "$dir/trace.json" ] || continue
    name=$(basename "$dir")
    mkdir -p "$dest/trace/$name"
    for f in trace.json trace.txt kernel.log setup.txt; do
      [ -f "$dir/$f" ] && cp "$dir/$f" "$dest/trace/$name/"
    done
  done
  echo "recorded $(date -u +%FT%TZ) by scripts/vm-matrix.sh at commit $(git rev-parse --short HEAD); kernel package $(basename "$kernel_deb"); $(qemu-system-x86_64 --version | head -1); host $(uname -sr)" >"$dest/trace/recorded.txt"
  echo "vm-matrix: installed $dest/trace" >&2
fi
if [ $install -eq 1 ]; then
  rm -rf "$dest/scenarios"
  mkdir -p "$dest/scenarios"
  for dir in "$work"/out/*/; do
    [ -f "$dir/trace.json" ] && continue
    name=$(basename "$dir")
    mkdir -p "$dest/scenarios/$name"
    for f in record.json culprit.txt gt.txt kernel.log setup.txt bundle-config.json; do
      [ -f "$dir/$f" ] && cp "$dir/$f" "$dest/scenarios/$name/"
    done
  done
  cp "$work/out/console.log" "$dest/console.log"
  cp "$work/out/boot.log" "$dest/boot.log"
  echo "recorded $(date -u +%FT%TZ) by scripts/vm-matrix.sh at commit $(git rev-parse --short HEAD); kernel package $(basename "$kernel_deb"); $(qemu-system-x86_64 --version | head -1); $(runc --version | head -1); host $(uname -sr)" >"$dest/recorded.txt"
  echo "vm-matrix: installed $dest" >&2
fi
exit $status
