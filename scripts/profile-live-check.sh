#!/usr/bin/env bash
# The exact seccomp map read live in real Docker containers (Debian's docker.io with its runc)
# under each test profile, compared number by number with what `culprit profile check
# --runtime docker-20.10` computes offline for the same profile.
#   scripts/profile-live-check.sh            compare; exit 1 on any difference
#   scripts/profile-live-check.sh --record   also write the live maps as fixtures
#                                            (Tests/CulpritCoreTests/Fixtures/docker-maps/)
# Needs root, docker.io (scripts/bootstrap.sh) and dist/culprit, dist/culprit-testkit (built if
# missing). Starts the private dockerd of scripts/lib/dockerd.sh unless it runs already, and
# stops it again if it started it.
set -euo pipefail
cd "$(dirname "$0")/.."
record=0
[ "${1:-}" = --record ] && record=1
[ -x dist/culprit ] && [ -x dist/culprit-testkit ] || scripts/build-static.sh --testkit >/dev/null
profiles=Tests/CulpritCoreTests/Fixtures/seccomp-profiles
fixtures=Tests/CulpritCoreTests/Fixtures/docker-maps
list=(concourse-7.12.1 concourse-7.13-rc concourse-7.13.0 moby-default-0ec744f4
  moby-default-0ec744f4-without-clone3-rule podman-containers-common-0.50.1)

# shellcheck source=lib/dockerd.sh
source scripts/lib/dockerd.sh
started=0
_culprit_dockerd_pid >/dev/null || started=1
work=$(mktemp -d /var/tmp/culprit-profile-live.XXXXXX)
cleanup() {
  culprit_docker rmi culprit-profile-live:scratch >/dev/null 2>&1 || true
  [ $started = 1 ] && culprit_dockerd_stop
  rm -rf "$work"
}
trap cleanup EXIT
culprit_dockerd_start
engine=$(culprit_docker version --format '{{.Server.Version}}')
echo "docker engine $engine, $(runc --version | head -1), kernel $(uname -r)"
cp dist/culprit-testkit "$work/culprit-testkit"
tar -C "$work" -c culprit-testkit | culprit_docker import - culprit-profile-live:scratch >/dev/null

failed=0
for name in "${list[@]}"; do
  profile=$profiles/$name.json
  culprit_docker run --rm --network none --security-opt "seccomp=$profile" culprit-profile-live:scratch \
    /culprit-testkit oracle $(seq 0 511) >"$work/$name.live"
  set +e
  dist/culprit --format json profile check --runtime docker-20.10 "$profile" >"$work/$name.check"
  set -e
  if python3 - "$work/$name.live" "$work/$name.check" "$name" <<'PY'
import json, re, sys
live_path, check_path, name = sys.argv[1:]
live = {}
for line in open(live_path):
    number, _, answer = line.rstrip("\n").partition(" ")
    if number.isdigit():
        live[int(number)] = answer
check = json.load(open(check_path))
arch = next(a for a in check["architectures"] if a["architecture"] == "x86_64")
interpreted = {}
for run in arch["map"]["runs"]:
    span, key = run.split(" ", 1)
    first, _, last = span.partition("–")
    for n in range(int(first), int(last or first) + 1):
        interpreted[n] = key
def key(answer):
    if answer.startswith("killed"): return "killed"
    if answer.startswith("trapped"): return "trapped"
    if answer.startswith("not filtered"): return None
    return answer
bad = [f"{n}: live {live.get(n)}, offline {interpreted[n]}" for n in sorted(interpreted)
       if key(live.get(n, "missing")) is not None and key(live.get(n, "missing")) != interpreted[n]]
print(f"{name}: {len(interpreted) - len(bad)} of {len(interpreted)} numbers agree" + ("" if not bad else ": " + "; ".join(bad[:8])))
sys.exit(1 if bad else 0)
PY
  then :; else failed=1; fi
  if [ $record = 1 ]; then
    mkdir -p "$fixtures"
    grep -v '^batch ' "$work/$name.live" >"$fixtures/$name.txt"
  fi
done
exit $failed
