#!/bin/busybox sh
# PID 1 of scripts/vm-matrix.sh's VM (Debian's kernel, cgroup v2 only, Yama and AppArmor): runs
# every scenario, then writes /out to the second serial port as a base64 tar between
# CULPRIT-BEGIN and CULPRIT-DONE, and powers off. Progress goes to the console (ttyS0).
#
# Per scenario, /out/NAME/ holds: culprit.json (dist/culprit --format json), culprit.txt (its
# text report), record.json (culprit-testkit observe: each verdict with the observations and
# snapshot facts it was judged from), gt.txt (the independent ground-truth program's raw
# answers), kernel.log (the kernel log lines the scenario produced: Yama's and AppArmor's audit
# lines), and setup.txt (what was set up).
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t securityfs securityfs /sys/kernel/security
mount -t cgroup2 cgroup2 /sys/fs/cgroup
# /tmp without nodev, so that a device node there reaches the driver (ENXIO) when nothing refuses.
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -p /dev/shm /run /out
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /dev/shm
mount -t tmpfs -o mode=755 tmpfs /run
echo "+pids +memory" > /sys/fs/cgroup/cgroup.subtree_control
# Audit lines reach the kernel log through printk_ratelimit() (kernel/audit.c
# kauditd_printk_skb): without this, AppArmor's denials after the first ten are dropped.
echo 0 > /proc/sys/kernel/printk_ratelimit
say() { echo "vm-matrix: $*"; }
say "kernel $(uname -r), lsm $(cat /sys/kernel/security/lsm), yama $(cat /proc/sys/kernel/yama/ptrace_scope)"
dmesg > /out/boot.log
dmesg -c > /dev/null

TIMEOUT=60

# scenario NAME PROBES GT WRAPPER...: runs culprit, the observer and gt under the wrapper.
scenario() {
  name=$1 probes=$2 gt=$3
  shift 3
  d=/out/$name
  mkdir -p "$d"
  say "scenario $name: $*"
  echo "wrapper: $*" >> "$d/setup.txt"
  echo "yama ptrace_scope: $(cat /proc/sys/kernel/yama/ptrace_scope)" >> "$d/setup.txt"
  dmesg -c > /dev/null
  "$@" /culprit --only "$probes" --format json --timeout $TIMEOUT > "$d/culprit.json" 2> "$d/culprit.err"
  "$@" /culprit --only "$probes" --timeout $TIMEOUT > "$d/culprit.txt" 2>&1
  "$@" /culprit-testkit observe "$probes" > "$d/record.json" 2> "$d/record.err"
  for g in $gt; do
    case $g in
      mknod:*) "$@" /gt mknod "${g#mknod:}" >> "$d/gt.txt" 2>&1 ;;
      *) "$@" /gt "$g" >> "$d/gt.txt" 2>&1 ;;
    esac
  done
  dmesg -c > "$d/kernel.log"
}

# Wrappers: each ends by exec'ing its arguments, so that the command is the only task added.
plain() { "$@"; }
incgroup() { dir=$1; shift; /culprit-testkit jail --cgroup "$dir" -- "$@"; }
asuser() { /culprit-testkit jail --user 1000:1000 -- "$@"; }
without_sys_ptrace() { /culprit-testkit jail --drop-caps CAP_SYS_PTRACE -- "$@"; }
apparmor() {
  profile=$1; shift
  sh -c 'echo "exec $0" > /proc/self/attr/apparmor/exec && exec "$@"' "$profile" "$@"
}
in_tmp() { cd /tmp && "$@"; cd /; }

# trace_cmd_scenario NAME SHELL-COMMAND WRAPPER...: `culprit trace -- /bin/sh -c SHELL-COMMAND`
# under the wrapper: the command's own refused calls, judged in the VM (an LSM's EACCES, which
# this project's machine cannot produce). /out/NAME/trace.json and trace.txt.
trace_cmd_scenario() {
  name=$1 command=$2
  shift 2
  d=/out/$name
  mkdir -p "$d"
  say "trace scenario $name: $* -- sh -c '$command'"
  echo "wrapper: $*" >> "$d/setup.txt"
  echo "command: /bin/sh -c '$command'" >> "$d/setup.txt"
  dmesg -c > /dev/null
  "$@" /culprit --format json trace --output "$d/trace.json" --timeout $TIMEOUT -- /bin/sh -c "$command" 2> "$d/trace.err"
  echo "culprit exit status: $?" >> "$d/setup.txt"
  "$@" /culprit trace --output "$d/trace.txt" --timeout $TIMEOUT -- /bin/sh -c "$command" 2>> "$d/trace.err"
  dmesg -c > "$d/kernel.log"
}

# trace_scenario NAME TARGET WRAPPER...: `culprit trace --pid` of a process that is not culprit's
# descendant (a sleep started here: by init itself when TARGET is "init", under the same wrapper
# when it is "same", so that it holds no capability culprit lacks), culprit under the wrapper:
# PTRACE_SEIZE refused by Yama, AppArmor or the capability rules, the layer judged from the
# observations the report carries (tracing.observed), and the battery (its ptrace probes) run
# instead. /out/NAME/trace.json and trace.txt.
trace_scenario() {
  name=$1 target_by=$2
  shift 2
  d=/out/$name
  mkdir -p "$d"
  say "trace scenario $name: $* (target: $target_by)"
  echo "wrapper: $*" >> "$d/setup.txt"
  echo "yama ptrace_scope: $(cat /proc/sys/kernel/yama/ptrace_scope)" >> "$d/setup.txt"
  rm -f /tmp/trace-target.pid
  if [ "$target_by" = same ]; then
    # The wrapper is a shell function: $! would be the subshell running it, so the target says
    # its own pid, then becomes the sleep.
    "$@" /bin/sh -c 'echo $$ > /tmp/trace-target.pid; exec /bin/sleep 600' &
    i=0
    while [ ! -s /tmp/trace-target.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
    target=$(cat /tmp/trace-target.pid)
  else
    sleep 600 &
    target=$!
  fi
  echo "target: pid $target (sleep 600, started by init $([ "$target_by" = same ] && echo "under the same wrapper")): not culprit's descendant; $(grep CapEff /proc/$target/status)" >> "$d/setup.txt"
  dmesg -c > /dev/null
  "$@" /culprit --only ptrace-attach,ptrace-scope --format json trace --output "$d/trace.json" --timeout 5 --pid $target 2> "$d/trace.err"
  echo "culprit exit status: $?" >> "$d/setup.txt"
  "$@" /culprit --only ptrace-attach,ptrace-scope trace --output "$d/trace.txt" --timeout 5 --pid $target 2>> "$d/trace.err"
  dmesg -c > "$d/kernel.log"
  kill $target
  wait 2> /dev/null
}

# cgroup v2: the root cgroup, then child cgroups with small pids limits.
scenario v2-root thread,mknod,ptrace-attach,cgroup "threads ptrace mknod:/tmp" plain
for n in 1 2 3; do
  mkdir /sys/fs/cgroup/c8-pids$n
  echo $n > /sys/fs/cgroup/c8-pids$n/pids.max
  scenario pids$n thread,cgroup threads incgroup /sys/fs/cgroup/c8-pids$n
done

# AppArmor, with Yama at 0: each profile denies one thing.
for p in /profiles/*; do
  apparmor_parser --replace --skip-cache "$p" 2>> /out/apparmor_parser.log || say "apparmor_parser $p failed"
done
cat /sys/kernel/security/apparmor/profiles > /out/apparmor-profiles.txt
scenario aa-deny-ptrace ptrace-attach,lsm ptrace apparmor c8-deny-ptrace
trace_scenario trace-aa-deny-ptrace init apparmor c8-deny-ptrace
scenario aa-deny-cap-ptrace ptrace-attach,lsm ptrace apparmor c8-deny-cap-ptrace
scenario aa-deny-cap-mknod mknod,lsm mknod:/tmp apparmor c8-deny-cap-mknod
scenario aa-deny-tmp-write mknod,lsm "mknod:/tmp mknod:/dev/shm mknod:/run" in_tmp apparmor c8-deny-tmp-write
trace_cmd_scenario trace-cmd-aa-deny-tmp-write 'echo x > /tmp/c12-trace-file' apparmor c8-deny-tmp-write
scenario aa-deny-dev-read mknod,lsm mknod:/tmp apparmor c8-deny-dev-read

# runc containers on cgroup v2 (runc's device program is always attached).
# runc_scenario NAME PROBES GT [PIDS_MAX [beside]]: the bundle /bundles/NAME; its process runs /out/cmd.
runc_scenario() {
  name=$1 probes=$2 gt=$3 pids=${4:-} mode=${5:-run}
  d=/out/$name
  mkdir -p "$d"
  say "runc scenario $name ($mode)"
  cp /bundles/$name/config.json "$d/bundle-config.json"
  echo "runc $(runc --version | head -1), bundle /bundles/$name, pids.max ${pids:-max}, $mode" >> "$d/setup.txt"
  echo "yama ptrace_scope: $(cat /proc/sys/kernel/yama/ptrace_scope)" >> "$d/setup.txt"
  mkdir -p /bundles/$name/out
  if grep -q '"type": "user"' /bundles/$name/config.json; then chown 100000:100000 /bundles/$name/out; fi
  dmesg -c > /dev/null
  if [ -n "$pids" ]; then
    # A pids limit too small for runc's own Go runtime: runc init starts unlimited, the limit
    # is written into the container's cgroup while init waits (runc create), and `runc start`
    # then execs the command, which is all the limit ever sees (as `--pids-limit N` gives a
    # running Docker container; runc cannot start reliably under 2 or 3 itself).
    # beside: the container's PID 1 (sh) stays and runs the command as its child, so one task
    # is not the command's, as with `docker exec` beside a PID 1.
    inside() {
      if [ "$mode" = beside ]; then echo "$*; exit \$?" > /bundles/$name/out/cmd; else echo "exec $*" > /bundles/$name/out/cmd; fi
      runc --root /run/runc create --no-pivot -b /bundles/$name c8-$name < /dev/null
      echo "$pids" > /sys/fs/cgroup/c8-$name/pids.max
      runc --root /run/runc start c8-$name
      while [ "$(runc --root /run/runc state c8-$name 2>/dev/null | grep -c '"status": "stopped"')" = 0 ]; do sleep 0.2; done
      runc --root /run/runc delete c8-$name
    }
  else
    inside() {
      echo "exec $*" > /bundles/$name/out/cmd
      runc --root /run/runc run --no-pivot -b /bundles/$name c8-$name < /dev/null
    }
  fi
  inside /culprit --only "$probes" --format json --timeout $TIMEOUT > "$d/culprit.json" 2> "$d/culprit.err"
  inside /culprit --only "$probes" --timeout $TIMEOUT > "$d/culprit.txt" 2>&1
  inside /culprit-testkit observe "$probes" > "$d/record.json" 2> "$d/record.err"
  for g in $gt; do
    case $g in
      mknod:*) inside /gt mknod "${g#mknod:}" >> "$d/gt.txt" 2>&1 ;;
      *) inside /gt "$g" >> "$d/gt.txt" 2>&1 ;;
    esac
  done
  dmesg -c > "$d/kernel.log"
}
runc_scenario runc-docker thread,mknod,ptrace-attach,seccomp,lsm "threads ptrace mknod:/tmp"
runc_scenario runc-no-clone3 thread,seccomp threads
runc_scenario runc-pids2 thread,cgroup threads 2
runc_scenario runc-pids3-beside thread,cgroup threads 3 beside
runc_scenario runc-userns mknod,ptrace-attach,thread,userns "ptrace mknod:/tmp"

# Yama, raised step by step; 3 last, since it cannot be lowered.
echo 1 > /proc/sys/kernel/yama/ptrace_scope
scenario yama1-root ptrace-attach,ptrace-scope ptrace plain
scenario yama1-user ptrace-attach,ptrace-scope ptrace asuser
runc_scenario runc-docker-yama1 ptrace-attach,ptrace-scope ptrace
echo 2 > /proc/sys/kernel/yama/ptrace_scope
scenario yama2-cap ptrace-attach,ptrace-scope ptrace plain
scenario yama2-nocap ptrace-attach,ptrace-scope ptrace without_sys_ptrace
trace_scenario trace-yama2-nocap same without_sys_ptrace
trace_scenario trace-yama2-nocap-root-target init without_sys_ptrace
echo 3 > /proc/sys/kernel/yama/ptrace_scope
scenario yama3-root ptrace-attach,ptrace-scope ptrace plain
trace_scenario trace-yama3 init plain
echo 0 > /proc/sys/kernel/yama/ptrace_scope 2> /out/yama3-lower.err || echo "lowering failed" >> /out/yama3-lower.err
cat /proc/sys/kernel/yama/ptrace_scope >> /out/yama3-lower.err

say "sending results"
{
  echo CULPRIT-BEGIN
  tar -C /out -cf - . | gzip -1 | base64
  echo CULPRIT-DONE
} > /dev/ttyS1
sync
say "done"
poweroff -f
