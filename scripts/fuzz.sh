#!/usr/bin/env bash
# Fuzzes culprit's parsers with libFuzzer (swiftc -sanitize=fuzzer; Fuzz/FuzzTargets.swift):
#   scripts/fuzz.sh [SECONDS] [TARGET…]     default: 60 seconds each of profile, report, proc
#   CULPRIT_FUZZ_RUNS=N scripts/fuzz.sh       N inputs each from a fixed seed (what scripts/test.sh runs)
# CULPRIT_FUZZ_OPT=-Onone builds faster (about a minute instead of three) and runs slower.
# Targets: profile (--seccomp-profile files), report (diff's reports), proc (/proc and /sys
# files, through every in-process probe and the renderers).
# The corpus of each target lives in .fuzz/corpus/TARGET (kept between runs, seeded from the
# real fixtures in Tests/CulpritCoreTests); crashers go to Tests/fuzz-crashers/TARGET, where
# every later run replays them first (commit them with the fix). Exits 1 when a target found
# a new crasher or an old one still crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(profile report proc)

build=.build-fuzz
binary=$build/culprit-fuzz
mkdir -p "$build"
fixtures=Tests/CulpritCoreTests/Fixtures
proc_fixture=$fixtures/docker-debian-default

# One module of CulpritCore's sources and the driver, with the C shims beside it.
sources=$(find Sources/CulpritCore Fuzz -name '*.swift' | sort)
if [ ! -x "$binary" ] || [ -n "$(find $sources Sources/CCulprit schema/report.schema.json data/known-bugs.json -newer "$binary" 2>/dev/null | head -1)" ]; then
  echo "fuzz: building $binary" >&2
  rm -f "$binary"
  cat > "$build/module.modulemap" <<MAP
module CCulprit {
  header "$PWD/Sources/CCulprit/include/CCulprit.h"
  export *
}
MAP
  # What Plugins/EmbedReportSchema generates for the package build.
  { printf 'let reportSchemaText = ##"""\n'; cat schema/report.schema.json; printf '\n"""##\n'; } > "$build/ReportSchemaText.swift"
  { printf 'let knownBugsText = ##"""\n'; cat data/known-bugs.json; printf '\n"""##\n'; } > "$build/KnownBugsText.swift"
  objects=()
  for c in Sources/CCulprit/*.c; do
    clang -c -O1 -g -fsanitize=fuzzer-no-link -I Sources/CCulprit/include "$c" -o "$build/$(basename "$c" .c).o"
    objects+=("$build/$(basename "$c" .c).o")
  done
  # shellcheck disable=SC2086
  swiftc -sanitize=fuzzer -parse-as-library "${CULPRIT_FUZZ_OPT:--O}" -g -module-name CulpritFuzz -swift-version 6 \
    -Xcc -fmodule-map-file="$build/module.modulemap" -I Sources/CCulprit/include \
    $sources "$build/ReportSchemaText.swift" "$build/KnownBugsText.swift" "${objects[@]}" -lseccomp -o "$binary" 2>&1 \
    | grep -v -e '^$' -e 'warning:' -e '^ *|' -e '^ *[0-9]* |' -e "^ *\`-" >&2 || true
  [ -x "$binary" ] || { echo "fuzz: the build failed" >&2; exit 1; }
fi

# The proc target's fixture files, relative to its root, one a line.
files=$(cd "$proc_fixture/root" && find . -type f | sed 's|^\.||' | sort)
export CULPRIT_FUZZ_FIXTURE=$proc_fixture CULPRIT_FUZZ_FILES=$files

seed() {
  local target=$1 corpus=$2
  case $target in
    profile)
      cp "$fixtures"/seccomp-profiles/*.json "$corpus"/
      [ -d ../shared/data/seccomp-profiles ] && cp ../shared/data/seccomp-profiles/*.json "$corpus"/ 2>/dev/null || true ;;
    report)
      cp "$fixtures"/Golden/report.json "$corpus"/golden.json 2>/dev/null \
        || cp Tests/CulpritCoreTests/Golden/report.json "$corpus"/golden.json
      for d in "$fixtures"/*/; do [ -f "$d/report.json" ] && cp "$d/report.json" "$corpus/$(basename "$d").json"; done
      true ;;
    proc)
      # One seed per file of every fixture: the selector byte, then the real content.
      local i=0
      while IFS= read -r path; do
        for d in "$fixtures"/*/root; do
          [ -f "$d$path" ] && { printf "\\$(printf '%03o' $((i % 256)))"; cat "$d$path"; } > "$corpus/$(echo "$d$path" | tr / _)"
        done
        i=$((i + 1))
      done <<< "$files" ;;
  esac
}

# Swift's own backtracer would take the fatal signals before libFuzzer could keep the input.
export SWIFT_BACKTRACE=enable=no

# The harness itself: a trap must be caught, reported and its input kept.
selftest=$(mktemp -d /tmp/culprit-fuzz-selftest.XXXXXX)
mkdir "$selftest/corpus"
printf 'culprit-fuzz-selftest' > "$selftest/corpus/input"
if CULPRIT_FUZZ_SELFTEST=1 CULPRIT_FUZZ_TARGET=report "$binary" -runs=10 -artifact_prefix="$selftest/" "$selftest/corpus" \
    > "$selftest/log" 2>&1 || ! grep -q 'fuzz self-test' "$selftest/log" || ! ls "$selftest"/crash-* >/dev/null 2>&1; then
  echo "fuzz: the harness does not catch a trap:" >&2
  tail -5 "$selftest/log" >&2
  rm -rf "$selftest"
  exit 1
fi
rm -rf "$selftest"

status=0
for target in "${targets[@]}"; do
  corpus=.fuzz/corpus/$target
  crashers=Tests/fuzz-crashers/$target
  mkdir -p "$corpus" "$crashers"
  [ -n "$(ls -A "$corpus")" ] || seed "$target" "$corpus"
  export CULPRIT_FUZZ_TARGET=$target
  # Old crashers first: each must now pass.
  for crasher in "$crashers"/*; do
    [ -f "$crasher" ] || continue
    if ! "$binary" "$crasher" >/dev/null 2>&1; then
      echo "fuzz: $target: $crasher still crashes:" >&2
      "$binary" "$crasher" 2>&1 | grep -v '^INFO' | head -20 >&2 || true
      status=1
    fi
  done
  log=.fuzz/$target.log
  if [ -n "${CULPRIT_FUZZ_RUNS:-}" ]; then amount="$CULPRIT_FUZZ_RUNS inputs"; else amount="${seconds}s"; fi
  echo "fuzz: $target for $amount (corpus $corpus: $(ls "$corpus" | wc -l) inputs)" >&2
  # CULPRIT_FUZZ_RUNS (what scripts/test.sh sets) makes a run reproducible: that many inputs
  # from a fixed seed, instead of a time.
  if [ -n "${CULPRIT_FUZZ_RUNS:-}" ]; then budget=(-runs="$CULPRIT_FUZZ_RUNS" -seed=1); else budget=(-max_total_time="$seconds"); fi
  if "$binary" "${budget[@]}" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$crashers/" -print_final_stats=1 "$corpus" > "$log" 2>&1; then
    grep -E '^stat::number_of_executed_units' "$log" | sed "s/^/fuzz: $target: /" >&2 || true
  else
    echo "fuzz: $target found a crasher (in $crashers; log $log):" >&2
    grep -E 'Fatal error|ERROR|SUMMARY|==[0-9]+==' "$log" | head -10 >&2 || true
    status=1
  fi
done
exit $status
