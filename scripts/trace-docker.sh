#!/usr/bin/env bash
# `culprit trace` in real Docker containers (Debian's docker.io, the private dockerd of
# scripts/lib/dockerd.sh): dist/culprit bind-mounted into a local Debian image that holds
# Debian's curl, python3 and strace (scripts/lib/images.sh, culprit-debian-trace), run with
# --network none, a resolv.conf naming only 127.0.0.1 (nothing listens there: no query can leave),
# Docker's capabilities and device rules, and the seccomp profile of each case:
#
#   case          profile                          command                       the failure that mattered
#   curl-rc       Concourse 7.13.0-rc + ptrace     curl http://culprit-test.invalid/   clone3 EPERM seccomp (exact
#                                                  replay), curl's "getaddrinfo() thread failed to start", exit 6
#   curl-rc-real  Concourse 7.13.0-rc as shipped   the same                      ptrace is refused (seccomp,
#                 (no ptrace rule)                 EPERM): curl runs untraced, exit 6, and the battery's thread
#                                                  probe names seccomp
#   python-rc     Concourse 7.13.0-rc + ptrace     python3 threading             clone3 EPERM seccomp, "can't
#                                                  start new thread", exit 1
#   python-rc-real Concourse 7.13.0-rc             the same                      untraced (seccomp), battery
#   faccessat2    Concourse 7.13.0-rc + ptrace,    bash -c 'test -x /bin/sh'     faccessat2 EPERM seccomp, exit 1
#                 faccessat2 refused by an ERRNO rule
#   faccessat2-enosys  Concourse 7.12.1 + ptrace   the same                      faccessat2 ENOSYS, seccomp
#                 (nothing named above statx: runc answers newer calls -ENOSYS), survived: glibc fell back
#                 to faccessat, exit 0
#   sigsys        allow, sched_getparam KILL_PROCESS   python3 os.sched_getparam  killed by SIGSYS, exit 159
#   pids          Docker's default, --pids-limit 5 sh forking 6 sleeps            clone EAGAIN cgroup-pids
#   connect       Docker's default                 bash > /dev/tcp/127.0.0.1/9   connect ECONNREFUSED network
#   connect-curl  Docker's default                 curl http://127.0.0.1:9/      the same, non-blocking (SO_ERROR), exit 7
#   strace-kill   allow, ptrace KILL_PROCESS       strace -p 1                   tracing refused: seccomp kills
#                                                  ptrace; strace dies of SIGSYS (159); ptrace-attach probe: seccomp
#   mknod-cat     Docker's default                 mknod c 1 1 && cat           cat's open: cgroup-devices
#   mount         Docker's default                 mount -t tmpfs none /mnt      seccomp (its profile refuses mount
#                                                  without CAP_SYS_ADMIN before the capability check could)
#   mount-nocap   seccomp=unconfined               the same                      capabilities: no CAP_SYS_ADMIN
#                                                  among Docker's 14 (the kernel's own check answers)
#   read-only     --read-only                      sh -c 'echo x > /etc/x'      openat EROFS: mount (/, ro)
#   noexec        --tmpfs /scratch:noexec          sh: cp /bin/true there, run it  execve EACCES: mount (noexec)
#   nofile        --ulimit nofile=32:32            python3 opening 64 files      openat EMFILE: rlimit
#   full          --tmpfs /scratch:size=64k        head -c 1M > /scratch/fill    write ENOSPC: no layer (the
#                                                  filesystem is full), the file and its free space said
#   pid-read      Docker's default                 culprit trace --pid of a python3 blocked 2.5 s in a
#                                                  pipe read: read, the pipe, at least 2000 ms
#
# Every case also checks that culprit exits with the program's status and reports it. Exits 1 on
# a wrong verdict. Needs root, docker.io, debootstrap, the Concourse profiles in
# ../shared/data/seccomp-profiles (the Concourse cases are skipped, said, without them).
#   scripts/trace-docker.sh [--keep DIR]     --keep: also the JSON and text reports, into DIR
#   CULPRIT_TRACE_CASES="curl-rc pids" scripts/trace-docker.sh    only those cases
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
culprit_image_debian_trace docker
image=culprit-debian-trace:$CULPRIT_DEBIAN_SUITE

echo "nameserver 127.0.0.1" >"$out/resolv.conf"
profiles=../shared/data/seccomp-profiles
# The profiles of the cases, written next to the reports: a shipped profile with a ptrace rule
# added (so that culprit can trace under it), and two allow-by-default profiles with one rule.
python3 - "$profiles" "$out" <<'PY'
import json, os, sys
src, out = sys.argv[1], sys.argv[2]
for name in ("concourse-7.13-rc", "concourse-7.12.1"):
    path = os.path.join(src, name + ".json")
    if not os.path.exists(path):
        continue
    profile = json.load(open(path))
    profile["syscalls"].append({"names": ["ptrace"], "action": "SCMP_ACT_ALLOW"})
    json.dump(profile, open(os.path.join(out, name + "+ptrace.json"), "w"))
    if name == "concourse-7.13-rc":
        # faccessat2 refused with an explicit EPERM rule (removing its name alone would not do:
        # it is the highest the profile names, and runc's -ENOSYS stub would answer it).
        for rule in profile["syscalls"]:
            rule["names"] = [n for n in rule["names"] if n != "faccessat2"]
        profile["syscalls"].append({"names": ["faccessat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1})
        json.dump(profile, open(os.path.join(out, name + "+ptrace-faccessat2.json"), "w"))
for name, call in (("kill-sched_getparam", "sched_getparam"), ("kill-ptrace", "ptrace")):
    json.dump({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [call], "action": "SCMP_ACT_KILL_PROCESS"}]},
              open(os.path.join(out, name + ".json"), "w"))
PY

failed=0
# check NAME STATUS EXPECTATIONS DOCKER-OPTIONS -- COMMAND...
#   STATUS: the program's exit status, or "nonzero"
#   EXPECTATIONS: space-separated, all must hold:
#     mattered=SYSCALL:ERRNO:LAYER   the failure that mattered (ERRNO "-" for a SIGSYS kill, LAYER
#                                    "none" when no container layer is to blame)
#     method=M                       its seccomp method (user-notif-oracle, kernel-answer)
#     kind=K  reaction=R             its kind (refusal, kill, trap), what the program did
#     finding=SYSCALL:ERRNO:LAYER:REACTION   a refusal the program survived
#     message=TEXT                   a line of the program's stderr holds TEXT ("+" for a space)
#     untraced=LAYER:ERRNO           ptrace refused, by LAYER (ERRNO "-" for a kill)
#     reason=TEXT                    the refusal's reason holds TEXT
#     reasonhas=TEXT evidencehas=TEXT   the failure that mattered's reason, one of its evidence lines
#     probe=ID:STATUS:LAYER          a battery probe's verdict
check() {
  local name=$1 want=$2 expect=$3 opts=$4
  shift 4
  # CULPRIT_TRACE_CASES="a b": only those cases (while working on one).
  if [ -n "${CULPRIT_TRACE_CASES:-}" ] && [[ " $CULPRIT_TRACE_CASES " != *" $name "* ]]; then return 0; fi
  [ "$1" = "--" ] && shift
  local status=0
  # shellcheck disable=SC2086
  culprit_docker run --rm --network none -v "$PWD/dist/culprit:/culprit:ro" -v "$out:/out" \
    -v "$out/resolv.conf:/etc/resolv.conf:ro" $opts "$image" \
    /culprit trace --format json --output "/out/$name.json" -- "$@" >"$out/$name.stdout" 2>"$out/$name.stderr" || status=$?
  if [ -n "$keep" ]; then
    mkdir -p "$keep"
    cp "$out/$name.json" "$keep/" 2>/dev/null || true
    # shellcheck disable=SC2086
    culprit_docker run --rm --network none -v "$PWD/dist/culprit:/culprit:ro" -v "$keep:/out" \
      -v "$out/resolv.conf:/etc/resolv.conf:ro" $opts "$image" \
      /culprit trace --output "/out/$name.txt" -- "$@" >/dev/null 2>&1 || true
  fi
  if python3 - "$out/$name.json" "$name" "$status" "$want" "$expect" <<'PY'
import json, sys
path, name, status, want, expect = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5].split()
problems = []
try:
    report = json.load(open(path))
except Exception as error:  # no report is a failure of its own
    print(f"  FAIL {name:14} exit {status}: no report ({error})")
    sys.exit(1)
trace = report["trace"]
m = trace["findings"][trace["mattered"]] if trace["mattered"] is not None else None
tracing = trace["tracing"]
if want == "nonzero":
    if status == 0: problems.append("exit 0, wanted non-zero")
elif status != int(want):
    problems.append(f"exit {status}, wanted {want}")
if trace["exitStatus"] != status:
    problems.append(f"the report says exit {trace['exitStatus']}")
for e in expect:
    key, value = e.split("=", 1)
    value = value.replace("+", " ") if key in ("message", "reason", "reasonhas", "evidencehas") else value
    if key == "mattered":
        syscall, errno, layer = value.split(":")
        layer = None if layer == "none" else layer
        if m is None or m["syscall"] != syscall or m["layer"] != layer or (errno != "-" and m["errno"] != errno):
            problems.append(f"mattered is not {value}")
    elif key == "method":
        if m is None or (m.get("seccomp") or {}).get("method") != value: problems.append(f"method is not {value}")
    elif key == "kind":
        if m is None or m["kind"] != value: problems.append(f"kind is not {value}")
    elif key == "reaction":
        if m is None or (m.get("reaction") or {}).get("kind") != value: problems.append(f"reaction is not {value}")
    elif key == "finding":
        syscall, errno, layer, reaction = value.split(":")
        f = next((f for f in trace["findings"] if f["syscall"] == syscall and f["errno"] == errno), None)
        if f is None or f["layer"] != layer or (f.get("reaction") or {}).get("kind") != reaction or not f["survived"]:
            problems.append(f"no survived finding {value}: {f and (f['layer'], f.get('reaction'), f['survived'])}")
    elif key == "reasonhas":
        if m is None or value not in m["reason"]: problems.append(f"the reason lacks {value!r}")
    elif key == "evidencehas":
        if m is None or not any(value in e for e in m["evidence"]): problems.append(f"no evidence with {value!r}")
    elif key == "message":
        if not any(value in line for line in trace.get("message") or []): problems.append(f"no message line with {value!r}")
    elif key == "untraced":
        layer, errno = value.split(":")
        if tracing["traced"] or tracing["layer"] != layer or (errno != "-" and tracing["errno"] != errno):
            problems.append(f"tracing is not refused by {value}: {tracing}")
    elif key == "reason":
        if value not in (tracing.get("reason") or ""): problems.append(f"refusal reason lacks {value!r}")
    elif key == "probe":
        pid, pstatus, player = value.split(":")
        p = next((p for p in report.get("probes") or [] if p["id"] == pid), None)
        if p is None or p["status"] != pstatus or p["layer"] != player:
            problems.append(f"probe {pid} is not {pstatus}/{player}: {p and (p['status'], p['layer'])}")
    else:
        problems.append(f"unknown expectation {e}")
if m is not None:
    said = f"{m['syscall']} {m['errno']} -> {m['layer']} ({(m['seccomp'] or {}).get('method')}): {m['reason']}"
elif not tracing["traced"]:
    said = f"not traced: {tracing['call']} {tracing['errno']} -> {tracing['layer']}: {tracing['reason']}"
else:
    said = "no failure named"
print(f"  {'FAIL' if problems else 'ok  '} {name:14} exit {status}: {said[:150]}")
for p in problems:
    print(f"       {p}")
sys.exit(1 if problems else 0)
PY
  then :; else
    failed=1
    sed 's/^/       stderr: /' "$out/$name.stderr" | head -5
  fi
}

echo "culprit trace in Docker $(culprit_docker version --format '{{.Server.Version}}') ($image, --network none)"
rc=$profiles/concourse-7.13-rc.json
if [ -f "$rc" ]; then
  check curl-rc 6 "mattered=clone3:EPERM:seccomp method=user-notif-oracle reaction=gave-up message=getaddrinfo()+thread+failed+to+start" \
    "--security-opt seccomp=$out/concourse-7.13-rc+ptrace.json" -- curl -sS http://culprit-test.invalid/
  check curl-rc-real 6 "untraced=seccomp:EPERM probe=thread:blocked:seccomp" \
    "--security-opt seccomp=$rc" -- curl -sS http://culprit-test.invalid/
  check python-rc 1 "mattered=clone3:EPERM:seccomp method=user-notif-oracle message=can't+start+new+thread" \
    "--security-opt seccomp=$out/concourse-7.13-rc+ptrace.json" -- python3 -c 'import threading; t = threading.Thread(target=print); t.start(); t.join()'
  check python-rc-real 1 "untraced=seccomp:EPERM probe=thread:blocked:seccomp" \
    "--security-opt seccomp=$rc" -- python3 -c 'import threading; t = threading.Thread(target=print); t.start(); t.join()'
  check faccessat2 1 "mattered=faccessat2:EPERM:seccomp method=user-notif-oracle" \
    "--security-opt seccomp=$out/concourse-7.13-rc+ptrace-faccessat2.json" -- bash -c 'test -x /bin/sh'
  check faccessat2-enosys 0 "finding=faccessat2:ENOSYS:seccomp:fell-back" \
    "--security-opt seccomp=$out/concourse-7.12.1+ptrace.json" -- bash -c 'test -x /bin/sh'
else
  echo "  skip the Concourse cases: no $profiles (../shared beside the clone)"
fi
check sigsys 159 "mattered=sched_getparam:-:seccomp kind=kill" \
  "--security-opt seccomp=$out/kill-sched_getparam.json" -- python3 -c 'import os; os.sched_getparam(0)'
check pids nonzero "mattered=clone:EAGAIN:cgroup-pids" "--pids-limit 5" \
  -- sh -c 'for i in 1 2 3 4 5 6; do sleep 1 & done; wait'
check connect 1 "mattered=connect:ECONNREFUSED:network" "" -- bash -c 'echo > /dev/tcp/127.0.0.1/9'
check connect-curl 7 "mattered=connect:ECONNREFUSED:network" "" -- curl -sS http://127.0.0.1:9/
check strace-kill 159 "untraced=seccomp:- reason=kills probe=ptrace-attach:blocked:seccomp" \
  "--security-opt seccomp=$out/kill-ptrace.json" -- strace -p 1
check mknod-cat 1 "mattered=openat:EPERM:cgroup-devices" "" -- sh -c 'mknod /tmp/mem c 1 1 && cat /tmp/mem'
check mount 32 "mattered=mount:EPERM:seccomp method=user-notif-oracle" "" -- mount -t tmpfs none /mnt
check mount-nocap 32 "mattered=mount:EPERM:capabilities reasonhas=CAP_SYS_ADMIN" "--security-opt seccomp=unconfined" \
  -- mount -t tmpfs none /mnt
check read-only 2 "mattered=openat:EROFS:mount reasonhas=read-only" "--read-only" -- sh -c 'echo x > /etc/culprit-test'
check noexec 126 "mattered=execve:EACCES:mount reasonhas=noexec" "--tmpfs /scratch:rw,noexec,size=4m" \
  -- sh -c 'cp /bin/true /scratch/ && /scratch/true'
check nofile 1 "mattered=openat:EMFILE:rlimit evidencehas=Max+open+files+32+32" "--ulimit nofile=32:32" \
  -- python3 -c 'import os; [os.open("/dev/null", os.O_RDONLY) for _ in range(64)]'
check full 1 "mattered=write:ENOSPC:none reasonhas=/scratch+(tmpfs,+size=64k)+is+full evidencehas=0+bytes+of+64+KiB+free" \
  "--tmpfs /scratch:rw,size=64k" -- sh -c 'head -c 1048576 /dev/zero > /scratch/fill'
# --pid in a container: a python3 blocked in a pipe read for 2.5 s, then `culprit trace --pid` of
# it from the same container: it names read on the pipe and at least 2 s.
pid_read() {
  local name=pid-read
  if [ -n "${CULPRIT_TRACE_CASES:-}" ] && [[ " $CULPRIT_TRACE_CASES " != *" $name "* ]]; then return 0; fi
  culprit_docker run --rm --network none -v "$PWD/dist/culprit:/culprit:ro" -v "$out:/out" "$image" /bin/sh -c \
    'python3 -c "import os; r, w = os.pipe(); os.read(r, 1)" & sleep 2.5; /culprit trace --format json --output /out/pid-read.json --timeout 0.5 --pid $!; kill $!' \
    >"$out/$name.stdout" 2>"$out/$name.stderr" || true
  [ -n "$keep" ] && mkdir -p "$keep" && cp "$out/$name.json" "$keep/" 2>/dev/null
  python3 - "$out/$name.json" <<'PY' || failed=1
import json, sys
try:
    waits = json.load(open(sys.argv[1]))["trace"]["waits"]
except Exception as error:
    print(f"  FAIL pid-read       no report ({error})")
    sys.exit(1)
w = waits[0] if waits else {}
ok = w.get("syscall") == "read" and "pipe:" in (w.get("descriptor") or "") and (w.get("waitingMs") or 0) >= 2000
print(f"  {'ok  ' if ok else 'FAIL'} pid-read       --pid: {w.get('syscall')} for {w.get('waitingMs')} ms; {w.get('descriptor')}")
sys.exit(0 if ok else 1)
PY
}
pid_read
exit $failed
