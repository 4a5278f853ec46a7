#!/usr/bin/env bash
# Runs dist/culprit inside real runc containers (an OCI bundle whose rootfs holds only the static
# binary) under the seccomp profiles and limits users meet, and prints each report.
#
#   scripts/runc-check.sh [SCENARIO...]     default: every scenario
#
# Scenarios:
#   unconfined        no seccomp filter
#   docker-default    Docker's default profile for a container without CAP_SYS_ADMIN, as far as
#                     threads go: default action EPERM, clone allowed only without namespace
#                     flags (mask 0x7E020000), clone3 -> SCMP_ACT_ERRNO 38 (Docker >= 20.10.10),
#                     on Podman's allow-list for every other call
#   eperm-no-clone3   the same without the clone3 rule: clone3 meets the default EPERM
#                     (Docker 20.10.0 to 20.10.9, Concourse 7.13 release candidates)
#   old-profile-stub  default EPERM, no syscall numbered 435 or above named: runc's ENOSYS stub
#                     answers clone3 (an old profile on a new runc)
#   clone3-kill       clone3 -> SCMP_ACT_KILL_PROCESS
#   pids-1            pids.limit 1: culprit itself cannot fork
#   pids-2            pids.limit 2: the probe's child exists, its thread cannot
#   dns               /etc/resolv.conf, /etc/hosts and nsswitch.conf in the rootfs, the container
#                     in a network namespace of its own with a dnsmasq on 127.0.0.1 that answers
#                     test.culprit, and 127.0.0.2 where nothing listens
#   dns-eperm-no-clone3  the same with the eperm-no-clone3 profile: curl's "getaddrinfo() thread
#                     failed to start" (DNS works, threads do not)
#   glibc-eperm-no-clone3  eperm-no-clone3 with this machine's glibc (libc.so.6) in the rootfs:
#                     the image's own threads fail too
#   musl-eperm-no-clone3   eperm-no-clone3 with Debian's musl package unpacked in the rootfs
#                     (apt-get download musl): the image's own threads do not use clone3
#
# Needs root, runc, dnsmasq, python3, and the Podman profile /usr/share/containers/seccomp.json
# (Debian package golang-github-containers-common). Only loopback addresses are ever queried: every
# container runs in a network namespace that has nothing but lo.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x dist/culprit ] || { echo "runc-check: build dist/culprit first (scripts/build-static.sh)" >&2; exit 1; }
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(unconfined docker-default eperm-no-clone3 old-profile-stub clone3-kill pids-1 pids-2 dns dns-eperm-no-clone3 glibc-eperm-no-clone3 musl-eperm-no-clone3)

work=$(mktemp -d /tmp/culprit-runc.XXXXXX)
dnsmasq_pid=""
cleanup() {
  [ -n "$dnsmasq_pid" ] && kill "$dnsmasq_pid" 2>/dev/null || true
  for id in $(runc list -q 2>/dev/null | grep '^culprit-check-' || true); do runc delete -f "$id" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# config.json for one scenario, written by python from `runc spec`.
make_bundle() {
  local scenario=$1 bundle=$work/$1
  mkdir -p "$bundle/rootfs"
  cp dist/culprit "$bundle/rootfs/culprit"
  (cd "$bundle" && runc spec)
  python3 - "$bundle" "$scenario" <<'PY'
import json, sys
bundle, scenario = sys.argv[1], sys.argv[2]
dns = scenario.startswith("dns")
if dns: scenario = scenario[4:] or "unconfined"
for prefix in ("glibc-", "musl-"):
    if scenario.startswith(prefix): scenario = scenario[len(prefix):]
spec = json.load(open(f"{bundle}/config.json"))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["/culprit", "--only", "kernel,seccomp,cgroup,thread,getaddrinfo", "--resolve", "test.culprit"]
spec["root"]["readonly"] = True
linux = spec["linux"]

def podman_allow_list(drop=()):
    profile = json.load(open("/usr/share/containers/seccomp.json"))
    rules = []
    for entry in profile["syscalls"]:
        inc, exc = entry.get("includes") or {}, entry.get("excludes") or {}
        if inc.get("caps") or (inc.get("arches") and "amd64" not in inc["arches"]): continue
        if exc.get("arches") and "amd64" in exc["arches"]: continue
        names = [n for n in entry["names"] if n not in drop]
        if not names: continue
        rule = {"names": names, "action": entry["action"]}
        if entry.get("errnoRet") is not None: rule["errnoRet"] = entry["errnoRet"]
        if entry.get("args"): rule["args"] = entry["args"]
        rules.append(rule)
    return rules

# Syscalls numbered 435 and above on x86_64, which an old profile does not know.
new_calls = {"clone3", "close_range", "openat2", "pidfd_getfd", "faccessat2", "process_madvise", "epoll_pwait2",
             "mount_setattr", "quotactl_fd", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
             "memfd_secret", "process_mrelease", "futex_waitv", "set_mempolicy_home_node", "cachestat", "fchmodat2",
             "map_shadow_stack", "futex_wake", "futex_wait", "futex_requeue", "statmount", "listmount",
             "lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", "mseal", "setxattrat", "getxattrat",
             "listxattrat", "removexattrat", "open_tree_attr", "file_getattr", "file_setattr"}
base = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]}
if scenario in ("unconfined", "pids-1", "pids-2"):
    linux.pop("seccomp", None)
elif scenario in ("docker-default", "eperm-no-clone3"):
    # moby profiles/seccomp/default.json without CAP_SYS_ADMIN: clone without namespace flags.
    rules = podman_allow_list(drop={"clone", "clone3"})
    rules.append({"names": ["clone"], "action": "SCMP_ACT_ALLOW",
                  "args": [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]})
    if scenario == "docker-default":
        rules.append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    linux["seccomp"] = dict(base, syscalls=rules)
elif scenario == "old-profile-stub":
    linux["seccomp"] = dict(base, syscalls=podman_allow_list(drop=new_calls))
elif scenario == "clone3-kill":
    linux["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": base["architectures"],
                        "syscalls": [{"names": ["clone3"], "action": "SCMP_ACT_KILL_PROCESS"}]}
if scenario == "pids-1":
    linux.setdefault("resources", {})["pids"] = {"limit": 1}
if scenario == "pids-2":
    linux.setdefault("resources", {})["pids"] = {"limit": 2}
if dns:
    # The container joins the network namespace the script made (lo, dnsmasq on 127.0.0.1).
    linux["namespaces"] = [ns for ns in linux["namespaces"] if ns["type"] != "network"]
json.dump(spec, open(f"{bundle}/config.json", "w"), indent=1)
PY
  if [[ $scenario == glibc-* ]]; then
    mkdir -p "$bundle/rootfs/lib/x86_64-linux-gnu"
    cp /lib/x86_64-linux-gnu/libc.so.6 "$bundle/rootfs/lib/x86_64-linux-gnu/"
  fi
  if [[ $scenario == musl-* ]]; then
    (cd "$work" && [ -f musl.deb ] || { apt-get download musl >/dev/null && mv musl_*.deb musl.deb; })
    dpkg-deb -x "$work/musl.deb" "$bundle/rootfs"
  fi
  if [[ $scenario == dns* ]]; then
    mkdir -p "$bundle/rootfs/etc"
    printf 'nameserver 127.0.0.1\nnameserver 127.0.0.2\noptions timeout:1\n' > "$bundle/rootfs/etc/resolv.conf"
    printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n' > "$bundle/rootfs/etc/hosts"
    printf 'hosts: files dns\n' > "$bundle/rootfs/etc/nsswitch.conf"
  fi
}

run_scenario() {
  local scenario=$1
  make_bundle "$scenario"
  echo "===== $scenario"
  local id=culprit-check-$scenario-$$
  if [[ $scenario == dns* ]]; then
    # A network namespace with only lo, a dnsmasq in it, and the container inside it.
    unshare -n bash -c '
      set -e
      ip link set lo up
      dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.1 --bind-interfaces \
        --address=/test.culprit/127.0.0.42 --pid-file="$1/dnsmasq.pid" --user=root
      trap "kill \$(cat \"$1/dnsmasq.pid\")" EXIT
      runc run --bundle "$1/$3" "$2" || true
    ' _ "$work" "$id" "$scenario"
  else
    runc run --bundle "$work/$scenario" "$id" || true
  fi
}

for scenario in "${scenarios[@]}"; do run_scenario "$scenario"; done
