#!/usr/bin/env bash
# Build a release copy of the library and run bench/trivial_items: items/s
# for trivial items, parmapper vs a serial loop, median of several runs.
# Run from anywhere.
#
# Env: BUILD_DIR (default: build-release, relative to the repo root).
# Arguments go to the benchmark: [items [processes [runs]]].
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
pm_install_deps

BUILD_DIR="${BUILD_DIR:-build-release}"
if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  meson configure "$BUILD_DIR" -Dbuildtype=release -Dbench=true
else
  meson setup "$BUILD_DIR" -Dbuildtype=release -Dbench=true -Dexamples=false -Dtests=disabled
fi
meson compile -C "$BUILD_DIR" bench/trivial_items
echo
"$BUILD_DIR/bench/trivial_items" "$@"
