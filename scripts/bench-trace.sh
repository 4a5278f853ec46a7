#!/usr/bin/env bash
# Measures `culprit trace` against `strace -f -o /dev/null` and the bare command, side by side in
# one run, on two workloads: a fork-heavy shell loop starting 500 short processes, and a
# syscall-heavy `find /usr -type f | wc -l`. Prints the median wall time of RUNS runs of each
# and the overhead over the bare command. A benchmark, not a test: nothing fails on a number.
#   scripts/bench-trace.sh [RUNS] [BINARY]     defaults: 5 runs of dist/culprit (built if missing)
# Needs strace (scripts/bootstrap.sh installs it).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
binary=${2:-dist/culprit}
[ -x "$binary" ] || scripts/build-static.sh >/dev/null
command -v strace >/dev/null || { echo "bench-trace: strace is not installed" >&2; exit 2; }
exec python3 - "$binary" "$runs" <<'PY'
import os, statistics, subprocess, sys, time

binary, runs = sys.argv[1], int(sys.argv[2])
workloads = {
    "fork-heavy (500 processes)": ["/bin/sh", "-c", 'i=0; while [ $i -lt 500 ]; do /bin/true; i=$((i+1)); done'],
    "syscall-heavy (find /usr)": ["/bin/sh", "-c", "find /usr -type f | wc -l"],
}
tools = {
    "bare": lambda cmd: cmd,
    "strace -f": lambda cmd: ["strace", "-f", "-o", "/dev/null"] + cmd,
    "culprit trace": lambda cmd: [binary, "trace", "--output", "/dev/null", "--"] + cmd,
}

def once(argv):
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return (time.perf_counter() - start) * 1000

print(f"culprit trace benchmark: {runs} runs each, median wall time; {os.cpu_count()} CPUs; {binary}")
for name, cmd in workloads.items():
    once(cmd)  # warm the page cache
    medians = {}
    # Interleaved, so that load from elsewhere hits every tool alike.
    samples = {tool: [] for tool in tools}
    for _ in range(runs):
        for tool, wrap in tools.items():
            samples[tool].append(once(wrap(cmd)))
    for tool in tools:
        medians[tool] = statistics.median(samples[tool])
    bare = medians["bare"]
    print(f"{name}:")
    for tool in tools:
        over = "" if tool == "bare" else f"  (+{medians[tool] - bare:.0f} ms, x{medians[tool] / bare:.2f})"
        print(f"  {tool:14} {medians[tool]:8.1f} ms{over}")
    verdict = "met" if medians["culprit trace"] <= medians["strace -f"] else "MISSED"
    print(f"  target (culprit trace no slower than strace -f): {verdict}")
PY
