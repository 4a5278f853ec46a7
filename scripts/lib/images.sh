# shellcheck shell=bash
# Local container images for culprit's tests and fixtures, built from Debian's mirror and the
# static test kit, never pulled from a registry. Each is made once and cached under
# CULPRIT_IMAGE_CACHE (default /var/tmp/culprit-images): the root filesystem tarball is kept, so
# a fresh engine only needs an import. Source scripts/lib/dockerd.sh (docker) or
# scripts/lib/podman.sh (podman) first.
#
#   culprit_debian_rootfs_tar         prints the path of a Debian bookworm minbase rootfs tarball
#                                     (debootstrap on first use)
#   culprit_image_debian [ENGINE]     imports it as culprit-debian:bookworm into ENGINE (docker,
#                                     the default, through culprit_docker; or podman, through
#                                     culprit_podman) unless it is there already
#   culprit_debian_trace_rootfs_tar   prints the path of that rootfs plus Debian's curl,
#                                     python3-minimal and strace (the programs `culprit trace` is
#                                     tested on in containers): the .debs the minbase lacks are
#                                     fetched by this machine's apt (same suite) and installed
#                                     offline in a chroot; debootstrap --include= elsewhere
#   culprit_image_debian_trace [ENGINE]
#                                     imports it as culprit-debian-trace:bookworm
#   culprit_scratch_tar BINARY...     prints the path of a tarball holding only these static
#                                     binaries at /, plus empty /out, /tmp, /proc, /sys, /dev
#   culprit_image_scratch TAG BINARY... [ENGINE]
#                                     imports that tarball as TAG (re-imported when the binaries change)
#
# Settings: CULPRIT_DEBIAN_MIRROR (default: the first deb.debian.org/debian URI apt uses here),
# CULPRIT_DEBIAN_SUITE (bookworm).

CULPRIT_IMAGE_CACHE=${CULPRIT_IMAGE_CACHE:-/var/tmp/culprit-images}
CULPRIT_DEBIAN_SUITE=${CULPRIT_DEBIAN_SUITE:-bookworm}

_culprit_apt_mirror() {
  local uri
  uri=$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
    | grep -oE 'https?://[^ ]+/debian' | grep -v security | head -1)
  echo "${uri:-http://deb.debian.org/debian}"
}

_culprit_engine() {
  case "${1:-docker}" in
    docker) culprit_docker "${@:2}" ;;
    podman) culprit_podman "${@:2}" ;;
    *) echo "unknown engine $1" >&2; return 2 ;;
  esac
}

culprit_debian_rootfs_tar() {
  local tar="$CULPRIT_IMAGE_CACHE/debian-$CULPRIT_DEBIAN_SUITE-minbase.tar"
  if [ ! -s "$tar" ]; then
    local dir="$CULPRIT_IMAGE_CACHE/debian-$CULPRIT_DEBIAN_SUITE-minbase"
    local mirror=${CULPRIT_DEBIAN_MIRROR:-$(_culprit_apt_mirror)}
    mkdir -p "$CULPRIT_IMAGE_CACHE"
    rm -rf "$dir"
    echo "debootstrap --variant=minbase $CULPRIT_DEBIAN_SUITE $dir $mirror" >&2
    debootstrap --variant=minbase "$CULPRIT_DEBIAN_SUITE" "$dir" "$mirror" >&2 || return 1
    # The package cache and lists are not part of an image. Nor is the copy of this machine's
    # resolv.conf that debootstrap leaves (its nameserver must never be asked from a container):
    # engines mount their own, and a runc bundle must bring one.
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
    : >"$dir/etc/resolv.conf"
    tar --numeric-owner -C "$dir" -cf "$tar.partial" . && mv "$tar.partial" "$tar" || return 1
    rm -rf "$dir"
  fi
  echo "$tar"
}

# _culprit_import_once ENGINE IMAGE TAR_FUNCTION: imports the tarball TAR_FUNCTION prints as
# IMAGE into ENGINE unless the image is there already.
_culprit_import_once() {
  local engine=$1 image=$2 tar
  if _culprit_engine "$engine" image inspect "$image" >/dev/null 2>&1; then return 0; fi
  tar=$("$3") || return 1
  _culprit_engine "$engine" import "$tar" "$image" >/dev/null
}

culprit_image_debian() {
  _culprit_import_once "${1:-docker}" "culprit-debian:$CULPRIT_DEBIAN_SUITE" culprit_debian_rootfs_tar
}

CULPRIT_DEBIAN_TRACE_PACKAGES=${CULPRIT_DEBIAN_TRACE_PACKAGES:-curl python3-minimal strace}

culprit_debian_trace_rootfs_tar() {
  local tar="$CULPRIT_IMAGE_CACHE/debian-$CULPRIT_DEBIAN_SUITE-trace.tar"
  if [ ! -s "$tar" ]; then
    local dir="$CULPRIT_IMAGE_CACHE/debian-$CULPRIT_DEBIAN_SUITE-trace"
    local packages
    read -r -a packages <<<"$CULPRIT_DEBIAN_TRACE_PACKAGES"
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(. /etc/os-release 2>/dev/null; echo "${VERSION_CODENAME:-}")" = "$CULPRIT_DEBIAN_SUITE" ]; then
      # This machine's apt knows the same suite: layer the packages on the cached minbase (a few
      # seconds) instead of a second debootstrap. apt resolves against the rootfs's dpkg status,
      # downloads into its archive cache, and apt inside the chroot installs those files in
      # dependency order without any network.
      local base
      base=$(culprit_debian_rootfs_tar) || return 1
      tar -C "$dir" -xf "$base" || return 1
      mkdir -p "$dir/var/cache/apt/archives/partial"
      local fetch=(apt-get install -qq --download-only --no-install-recommends
        -o Dir::State::status="$dir/var/lib/dpkg/status" -o Dir::Cache::archives="$dir/var/cache/apt/archives"
        "${packages[@]}")
      # Stale or missing package lists: update them once and try again.
      "${fetch[@]}" >&2 || { apt-get update -q >&2 && "${fetch[@]}" >&2; } || return 1
      local debs
      debs=$(cd "$dir/var/cache/apt/archives" && ls ./*.deb | sed 's|^\./|/var/cache/apt/archives/|')
      # shellcheck disable=SC2086
      DEBIAN_FRONTEND=noninteractive chroot "$dir" apt-get install -y -qq --no-install-recommends \
        --no-download $debs >"$dir.log" 2>&1 || { cat "$dir.log" >&2; rm -f "$dir.log"; return 1; }
      rm -f "$dir.log"
    else
      local mirror=${CULPRIT_DEBIAN_MIRROR:-$(_culprit_apt_mirror)}
      local include
      include=$(echo "${packages[@]}" | tr ' ' ,)
      echo "debootstrap --variant=minbase --include=$include $CULPRIT_DEBIAN_SUITE $dir $mirror" >&2
      debootstrap --variant=minbase --include="$include" "$CULPRIT_DEBIAN_SUITE" "$dir" "$mirror" >&2 || return 1
    fi
    rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/archives/partial "$dir"/var/cache/apt/archives/lock \
      "$dir"/var/lib/apt/lists/*
    : >"$dir/etc/resolv.conf"
    tar --numeric-owner -C "$dir" -cf "$tar.partial" . && mv "$tar.partial" "$tar" || return 1
    rm -rf "$dir"
  fi
  echo "$tar"
}

culprit_image_debian_trace() {
  _culprit_import_once "${1:-docker}" "culprit-debian-trace:$CULPRIT_DEBIAN_SUITE" culprit_debian_trace_rootfs_tar
}

culprit_scratch_tar() {
  local stage="$CULPRIT_IMAGE_CACHE/scratch-stage.$$"
  rm -rf "$stage"
  mkdir -p "$stage/out" "$stage/tmp" "$stage/proc" "$stage/sys" "$stage/dev" "$stage/etc"
  chmod 1777 "$stage/tmp"
  local bin
  for bin in "$@"; do install -m 0755 "$bin" "$stage/"; done
  local sum
  sum=$(cat "$@" | sha256sum | cut -c1-16)
  local tar="$CULPRIT_IMAGE_CACHE/scratch-$sum.tar"
  [ -s "$tar" ] || tar --numeric-owner --owner=0 --group=0 -C "$stage" -cf "$tar" .
  rm -rf "$stage"
  echo "$tar"
}

culprit_image_scratch() {
  local tag=$1; shift
  local engine=docker
  case "${*: -1}" in docker|podman) engine=${*: -1}; set -- "${@:1:$#-1}" ;; esac
  local tar
  tar=$(culprit_scratch_tar "$@") || return 1
  local label
  label=$(basename "$tar" .tar)
  # The tarball's checksum is in its name; re-import only when the binaries changed.
  if [ "$(_culprit_engine "$engine" image inspect --format '{{.Comment}}' "$tag" 2>/dev/null)" = "$label" ]; then
    return 0
  fi
  _culprit_engine "$engine" import --message "$label" "$tar" "$tag" >/dev/null
}
