#!/usr/bin/env bash
# Builds culprit as one fully static, stripped binary: dist/culprit.
#   scripts/build-static.sh            culprit only
#   scripts/build-static.sh --testkit  also dist/culprit-testkit (the tests' helper)
# Needs Swift 6.x and Debian's libseccomp-dev (its libseccomp.a is linked in).
set -euo pipefail
cd "$(dirname "$0")/.."

products=(culprit)
[ "${1:-}" = "--testkit" ] && products+=(culprit-testkit)

# A scratch path of its own, so the static flags never invalidate the debug build in .build.
scratch=.build-static
mkdir -p dist
for product in "${products[@]}"; do
  swift build -c release --scratch-path "$scratch" -Xswiftc -static-executable --product "$product" >&2
  cp "$scratch/release/$product" "dist/$product"
  strip "dist/$product"
done

if ! file dist/culprit | grep -q 'statically linked'; then
  echo "build-static: dist/culprit is not statically linked:" >&2
  file dist/culprit >&2
  exit 1
fi
for product in "${products[@]}"; do
  size=$(stat -c %s "dist/$product")
  printf 'dist/%s: %d bytes (%.1f MiB), %s\n' "$product" "$size" "$(echo "$size / 1048576" | bc -l)" \
    "$(file -b "dist/$product" | cut -d, -f1-5)"
done
