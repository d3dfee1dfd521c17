#!/usr/bin/env bash
# Build release copies of the library and of the benchmark suite
# (bench/pmbench, issue 11), then run it: one Markdown table per workload
# on stdout (trivial items, CPU-bound items, 1 MiB results, pool start and
# stop, the caller's peak memory, item sizes), each with a serial loop, the
# hand-written fork+pipe pool (the ceiling), Python's Pool.imap, and
# libparmapper through the C API and the C++ layer, then the targets of
# issue 11 met or missed. Progress lines go to stderr. The full run takes
# about 20 minutes on a quiet 2-core machine; --quick a few minutes. Run from
# anywhere; works on a fresh Debian 12 as root (packages via apt-get).
#
# Usage: bash scripts/bench.sh [--quick] [pmbench options]
#   e.g. bash scripts/bench.sh --quiet > bench.md
#        bash scripts/bench.sh --workloads 1,3 --trivial-items 1000000 --runs 7
#        bash scripts/bench.sh --help          (every option and its default)
# Env: BUILD_DIR (default: build-release, relative to the repo root);
#      JOBS, parallel compile jobs (default 2).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
# Only the tables go to stdout: everything before them goes to stderr.
pm_install_deps >&2

BUILD_DIR="${BUILD_DIR:-build-release}"
if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  meson configure "$BUILD_DIR" -Dbuildtype=release -Dbench=true >&2
else
  meson setup "$BUILD_DIR" -Dbuildtype=release -Dbench=true -Dexamples=false \
    -Dtests=disabled >&2
fi
meson compile -C "$BUILD_DIR" -j "${JOBS:-2}" bench/pmbench >&2
if [[ ! -x /usr/bin/python3 ]]; then
  echo "bench: /usr/bin/python3 is missing: the Python rows will say n/a" >&2
fi
exec "$BUILD_DIR/bench/pmbench" "$@"
