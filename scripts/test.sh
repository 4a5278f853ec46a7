#!/usr/bin/env bash
# Runs every test: the unit, golden and live tests against the debug build (swift test), then
# the command-line and live tests again against the static binary that ships (dist/culprit),
# then that binary in real containers (scripts/container-matrix.sh) and on Debian's own kernel in
# a VM with cgroup v2, Yama and AppArmor (scripts/vm-matrix.sh).
# Needs root (cgroups, namespaces, seccomp) and scripts/bootstrap.sh's packages.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== swift test (debug build)"
swift build --build-tests
swift test

echo "== static binary"
scripts/build-static.sh --testkit
echo "== command-line and live tests against dist/culprit"
CULPRIT_BIN="$PWD/dist/culprit" CULPRIT_TESTKIT_BIN="$PWD/dist/culprit-testkit" \
  swift test --skip-build --filter CulpritCLITests

echo "== dist/culprit in real containers (runc, Docker)"
scripts/container-matrix.sh
echo "== the exact seccomp map in real Docker vs culprit profile check"
scripts/profile-live-check.sh
echo "== dist/culprit on Debian's kernel in QEMU (cgroup v2, Yama, AppArmor, runc containers)"
scripts/vm-matrix.sh
echo "== all tests passed"
