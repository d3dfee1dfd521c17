#!/usr/bin/env bash
# Builds the Python binding's extension in place (importable from
# bindings/python, as bench_rows.py imports it) against the libparmapper
# installed in PREFIX, for pmbench's Python binding rows, and leaves the
# stamp bindings/python/.bench_rows_built that pmbench looks for. Used by
# scripts/bench.sh; needs gcc and python3-dev (scripts/bench.sh installs
# them). Quiet on success; the build's output goes to stderr on failure.
#
# Usage: bindings/python/build_bench_rows.sh PREFIX
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PREFIX" >&2
  exit 2
fi
prefix="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
rm -f "$here/.bench_rows_built"
if ! (cd "$here" && /usr/bin/python3 setup.py -q build_ext --inplace --force \
        --build-temp "${TMPDIR:-/tmp}/pm-python-bench-build") > "$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
# The program must import it: a build that cannot be used is no build.
if ! (cd "$here" && /usr/bin/python3 -c 'import parmapper') > "$log" 2>&1; then
  cat "$log" >&2
  exit 1
fi
echo "$prefix" > "$here/.bench_rows_built"
