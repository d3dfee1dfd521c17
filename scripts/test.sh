#!/usr/bin/env bash
# Set up and run the test suite: install the Debian packages, configure the
# build directory (warnings are errors, tests required), compile, run
# `meson test`. Run from anywhere; works on a fresh Debian 12 as root.
#
# Env: BUILD_DIR (default: build, relative to the repo root).
# Extra arguments go to `meson test` (e.g. a suite name, --repeat 10).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
pm_install_deps

BUILD_DIR="${BUILD_DIR:-build}"
if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  # An existing build directory (perhaps set up by demo.sh): make sure the
  # tests are built and warnings still fail the build.
  meson configure "$BUILD_DIR" -Dtests=enabled -Dwerror=true
else
  meson setup "$BUILD_DIR" -Dtests=enabled -Dwerror=true
fi
meson compile -C "$BUILD_DIR"

status=0
meson test -C "$BUILD_DIR" --print-errorlogs "$@" || status=$?

# One closing line that any CI log reader understands.
log="$BUILD_DIR/meson-logs/testlog.json"
passed=0 failed=0 skipped=0
if [[ -f "$log" ]]; then
  passed=$(grep -c '"result": "OK"' "$log" || true)
  skipped=$(grep -c '"result": "SKIP"' "$log" || true)
  failed=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [[ $status -eq 0 && $passed -eq 0 ]]; then
  echo "tests: no test ran" >&2
  status=1
fi
exit "$status"
