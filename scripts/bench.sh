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
# The bindings' rows: the library is installed in a prefix inside the build
# folder and each binding's program is built against it
# (bindings/<lang>/build_bench_rows.sh, with a run path to that prefix;
# Debian's cargo, rustc, golang-go and python3-dev are installed for them);
# a binding whose program does not
# build keeps its rows at "n/a", with a line on stderr saying why.
# --no-bindings skips them.
#
# Usage: bash scripts/bench.sh [--quick] [--no-bindings] [pmbench options]
#   e.g. bash scripts/bench.sh --quiet > bench.md
#        bash scripts/bench.sh --workloads 1,3 --trivial-items 1000000 --runs 7
#        bash scripts/bench.sh --help          (every option and its default)
# Env: BUILD_DIR (default: build-release, relative to the repo root);
#      JOBS, parallel compile jobs (default 2).
set -euo pipefail

cd "$(dirname "$0")/.."
bindings=1
for a in "$@"; do
  [[ "$a" == --no-bindings ]] && bindings=0
done
source scripts/deps.sh
if (( bindings )); then
  pm_packages+=(cargo rustc golang-go gcc libc6-dev python3-dev)
fi
# Only the tables go to stdout: everything before them goes to stderr.
pm_install_deps >&2

BUILD_DIR="${BUILD_DIR:-build-release}"
prefix="$PWD/$BUILD_DIR/bench-prefix"
if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  meson configure "$BUILD_DIR" -Dbuildtype=release -Dbench=true --prefix "$prefix" \
    --libdir lib >&2
else
  meson setup "$BUILD_DIR" -Dbuildtype=release -Dbench=true -Dexamples=false \
    -Dtests=disabled --prefix "$prefix" --libdir lib >&2
fi
meson compile -C "$BUILD_DIR" -j "${JOBS:-2}" bench/pmbench >&2
if [[ ! -x /usr/bin/python3 ]]; then
  echo "bench: /usr/bin/python3 is missing: the Python rows will say n/a" >&2
fi
if (( bindings )); then
  meson compile -C "$BUILD_DIR" -j "${JOBS:-2}" >&2
  rm -rf "$prefix"
  meson install -C "$BUILD_DIR" --quiet >&2
  for lang in python rust go; do
    echo "bench: building the $lang binding's rows" >&2
    if ! bash "bindings/$lang/build_bench_rows.sh" "$prefix" >&2; then
      echo "bench: the $lang binding's program did not build: its rows say n/a" >&2
    fi
  done
fi
exec "$BUILD_DIR/bench/pmbench" "$@"
