#!/usr/bin/env bash
# Set up and run the test suite: install the Debian packages, configure the
# build directory (warnings are errors, tests required), compile, run
# `meson test`, then the Go, Rust and Python bindings' tests against the
# library installed in a scratch prefix (scripts/test_bindings.sh). Run from
# anywhere; works on a fresh Debian 12 as root.
#
# Env: BUILD_DIR (default: build, relative to the repo root);
# PM_SKIP_BINDINGS=1 runs the library's own tests only.
# Extra arguments go to `meson test` (e.g. a suite name, --repeat 10), and
# then only the library's tests run.
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
pm_install_deps

BUILD_DIR="${BUILD_DIR:-build}"
mkdir -p "$BUILD_DIR"
# meson's own set-up and compile output goes to a file; a failure prints its tail.
build_log="$BUILD_DIR/test-build.log"
if ! {
  if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
    # An existing build directory (perhaps set up by demo.sh): make sure the
    # tests are built and warnings still fail the build.
    meson configure "$BUILD_DIR" -Dtests=enabled -Dwerror=true
  else
    meson setup "$BUILD_DIR" -Dtests=enabled -Dwerror=true
  fi
  meson compile -C "$BUILD_DIR"
} > "$build_log" 2>&1; then
  tail -n 60 "$build_log"
  echo "build: FAILED (log: $build_log)"
  echo "tests: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
echo "build: ok (log: $build_log)"

# meson test prints a line per test as it ends (and a failing test's log);
# its closing table of counts stays in its own log file, so this script's
# counted lines are the only summary in the output.
set +e
meson test -C "$BUILD_DIR" --no-rebuild --print-errorlogs "$@" 2>&1 |
  grep --line-buffered -v -E '^(Ok|Expected Fail|Fail|Unexpected Pass|Skipped|Timeout): +[0-9]+ *$|^Full log written to |^$'
status=${PIPESTATUS[0]}
set -e

# One closing line that any CI log reader understands.
log="$BUILD_DIR/meson-logs/testlog.json"
passed=0 failed=0 skipped=0
if [[ -f "$log" ]]; then
  passed=$(grep -c '"result": "OK"' "$log" || true)
  skipped=$(grep -c '"result": "SKIP"' "$log" || true)
  failed=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
fi
[[ $status -ne 0 && $failed -eq 0 ]] && failed=1 # meson itself failed
echo "library tests: $passed passed, $failed failed, $skipped skipped (log: $BUILD_DIR/meson-logs/testlog.txt)"

# The bindings, each counted by its own test runner.
if [[ "${PM_SKIP_BINDINGS:-0}" != 1 && $# -eq 0 ]]; then
  bindings_log="$BUILD_DIR/test-bindings.log"
  brc=0
  BUILD_DIR="$BUILD_DIR" bash scripts/test_bindings.sh 2>&1 | tee "$bindings_log" || brc=$?
  [[ $brc -ne 0 ]] && status=1
  line="$(grep -E '^bindings: [0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$bindings_log" | tail -n 1 || true)"
  if [[ "$line" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped ]]; then
    passed=$((passed + BASH_REMATCH[1]))
    failed=$((failed + BASH_REMATCH[2]))
    skipped=$((skipped + BASH_REMATCH[3]))
  else
    failed=$((failed + 1))
    status=1
  fi
fi

echo "tests: $passed passed, $failed failed, $skipped skipped"
if [[ $status -eq 0 && $passed -eq 0 ]]; then
  echo "tests: no test ran" >&2
  status=1
fi
exit "$status"
