"""Checks scripts/vm-matrix.sh's results against expect.table (and trace-expect.table).

    check.py TABLE [TABLE...] OUTDIR

Each row of the table is `SCENARIO CHECK ARGS...`:
  verdict PROBE STATUS[/LAYER]   culprit's verdict, and the observer's (record.json) too
  fact PROBE PATH=VALUE          a fact of culprit's verdict (dotted path; null, true, numbers)
  summary|evidence|hint PROBE TEXT     the text contains TEXT (evidence: one of its sentences)
  nosummary|noevidence|nohint PROBE TEXT   it does not
  gt KEY=VALUE                   the ground-truth program printed KEY=VALUE (every KEY line)
  kernel TEXT                    the scenario's kernel log contains TEXT
  nokernel TEXT                  it does not
  tracing KEY=VALUE | KEY~TEXT  `culprit trace`'s tracing section (trace.json): a field's value,
                                 or a field (string or list) containing TEXT
  battery PROBE STATUS[/LAYER]   a probe of the battery in trace.json (no observer run)
  mattered KEY=VALUE | KEY~TEXT  the failure that mattered of a traced command (trace.json)
Every scenario of the tables must be present in OUTDIR, and every scenario in OUTDIR in a table.
"""
import json
import os
import sys


def parse_table(path):
    rows = []
    for number, line in enumerate(open(path), 1):
        line = line.split(" #", 1)[0].strip() if not line.lstrip().startswith("#") else ""
        if not line:
            continue
        parts = line.split(None, 2)
        if len(parts) < 3:
            sys.exit(f"{path}:{number}: a row needs SCENARIO CHECK ARGS")
        rows.append((number, parts[0], parts[1], parts[2]))
    return rows


def probes_of(path):
    try:
        report = json.load(open(path))
    except (OSError, ValueError) as error:
        return None, f"{os.path.basename(path)} unreadable: {error}"
    return {p["id"]: p for p in report.get("probes", [])}, None


def lookup(facts, dotted):
    value = facts
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return "<missing>"
    return value


def shown(value):
    if value is None: return "null"
    if value is True: return "true"
    if value is False: return "false"
    return str(value)


def check_field(obj, args):
    """KEY~TEXT: the field (a list is joined by lines) contains TEXT; KEY=VALUE: it is VALUE.
    None when it holds, else what was found (with the object's reason)."""
    if "~" in args and ("=" not in args or args.index("~") < args.index("=")):
        key, _, text = args.partition("~")
        value = obj.get(key)
        value = "\n".join(value) if isinstance(value, list) else (value or "")
        return None if text in value else f"{key}: {value[:300]}"
    key, _, want = args.partition("=")
    got = shown(obj.get(key, "<missing>"))
    return None if got == want else f"{key} is {got}: {obj.get('reason')}"


def check_row(kind, args, culprit, record, gt_lines, kernel, trace=None):
    """Returns None when the row holds, else what was found."""
    if kind == "mattered":
        if trace is None: return "no trace.json"
        section = trace.get("trace") or {}
        index = section.get("mattered")
        if index is None: return "no failure mattered"
        return check_field(section["findings"][index], args)
    if kind in ("tracing", "battery"):
        if trace is None: return "no trace.json"
        if kind == "battery":
            probe_id, _, want = args.partition(" ")
            probe = next((p for p in trace.get("probes") or [] if p["id"] == probe_id), None)
            if probe is None: return f"the battery has no {probe_id}"
            got = probe["status"] + (f"/{probe['layer']}" if probe.get("layer") else "")
            return None if got == want else f"the battery said {got}: {probe['summary']}"
        return check_field((trace.get("trace") or {}).get("tracing") or {}, args)
    if kind in ("gt",):
        key, _, want = args.partition("=")
        found = [line.split("=", 1)[1] for line in gt_lines if line.startswith(key + "=")]
        if not found: return f"gt printed no {key}"
        bad = [f for f in found if f != want]
        return f"gt printed {key}={','.join(found)}" if bad else None
    if kind == "kernel":
        return None if args in kernel else "not in the kernel log"
    if kind == "nokernel":
        return "in the kernel log" if args in kernel else None
    probe_id, _, rest = args.partition(" ")
    probe = culprit.get(probe_id) if culprit else None
    if probe is None: return f"culprit reported no {probe_id}"
    if kind == "verdict":
        got = probe["status"] + (f"/{probe['layer']}" if probe.get("layer") else "")
        if got != rest: return f"culprit said {got}: {probe['summary']}"
        observed = (record or {}).get(probe_id)
        if observed is None: return "the observer reported nothing"
        again = observed["status"] + (f"/{observed['layer']}" if observed.get("layer") else "")
        return None if again == rest else f"the observer's run said {again}: {observed['summary']}"
    if kind == "fact":
        path, _, want = rest.partition("=")
        got = shown(lookup(probe.get("facts", {}), path))
        return None if got == want else f"{path} is {got}"
    field = kind[2:] if kind.startswith("no") else kind
    text = probe.get(field) or ""
    if field == "evidence": text = "\n".join(text)
    present = rest in text
    if kind.startswith("no"): return f"{field} contains it" if present else None
    return None if present else f"{field}: {text[:300]}"


def main(table_paths, outdir):
    rows = [row for path in table_paths for row in parse_table(path)]
    table_path = " or ".join(table_paths)
    scenarios = sorted({row[1] for row in rows})
    present = sorted(d for d in os.listdir(outdir) if os.path.isdir(os.path.join(outdir, d)))
    failures = []
    for name in sorted(set(present) - set(scenarios)):
        failures.append(f"{name}: ran in the VM but has no row in {table_path}")
    cache = {}
    for number, name, kind, args in rows:
        if name not in cache:
            d = os.path.join(outdir, name)
            if not os.path.isdir(d):
                cache[name] = None
            else:
                culprit, _ = probes_of(os.path.join(d, "culprit.json"))
                record, _ = probes_of(os.path.join(d, "record.json"))
                gt = open(os.path.join(d, "gt.txt")).read().splitlines() if os.path.exists(os.path.join(d, "gt.txt")) else []
                kernel = open(os.path.join(d, "kernel.log"), errors="replace").read() if os.path.exists(os.path.join(d, "kernel.log")) else ""
                trace = None
                if os.path.exists(os.path.join(d, "trace.json")):
                    try:
                        trace = json.load(open(os.path.join(d, "trace.json")))
                    except ValueError:
                        trace = None
                cache[name] = (culprit, record, gt, kernel, trace)
        if cache[name] is None:
            failures.append(f"{name}: did not run (line {number})")
            continue
        problem = check_row(kind, args, *cache[name])
        mark = "ok  " if problem is None else "FAIL"
        print(f"{mark} {name:20} {kind:10} {args}" + ("" if problem is None else f"\n       -> {problem}"))
        if problem is not None:
            failures.append(f"{name} {kind} {args}: {problem}")
    print(f"vm-matrix: {len(rows) - len(failures)} of {len(rows)} checks hold in {len(scenarios)} scenarios")
    if failures:
        print("vm-matrix: FAILED:\n  " + "\n  ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: check.py TABLE [TABLE...] OUTDIR")
    sys.exit(main(sys.argv[1:-1], sys.argv[-1]))
