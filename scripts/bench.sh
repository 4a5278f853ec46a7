#!/usr/bin/env bash
# Measures culprit as shipped: median wall time and peak memory of a full run over repeated
# runs, per-probe wall times, and the binary's size.
#   scripts/bench.sh [RUNS] [BINARY]     defaults: 30 runs of dist/culprit (built if missing)
# Runs inside a network namespace of its own with no network (unshare -n), so the getaddrinfo
# probe never waits on a real nameserver and never sends this machine's one a query: network
# waits are excluded by construction.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-30}
binary=${2:-dist/culprit}
[ -x "$binary" ] || scripts/build-static.sh >/dev/null
exec unshare -n python3 - "$binary" "$runs" <<'PY'
import json, os, statistics, subprocess, sys, time

binary, runs = sys.argv[1], int(sys.argv[2])

def once(args):
    """One run: (wall ms, peak RSS KiB, exit status).

    Wall time comes from a direct posix_spawn. Peak memory comes from a second run under GNU
    time (%M, the largest resident set of culprit and of its probe children): measured on the
    direct spawn, ru_maxrss would include Python's own pages, which the child shares until exec.
    """
    start = time.perf_counter_ns()
    pid = os.posix_spawn(binary, [binary] + args, os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, _ = os.wait4(pid, 0)
    wall = (time.perf_counter_ns() - start) / 1e6
    timed = subprocess.run(["/usr/bin/time", "-f", "%M", binary] + args,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rss = int(timed.stderr.strip().splitlines()[-1])
    return wall, rss, os.waitstatus_to_exitcode(status)

def series(args, n):
    once(args)  # warm the page cache
    samples = [once(args) for _ in range(n)]
    bad = [s for s in samples if s[2] not in (0, 1)]
    if bad:
        sys.exit(f"bench: {binary} {' '.join(args)} exited {bad[0][2]}")
    walls = sorted(s[0] for s in samples)
    rss = [s[1] for s in samples]
    return {
        "median_ms": statistics.median(walls), "p90_ms": walls[int(0.9 * (len(walls) - 1))],
        "min_ms": walls[0], "max_ms": walls[-1],
        "peak_rss_mib": max(rss) / 1024, "median_rss_mib": statistics.median(rss) / 1024,
    }

listing = subprocess.run([binary, "--list"], capture_output=True, text=True, check=True).stdout
ids = [line.split()[0] for line in listing.splitlines() if line.strip()]
size = os.path.getsize(binary)

full = series(["--format", "json"], runs)
print(f"binary     {binary}: {size} bytes ({size / 1048576:.1f} MiB)")
print(f"full run   {runs} runs: median {full['median_ms']:.1f} ms, p90 {full['p90_ms']:.1f} ms, "
      f"min {full['min_ms']:.1f} ms, max {full['max_ms']:.1f} ms; peak RSS {full['peak_rss_mib']:.1f} MiB "
      f"(median {full['median_rss_mib']:.1f} MiB)")
print("per probe  (--only ID, median of 10 runs; includes the tool's own start-up)")
for probe in ids:
    s = series(["--format", "json", "--only", probe], 10)
    print(f"  {probe:14} {s['median_ms']:6.1f} ms   peak RSS {s['peak_rss_mib']:5.1f} MiB")
# The exact seccomp map (the oracle) runs only under a filter: measure it in the what-if mode
# under Docker's default profile, as a container would see it.
profile = "Tests/CulpritCoreTests/Fixtures/seccomp-profiles/moby-default-0ec744f4.json"
if os.path.exists(profile):
    whatif = series(["--format", "json", "--seccomp-profile", profile], runs)
    oracle_us = []
    for _ in range(10):
        out = subprocess.run([binary, "--format", "json", "--only", "syscalls", "--seccomp-profile", profile],
                             capture_output=True, text=True).stdout
        facts = json.loads(out)["probes"][0]["facts"]
        if facts.get("oracle"):
            oracle_us.append(facts["oracle"]["us"])
    print(f"what-if    under Docker's default profile, {runs} runs: median {whatif['median_ms']:.1f} ms, "
          f"p90 {whatif['p90_ms']:.1f} ms; the exact map (oracle) itself: median "
          f"{statistics.median(oracle_us) / 1000 if oracle_us else float('nan'):.1f} ms of 10 runs")
baseline = series(["--version"], 10)
print(f"start-up   culprit --version: median {baseline['median_ms']:.1f} ms, peak RSS {baseline['peak_rss_mib']:.1f} MiB")
targets = [("full run under 50 ms", full["median_ms"] < 50), ("peak memory under 20 MiB", full["peak_rss_mib"] < 20),
           ("binary under 12 MiB", size < 12 * 1048576)]
print("targets    " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, ok in targets))
PY
