#!/usr/bin/env bash
# The soak test (opt-in, not part of CI): random maps with random faults for
# SOAK_SECONDS seconds, each checked against what was injected, with
# descriptors, child processes and memory checked to stay flat. Prints one
# summary line (soak: PASS|FAIL: ...); exit status 0 only on PASS.
#
# Env: SOAK_SECONDS (default 600), SOAK_SEED (default: from the clock; a
# failure prints the seed and map to replay), BUILD_DIR (default: build).
# Extra arguments go to the soak program (e.g. --verbose).
#   bash scripts/soak.sh
#   SOAK_SECONDS=60 SOAK_SEED=1 bash scripts/soak.sh
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
pm_install_deps

BUILD_DIR="${BUILD_DIR:-build}"
if [[ ! -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  meson setup "$BUILD_DIR" -Dtests=enabled -Dwerror=true
fi
meson compile -C "$BUILD_DIR" tests/soak/soak

args=(--seconds "${SOAK_SECONDS:-600}")
[[ -n "${SOAK_SEED:-}" ]] && args+=(--seed "$SOAK_SEED")
exec "$BUILD_DIR/tests/soak/soak" "${args[@]}" "$@"
