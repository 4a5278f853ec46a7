#!/usr/bin/env bash
# Runs the static binary (dist/culprit) in real containers and checks every probe's verdict
# against scripts/container-matrix.table: runc 1.1.5 directly (OCI bundles from `runc spec`),
# and Docker's engine (Debian's docker.io, a private dockerd from scripts/lib/dockerd.sh) under
# the configurations users meet. Prints the configuration x probe table and the wall time;
# exits 1 on any wrong verdict (or a configuration that could not run).
#
#   scripts/container-matrix.sh [--keep DIR] [CONFIG...]     (no CONFIG: every one in the table)
#   scripts/container-matrix.sh --list
#
# --keep DIR also saves, per configuration, the text and Markdown reports (DIR/CONFIG.txt,
# CONFIG.md) besides the JSON (CONFIG.json), the commands that made them (CONFIG.cmd), and the
# walkthrough's `culprit diff` of docker-no-clone3 (before) and docker-clone3-enosys (after) as
# walkthrough-diff.txt and walkthrough-diff.md. Without --keep, the JSON goes to a temporary
# directory that is removed at the end.
#
# Configurations (the table says what each must give, probe by probe):
#   runc-scratch          `runc spec` as is: the binary alone as rootfs, its own network namespace
#                         (lo only), an /etc/resolv.conf of ours naming 127.0.0.1 (nothing listens)
#   runc-debian           the debootstrapped Debian rootfs, `runc spec` as is, in a network namespace
#                         with a dnsmasq on 127.0.0.1 that answers test.culprit, our resolv.conf and hosts
#   runc-userns           runc-scratch plus a user namespace (0 -> 100000, 65536 ids)
#   docker-default        Debian image, Docker's defaults (its built-in seccomp profile, 14 caps)
#   docker-scratch        the Dockerfile.test image (FROM scratch: the binary alone)
#   docker-cap-drop-all   --cap-drop ALL
#   docker-user           --user 1000:1000
#   docker-cap-add-sys-admin   --cap-add SYS_ADMIN (Docker's profile then allows clone3, mount, ...)
#   docker-cap-add-sys-ptrace  --cap-add SYS_PTRACE (the usual advice for debuggers)
#   docker-read-only      --read-only
#   docker-read-only-tmpfs  --read-only with the mknod hint applied: --tmpfs /scratch:dev, TMPDIR
#   docker-pids-1 / -2 / -4   --pids-limit 1, 2, 4
#   docker-unconfined     --security-opt seccomp=unconfined
#   docker-no-clone3      moby's default.json without its clone3 rule (EPERM default, calls
#                         above 435 named, so runc's stub does not cover clone3): Docker
#                         20.10.0-20.10.9; run with docker cp + docker exec and a loopback dnsmasq
#   docker-clone3-enosys  the same profile with the entry the thread hint gives; same flow
#   docker-old-profile    moby's default.json without any call numbered 435 or above: runc's
#                         -ENOSYS stub answers clone3
#   docker-ptrace-kill    moby's default.json with ptrace -> SCMP_ACT_KILL_PROCESS
#   docker-exec           `docker cp` + `docker exec` into a running Debian container (sleep
#                         infinity), default profile, a dnsmasq in its network namespace
#   docker-privileged-like  --cap-add ALL --cap-drop SYS_RESOURCE, seccomp unconfined, every
#                         device allowed by --device-cgroup-rule (plain --privileged cannot start
#                         here: this machine's bounding set lacks CAP_SYS_RESOURCE)
#
# Network: every container has no network but loopback. Docker's run on --network none; runc's
# get a network namespace of their own. The DNS configurations point /etc/resolv.conf at
# 127.0.0.1 in the container's own network namespace, where the script starts a dnsmasq
# (nsenter into the container's namespace, or a namespace made with unshare -n for runc). With
# --network none Docker copies the host's resolv.conf; with no route, the probe's query gets
# ENETUNREACH and no packet is sent.
#
# Needs root and scripts/bootstrap.sh's packages (runc, docker.io, debootstrap, dnsmasq,
# iproute2, util-linux, python3). Builds dist/culprit (scripts/build-static.sh) when missing.
# Images are built locally and cached (scripts/lib/images.sh, CULPRIT_IMAGE_CACHE). Removes
# every container, bundle, runc state and dnsmasq it made, and stops the dockerd it started.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# shellcheck source=lib/dockerd.sh
source scripts/lib/dockerd.sh
# shellcheck source=lib/images.sh
source scripts/lib/images.sh
table=scripts/container-matrix.table
helper=(python3 scripts/lib/container_matrix.py)
started=$EPOCHREALTIME

keep=""
selected=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep) keep=${2:?--keep needs a directory}; shift 2 ;;
    --list) "${helper[@]}" configs "$table"; exit 0 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) echo "container-matrix: unknown option $1" >&2; exit 2 ;;
    *) selected+=("$1"); shift ;;
  esac
done
mapfile -t all < <("${helper[@]}" configs "$table")
[ ${#selected[@]} -gt 0 ] || selected=("${all[@]}")

[ "$(id -u)" = 0 ] || { echo "container-matrix: needs root" >&2; exit 2; }
for tool in runc dockerd "$CULPRIT_DOCKER_CLI" dnsmasq nsenter unshare ip debootstrap python3 timeout; do
  command -v "$tool" >/dev/null || { echo "container-matrix: $tool is missing (scripts/bootstrap.sh installs it)" >&2; exit 2; }
done
if [ ! -x dist/culprit ]; then
  echo "== dist/culprit is missing: scripts/build-static.sh"
  scripts/build-static.sh
fi

work=$(mktemp -d /var/tmp/culprit-matrix.XXXXXX)
# Traversable by a user namespace's root (host uid 100000), which runc-userns's rootfs needs.
chmod 0755 "$work"
out=${keep:-$work/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
runc_root=$work/runc-state
# The seccomp profiles given to Docker: kept with the reports under --keep, so that the
# commands in CONFIG.cmd can be run again as they are.
profiles=$([ -n "$keep" ] && echo "$out/profiles" || echo "$work/profiles")
dnsmasq_pidfiles=()
docker_started=0
containers=()

cleanup() {
  local status=$?
  set +e
  for name in "${containers[@]}"; do culprit_docker rm -f "$name" >/dev/null 2>&1; done
  for id in $(runc --root "$runc_root" list -q 2>/dev/null); do runc --root "$runc_root" delete -f "$id" >/dev/null 2>&1; done
  for pidfile in "${dnsmasq_pidfiles[@]}"; do
    [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null
  done
  [ $docker_started = 1 ] && culprit_dockerd_stop
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Seconds since $1 (an $EPOCHREALTIME), with one decimal.
elapsed() {
  local us=$(( ${EPOCHREALTIME/./} - ${1/./} ))
  printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

# --- Shared pieces -------------------------------------------------------------------------

# A loopback resolver configuration: dnsmasq on 127.0.0.1 answers test.culprit (127.0.0.42).
printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' >"$work/resolv.conf"
printf '127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n' >"$work/hosts"

# Starts a dnsmasq on 127.0.0.1 in the network namespace of process $1 (nothing else listens
# or is reachable there). Its pid file goes on the cleanup list.
dnsmasq_in() {
  local pid=$1 pidfile
  pidfile=$(mktemp "$work/dnsmasq.XXXXXX.pid")
  dnsmasq_pidfiles+=("$pidfile")
  nsenter --net="/proc/$pid/ns/net" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts \
    --listen-address=127.0.0.1 --bind-interfaces --address=/test.culprit/127.0.0.42 \
    --pid-file="$pidfile" --user=root
}

# Stops the dnsmasq whose pid file is the last one started.
dnsmasq_stop_last() {
  local pidfile=${dnsmasq_pidfiles[-1]}
  [ -s "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
}

# Runs "$@" (a command or one of this script's functions) for at most 120 s: culprit bounds
# itself (--timeout, 10 s), this bounds the runtime around it.
bounded() {
  timeout 120 bash -c '"$@"' _ "$@"
}

# Runs culprit through COMMAND... (which must end where culprit's arguments go) once per format:
# JSON always (the checked report), text and Markdown with --keep. Records the commands.
runs() {
  local status=0
  local -a shown=()
  local word
  for word in "$@"; do shown+=("$(printf '%q' "$word")"); done
  # The commands as a person would type them, for CONFIG.cmd.
  local typed
  case "$1" in
    culprit_docker) typed="docker ${shown[*]:1}" ;;
    docker_run) typed="docker run --rm --network none ${shown[*]:1}"; typed=${typed/ -- / } ;;
    runc_culprit)
      typed="runc run --bundle $work/bundles/$2 culprit-matrix-$config  # config.json: process.args [/culprit ${shown[*]:2}"
      ;;
    *) typed=${shown[*]} ;;
  esac
  local close=""
  [ "$1" = runc_culprit ] && close="]"
  echo "$typed --format json$close" >>"$out/$config.cmd"
  bounded "$@" --format json >"$out/$config.json" 2>>"$out/$config.log" || status=$?
  echo "exit $status: ${shown[*]} --format json" >>"$out/$config.log"
  if [ $status -gt 1 ]; then
    echo "FAIL   $config: culprit exited $status (see below)"
    sed 's/^/         /' "$out/$config.log"
    failures=$((failures + 1))
  fi
  if [ -n "$keep" ]; then
    local format ext
    for format in text markdown; do
      ext=$([ $format = text ] && echo txt || echo md)
      echo "$typed --format $format$close" >>"$out/$config.cmd"
      bounded "$@" --format $format >"$out/$config.$ext" 2>>"$out/$config.log" || true
    done
  fi
}

# --- runc ----------------------------------------------------------------------------------

runc_ready=0
prepare_runc() {
  [ $runc_ready = 1 ] && return
  mkdir -p "$work/scratch-rootfs/proc" "$work/scratch-rootfs/sys" "$work/scratch-rootfs/dev"
  install -m 0755 dist/culprit "$work/scratch-rootfs/culprit"
  local tar
  tar=$(culprit_debian_rootfs_tar)
  mkdir -p "$work/debian-rootfs"
  tar --numeric-owner -C "$work/debian-rootfs" -xf "$tar"
  install -m 0755 dist/culprit "$work/debian-rootfs/culprit"
  runc_ready=1
}

# Writes bundle $1 (rootfs $2) from `runc spec`, edited by the python statements $3 (c is the
# config). The process's arguments are set by runc_culprit.
runc_bundle() {
  local bundle=$work/bundles/$1
  mkdir -p "$bundle"
  (cd "$bundle" && runc spec)
  python3 - "$bundle/config.json" "$2" "$work" <<EOF
import json, sys
path, rootfs, work = sys.argv[1:4]
c = json.load(open(path))
c["root"]["path"] = rootfs
c["process"]["terminal"] = False
c["mounts"].append({"destination": "/etc/resolv.conf", "type": "bind", "source": work + "/resolv.conf", "options": ["rbind", "ro"]})
$3
json.dump(c, open(path, "w"), indent=1)
EOF
}

# runc run of bundle $1 with culprit's arguments "${@:2}"; the runs() entry point.
runc_culprit() {
  local bundle=$work/bundles/$1
  shift
  python3 - "$bundle/config.json" "$@" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["args"] = ["/culprit"] + sys.argv[2:]
json.dump(c, open(sys.argv[1], "w"), indent=1)
EOF
  runc --root "$runc_root" run --bundle "$bundle" "culprit-matrix-$config-$$"
}

config_runc-scratch() {
  prepare_runc
  runc_bundle scratch "$work/scratch-rootfs" ""
  runs runc_culprit scratch
}

config_runc-debian() {
  prepare_runc
  # A network namespace holding only lo and a dnsmasq; the bundle joins it.
  local pidfile
  pidfile=$(mktemp "$work/dnsmasq.XXXXXX.pid")
  dnsmasq_pidfiles+=("$pidfile")
  unshare -n sh -c 'ip link set lo up && exec dnsmasq --conf-file=/dev/null --no-resolv --no-hosts \
    --listen-address=127.0.0.1 --bind-interfaces --address=/test.culprit/127.0.0.42 --pid-file="$1" --user=root' _ "$pidfile"
  local pid
  pid=$(cat "$pidfile")
  runc_bundle debian "$work/debian-rootfs" "
c['mounts'].append({'destination': '/etc/hosts', 'type': 'bind', 'source': work + '/hosts', 'options': ['rbind', 'ro']})
for ns in c['linux']['namespaces']:
    if ns['type'] == 'network': ns['path'] = '/proc/$pid/ns/net'"
  runs runc_culprit debian --resolve test.culprit
  dnsmasq_stop_last
}

config_runc-userns() {
  prepare_runc
  runc_bundle userns "$work/scratch-rootfs" "
c['linux']['namespaces'].append({'type': 'user'})
c['linux']['uidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]
c['linux']['gidMappings'] = [{'containerID': 0, 'hostID': 100000, 'size': 65536}]"
  runs runc_culprit userns
}

# --- Docker --------------------------------------------------------------------------------

docker_ready=0
prepare_docker() {
  [ $docker_ready = 1 ] && return
  _culprit_dockerd_pid >/dev/null || docker_started=1
  culprit_dockerd_start
  echo "   $(culprit_docker version --format 'docker client {{.Client.Version}}, engine {{.Server.Version}}'), $(runc --version | head -1)"
  culprit_image_debian docker
  # Dockerfile.test as documented: FROM scratch, and FROM the Debian image.
  culprit_docker build -q -f Dockerfile.test -t culprit-matrix:scratch . >/dev/null
  culprit_docker build -q -f Dockerfile.test --build-arg BASE="culprit-debian:$CULPRIT_DEBIAN_SUITE" -t culprit-matrix:debian . >/dev/null
  {
    echo "# culprit-debian:$CULPRIT_DEBIAN_SUITE: debootstrap --variant=minbase $CULPRIT_DEBIAN_SUITE, imported (scripts/lib/images.sh)"
    echo "docker build -f Dockerfile.test -t culprit-matrix:scratch ."
    echo "docker build -f Dockerfile.test --build-arg BASE=culprit-debian:$CULPRIT_DEBIAN_SUITE -t culprit-matrix:debian ."
  } >"$out/images.cmd"
  "${helper[@]}" profiles Tests/CulpritCoreTests/Fixtures/seccomp-profiles/moby-default-0ec744f4.json "$profiles"
  docker_ready=1
}

# docker run of one of the matrix's images, with --network none and the given flags; the
# runs() entry point. Usage: docker_run FLAGS... -- IMAGE (culprit's arguments follow).
docker_run() {
  local -a flags=()
  while [ "$1" != -- ]; do flags+=("$1"); shift; done
  shift
  culprit_docker run --rm --network none "${flags[@]}" "$@"
}

# The docker cp + docker exec flow: a Debian container that sleeps, on --network none with a
# dnsmasq in its network namespace and --dns 127.0.0.1, culprit copied in. $1: the name; the
# rest: docker run flags.
exec_container() {
  local name=$1
  shift
  containers+=("$name")
  culprit_docker rm -f "$name" >/dev/null 2>&1 || true
  culprit_docker run -d --name "$name" --network none --dns 127.0.0.1 "$@" \
    "culprit-debian:$CULPRIT_DEBIAN_SUITE" sleep infinity >/dev/null 2>>"$out/$config.log"
  dnsmasq_in "$(culprit_docker inspect -f '{{.State.Pid}}' "$name")"
  culprit_docker cp dist/culprit "$name:/culprit"
  {
    echo "docker run -d --name $name --network none --dns 127.0.0.1 $* culprit-debian:$CULPRIT_DEBIAN_SUITE sleep infinity"
    echo "# the test's own DNS server, in the container's network namespace:"
    echo "nsenter --net=/proc/\$(docker inspect -f '{{.State.Pid}}' $name)/ns/net dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces --address=/test.culprit/127.0.0.42"
    echo "docker cp dist/culprit $name:/culprit"
  } >>"$out/$config.cmd"
}

exec_done() {
  culprit_docker rm -f "$1" >/dev/null 2>&1 || true
  dnsmasq_stop_last
}

image=culprit-matrix:debian

config_docker-default() { prepare_docker; runs docker_run -- $image; }
config_docker-scratch() { prepare_docker; runs docker_run -- culprit-matrix:scratch; }
config_docker-cap-drop-all() { prepare_docker; runs docker_run --cap-drop ALL -- $image; }
config_docker-user() { prepare_docker; runs docker_run --user 1000:1000 -- $image; }
config_docker-cap-add-sys-admin() { prepare_docker; runs docker_run --cap-add SYS_ADMIN -- $image; }
config_docker-cap-add-sys-ptrace() { prepare_docker; runs docker_run --cap-add SYS_PTRACE -- $image; }
config_docker-read-only() { prepare_docker; runs docker_run --read-only -- $image; }
config_docker-read-only-tmpfs() {
  prepare_docker
  runs docker_run --read-only --tmpfs /scratch:dev -e TMPDIR=/scratch -- $image
}
config_docker-pids-1() { prepare_docker; runs docker_run --pids-limit 1 -- $image; }
config_docker-pids-2() { prepare_docker; runs docker_run --pids-limit 2 -- $image; }
config_docker-pids-4() { prepare_docker; runs docker_run --pids-limit 4 -- $image; }
config_docker-unconfined() { prepare_docker; runs docker_run --security-opt seccomp=unconfined -- $image; }
config_docker-old-profile() {
  prepare_docker
  runs docker_run --security-opt "seccomp=$profiles/old-no-new-calls.json" -- $image
}
config_docker-ptrace-kill() {
  prepare_docker
  runs docker_run --security-opt "seccomp=$profiles/ptrace-kill.json" -- $image
}
config_docker-privileged-like() {
  prepare_docker
  runs docker_run --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined \
    --device-cgroup-rule 'c *:* rwm' --device-cgroup-rule 'b *:* rwm' -- $image
}
config_docker-exec() {
  prepare_docker
  exec_container culprit-matrix-exec
  runs culprit_docker exec culprit-matrix-exec /culprit --resolve test.culprit
  exec_done culprit-matrix-exec
}
config_docker-no-clone3() {
  prepare_docker
  exec_container culprit-matrix-app --security-opt "seccomp=$profiles/no-clone3.json"
  runs culprit_docker exec culprit-matrix-app /culprit --resolve test.culprit
  exec_done culprit-matrix-app
}
config_docker-clone3-enosys() {
  prepare_docker
  exec_container culprit-matrix-app --security-opt "seccomp=$profiles/clone3-enosys.json"
  runs culprit_docker exec culprit-matrix-app /culprit --resolve test.culprit
  exec_done culprit-matrix-app
}

# --- Run -----------------------------------------------------------------------------------

# What bounded() runs in a new bash.
export -f culprit_docker runc_culprit docker_run
export work runc_root CULPRIT_DOCKER_ROOT CULPRIT_DOCKER_CLI

for config in "${selected[@]}"; do
  if ! printf '%s\n' "${all[@]}" | grep -qx -- "$config"; then
    echo "container-matrix: no configuration $config in $table (see --list)" >&2
    exit 2
  fi
  if ! declare -F "config_$config" >/dev/null; then
    echo "container-matrix: the table names $config, which this script cannot run" >&2
    exit 2
  fi
done

echo "== container matrix: ${#selected[@]} configurations, reports in $out"
# The host's own report, for the facts that belong to the machine (@host in the table).
unshare -n dist/culprit --format json --only cgroup,ptrace-scope,lsm,kernel >"$work/host.json" || true
host_cgroup=$(python3 -c 'import json, sys; print(next(p["facts"].get("version") for p in json.load(open(sys.argv[1]))["probes"] if p["id"] == "cgroup"))' "$work/host.json" 2>/dev/null || echo unknown)
if [ "$host_cgroup" != hybrid ]; then
  echo "   note: the table was written for a host with hybrid cgroups (containers see v1); this host's are $host_cgroup"
fi
probe_ids=$(dist/culprit --list | awk '{print $1}' | paste -sd,)
failures=0
for config in "${selected[@]}"; do
  export config
  : >"$out/$config.cmd"
  : >"$out/$config.log"
  t=$EPOCHREALTIME
  "config_$config"
  echo "   $config: $(elapsed "$t") s"
done

if [ -n "$keep" ] && [ -s "$out/docker-no-clone3.json" ] && [ -s "$out/docker-clone3-enosys.json" ]; then
  (
    cd "$out"
    "$repo/dist/culprit" diff docker-no-clone3.json docker-clone3-enosys.json >walkthrough-diff.txt || true
    "$repo/dist/culprit" diff --format markdown docker-no-clone3.json docker-clone3-enosys.json >walkthrough-diff.md || true
    printf '%s\n' "culprit diff docker-no-clone3.json docker-clone3-enosys.json" \
      "culprit diff --format markdown docker-no-clone3.json docker-clone3-enosys.json" >walkthrough-diff.cmd
  )
fi

status=0
"${helper[@]}" check "$table" "$out" "$work/host.json" "$probe_ids" "${selected[@]}" || status=1
[ $failures -eq 0 ] || status=1
echo "wall time: $(elapsed "$started") s for ${#selected[@]} configurations"
if [ $status -ne 0 ]; then
  echo "container-matrix: FAILED (wrong verdicts above)"
else
  echo "container-matrix: every verdict as expected"
fi
exit $status
