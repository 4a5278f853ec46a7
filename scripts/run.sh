#!/usr/bin/env bash
# The first command on a fresh machine: installs what building needs (scripts/bootstrap.sh
# --build), builds the static binary (dist/culprit) and runs it. Arguments go to culprit:
#   scripts/run.sh                      the full text report
#   scripts/run.sh --format markdown    any of culprit's options
# It runs under `unshare -n` (no network), so that the getaddrinfo probe never asks this
# machine's nameservers; inside a container, run dist/culprit itself.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --build
scripts/build-static.sh >&2
exec unshare -n dist/culprit "$@"
