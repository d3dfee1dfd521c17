#!/usr/bin/env bash
# Set up and run the demo: install the Debian packages, configure and build
# the library and examples/demo, then run it (serial loop vs parmapper).
# Run from anywhere; works on a fresh Debian 12 as root.
#
# Env: BUILD_DIR (default: build, relative to the repo root).
# Arguments go to the demo: [items [processes]].
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
pm_install_deps

BUILD_DIR="${BUILD_DIR:-build}"
if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  meson configure "$BUILD_DIR" -Dexamples=true
else
  meson setup "$BUILD_DIR" -Dexamples=true
fi
meson compile -C "$BUILD_DIR" examples/demo
echo
"$BUILD_DIR/examples/demo" "$@"
