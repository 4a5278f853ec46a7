#!/usr/bin/env python3
"""The container matrix's data work, for scripts/container-matrix.sh.

  container_matrix.py configs TABLE             the configurations of the table, in order
  container_matrix.py profiles MOBY_JSON DIR    writes the matrix's seccomp profiles, derived
                                                from moby's default.json, into DIR
  container_matrix.py check TABLE OUTDIR HOST_JSON PROBE_IDS [CONFIG...]
                                                compares OUTDIR/<config>.json with the table,
                                                prints every wrong verdict with the probe's
                                                summary and evidence, then the configuration
                                                x probe table; exits 1 on any wrong verdict

The table (scripts/container-matrix.table) has one line per configuration and probe:

  CONFIG  PROBE  VERDICT  [FACT=VALUE ...]

VERDICT is a status (ok, info, skipped, error) or STATUS/LAYER for degraded and blocked
(degraded/network, blocked/seccomp); `any` accepts every verdict and must come with a comment
saying why. A FACT is a dotted path into the probe's facts (clone3.answer, pids.max,
targets.child.result; in a list, an index or the "id"/"name" of an element:
syscalls.clone3.classification, names[test.culprit].new_thread.status); VALUE is compared with the fact written as JSON without quotes (null,
true, 3, seccomp-enosys), or `@host`: the value the same probe reports on the host itself,
outside any container (for facts that belong to the machine, such as Yama's presence).
"""
import copy
import json
import os
import re
import sys

# Status and layer abbreviations for the summary table.
STATUS = {"ok": "ok", "info": "info", "skipped": "skip", "error": "ERR", "degraded": "deg", "blocked": "blk"}
LAYER = {
    "seccomp": "sec", "capabilities": "cap", "yama": "yama", "lsm": "lsm", "cgroup-devices": "dev",
    "cgroup-pids": "pids", "userns": "userns", "mount": "mnt", "rlimit": "rlim", "kernel": "kern",
    "network": "net", "resolver-config": "rconf", "proxy": "prx", "unknown": "unk",
}


def parse_table(path):
    """[(config, probe, verdict, [(fact, value)], line number)] in file order."""
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            fields = text.split()
            if len(fields) < 3:
                raise SystemExit(f"{path}:{number}: need CONFIG PROBE VERDICT [FACT=VALUE ...]: {line.rstrip()}")
            facts = []
            for item in fields[3:]:
                if "=" not in item:
                    raise SystemExit(f"{path}:{number}: a fact is PATH=VALUE, not {item!r}")
                key, value = item.split("=", 1)
                facts.append((key, value))
            rows.append((fields[0], fields[1], fields[2], facts, number))
    return rows


def configs_in(rows):
    seen = []
    for config, *_ in rows:
        if config not in seen:
            seen.append(config)
    return seen


def path_parts(path):
    """names[test.culprit].new_thread -> ["names", "test.culprit", "new_thread"]."""
    return [a or b for a, b in re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", path)]


def lookup(facts, path):
    """The fact at a dotted path; in a list, a number is an index and a name picks the element
    whose "id" or "name" it is (syscalls.clone3.classification, names[test.culprit].new_thread)."""
    value = facts
    for part in path_parts(path):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, list):
            found = [e for e in value if isinstance(e, dict) and part in (e.get("id"), e.get("name"))]
            if not found:
                return ("missing",)
            value = found[0]
        else:
            return ("missing",)
    return value


def shown(value):
    """A fact as the table writes it: JSON without the quotes of a string."""
    if value == ("missing",):
        return "(missing)"
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def verdict_of(probe):
    status = probe.get("status")
    layer = probe.get("layer")
    return f"{status}/{layer}" if layer else status


def short(probe):
    if probe is None:
        return "-"
    status = STATUS.get(probe.get("status"), probe.get("status"))
    layer = probe.get("layer")
    return f"{status}:{LAYER.get(layer, layer)}" if layer else status


def check(table, outdir, host_json, probe_ids, only):
    rows = parse_table(table)
    probe_ids = probe_ids.split(",")
    configs = [c for c in configs_in(rows) if not only or c in only]
    host = {}
    try:
        host = {p["id"]: p for p in json.load(open(host_json))["probes"]}
    except (OSError, ValueError, KeyError) as err:
        print(f"container-matrix: no host report ({err}); @host facts cannot be checked", file=sys.stderr)

    problems = 0
    cells = {}
    for config in configs:
        expected = {probe: (verdict, facts, number) for c, probe, verdict, facts, number in rows if c == config}
        # Every probe of `culprit --list`, in every configuration, and nothing else.
        for probe in probe_ids:
            if probe not in expected:
                print(f"TABLE  {config}: no expectation for probe {probe}")
                problems += 1
        for probe in expected:
            if probe not in probe_ids:
                print(f"TABLE  {config}: {probe} is not a probe of culprit --list")
                problems += 1
        path = os.path.join(outdir, f"{config}.json")
        try:
            report = json.load(open(path))
            results = {p["id"]: p for p in report["probes"]}
        except (OSError, ValueError, KeyError) as err:
            print(f"FAIL   {config}: no report ({err}); see {os.path.join(outdir, config + '.log')}")
            problems += 1
            for probe in probe_ids:
                cells[(config, probe)] = ("-", True)
            continue
        for probe in probe_ids:
            result = results.get(probe)
            verdict, facts, number = expected.get(probe, ("?", [], 0))
            wrong = []
            if result is None:
                wrong.append("the report has no such probe")
            else:
                if verdict != "any" and verdict_of(result) != verdict:
                    wrong.append(f"verdict {verdict_of(result)}, expected {verdict}")
                for key, want in facts:
                    got = lookup(result.get("facts", {}), key)
                    if want == "@host":
                        base = lookup(host.get(probe, {}).get("facts", {}), key)
                        if base == ("missing",) or shown(got) != shown(base):
                            wrong.append(f"fact {key} = {shown(got)}, expected the host's {shown(base)}")
                    elif shown(got) != want:
                        wrong.append(f"fact {key} = {shown(got)}, expected {want}")
            cells[(config, probe)] = (short(result), bool(wrong))
            if wrong:
                problems += 1
                print(f"WRONG  {config} / {probe} (table line {number}): " + "; ".join(wrong))
                if result is not None:
                    print(f"         summary: {result.get('summary')}")
                    for sentence in result.get("evidence", []):
                        print(f"         - {sentence}")
    print_table(configs, probe_ids, cells)
    return problems


def print_table(configs, probe_ids, cells):
    width = max(len(c) for c in configs) if configs else 6
    columns = [max(len(p), *(len(cells.get((c, p), ("-", False))[0]) + 1 for c in configs)) for p in probe_ids]
    print()
    print(" " * width + "  " + "  ".join(p.ljust(w) for p, w in zip(probe_ids, columns)))
    for config in configs:
        line = []
        for probe, w in zip(probe_ids, columns):
            text, wrong = cells.get((config, probe), ("-", False))
            line.append((text + ("!" if wrong else "")).ljust(w))
        print(config.ljust(width) + "  " + "  ".join(line))
    print()
    print("ok/info/skip: status; deg:LAYER degraded, blk:LAYER blocked (sec seccomp, cap capabilities, "
          "dev cgroup-devices, pids cgroup-pids, mnt mount, net network, rconf resolver-config, userns); "
          "! marks a wrong verdict.")


# Names that x86_64 numbers 435 and above (arch/x86/entry/syscalls/syscall_64.tbl): a profile
# that names none of them leaves clone3 to runc's -ENOSYS stub.
NEW_CALLS = {
    "clone3", "close_range", "openat2", "pidfd_getfd", "faccessat2", "process_madvise", "epoll_pwait2",
    "mount_setattr", "quotactl_fd", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
    "memfd_secret", "process_mrelease", "futex_waitv", "set_mempolicy_home_node", "cachestat", "fchmodat2",
    "map_shadow_stack", "futex_wake", "futex_wait", "futex_requeue", "statmount", "listmount",
    "lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules", "mseal", "setxattrat", "getxattrat",
    "listxattrat", "removexattrat", "open_tree_attr", "file_getattr", "file_setattr",
}


def without(profile, names):
    profile = copy.deepcopy(profile)
    for rule in profile["syscalls"]:
        rule["names"] = [n for n in rule["names"] if n not in names]
    profile["syscalls"] = [r for r in profile["syscalls"] if r["names"]]
    return profile


def profiles(moby, outdir):
    """The profiles the matrix gives Docker, each derived from moby's default.json."""
    base = json.load(open(moby))
    os.makedirs(outdir, exist_ok=True)
    made = {}
    # Docker 20.10.0-20.10.9 (and Concourse 7.13's release candidates): no clone3 rule, an EPERM
    # default, and calls above 435 named, so runc's -ENOSYS stub does not cover clone3.
    made["no-clone3"] = without(base, {"clone3"})
    # The same with the entry the thread probe's hint gives: the walkthrough's "after".
    fixed = without(base, {"clone3"})
    fixed["syscalls"].append({"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38})
    made["clone3-enosys"] = fixed
    # ptrace killed (what a profile written with SCMP_ACT_KILL_PROCESS for "dangerous" calls does).
    killing = without(base, {"ptrace"})
    killing["syscalls"].append({"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"})
    made["ptrace-kill"] = killing
    # An old profile (the docker/labs one of moby#42680): nothing numbered 435 or above named,
    # EPERM default; runc's stub answers clone3 ENOSYS.
    made["old-no-new-calls"] = without(base, NEW_CALLS)
    for name, profile in made.items():
        with open(os.path.join(outdir, f"{name}.json"), "w") as f:
            json.dump(profile, f, indent="\t")
            f.write("\n")


def main(argv):
    if len(argv) >= 2 and argv[1] == "configs":
        print("\n".join(configs_in(parse_table(argv[2]))))
        return 0
    if len(argv) == 4 and argv[1] == "profiles":
        profiles(argv[2], argv[3])
        return 0
    if len(argv) >= 6 and argv[1] == "check":
        return 1 if check(argv[2], argv[3], argv[4], argv[5], argv[6:]) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
