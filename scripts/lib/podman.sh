# shellcheck shell=bash
# Podman (root) with its own storage and state under /var/tmp, the cgroupfs manager (no systemd
# on the test machines) and file events, so that it touches nothing of a system Podman.
# Source this file, then use `culprit_podman ARGS...` as `podman ARGS...`;
# `culprit_podman_clean` removes the containers it left.
#
# Settings: CULPRIT_PODMAN_ROOT (default /var/tmp/culprit-podman).

CULPRIT_PODMAN_ROOT=${CULPRIT_PODMAN_ROOT:-/var/tmp/culprit-podman}

culprit_podman() {
  mkdir -p "$CULPRIT_PODMAN_ROOT/storage" "$CULPRIT_PODMAN_ROOT/run" "$CULPRIT_PODMAN_ROOT/tmp"
  podman \
    --root "$CULPRIT_PODMAN_ROOT/storage" \
    --runroot "$CULPRIT_PODMAN_ROOT/run" \
    --tmpdir "$CULPRIT_PODMAN_ROOT/tmp" \
    --cgroup-manager cgroupfs \
    --events-backend file \
    "$@"
}

culprit_podman_clean() {
  culprit_podman rm --all --force >/dev/null 2>&1 || true
  culprit_podman unmount --all >/dev/null 2>&1 || true
}
