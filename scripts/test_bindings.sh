#!/usr/bin/env bash
# Build and install libparmapper into a scratch prefix, then run the test
# script of each language binding against it: bindings/<lang>/run_tests.sh
# PREFIX, which installs its own toolchain (Debian's go, cargo, python3) and
# prints as its last line "<lang> binding: N passed, N failed, N skipped".
# Works on a fresh Debian 12 as root. Then each binding's program for the
# benchmark's binding rows is built against the same prefix and one smoke
# run of bench/pmbench checks them (one test). (Julia is not installable on
# Debian 12: bindings/julia gets a static check of its ccalls only; see its
# README.)
#
# Each binding's own output goes to a log under $BUILD_DIR/bindings/; this
# prints that last line for each, and, last, the sum:
#   bindings: N passed, N failed, N skipped
# Exits nonzero if any binding failed or reported no test.
#
# Env: BUILD_DIR (default: build); PM_BINDINGS (default: "go rust python").
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
pm_install_deps

BUILD_DIR="${BUILD_DIR:-build}"
out="$PWD/$BUILD_DIR/bindings"
prefix="$out/prefix"
rm -rf "$out"
mkdir -p "$out"

# A library of its own, in the prefix the bindings find it in (pkg-config).
if ! { meson setup "$out/lib-build" --prefix "$prefix" --libdir lib --buildtype=release \
         -Dtests=disabled -Dexamples=false -Dbench=false &&
       meson compile -C "$out/lib-build" &&
       meson install -C "$out/lib-build" --quiet; } > "$out/library.log" 2>&1; then
  tail -n 40 "$out/library.log"
  echo "bindings: the library did not build (log: $out/library.log)"
  echo "bindings: 0 passed, 1 failed, 0 skipped"
  exit 1
fi

passed=0 failed=0 skipped=0 status=0
for lang in ${PM_BINDINGS:-go rust python}; do
  log="$out/$lang.log"
  rc=0
  bash "bindings/$lang/run_tests.sh" "$prefix" > "$log" 2>&1 || rc=$?
  last="$(tail -n 1 "$log")"
  if [[ "$last" =~ ^$lang\ binding:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
    p=${BASH_REMATCH[1]} f=${BASH_REMATCH[2]} s=${BASH_REMATCH[3]}
  else
    p=0 f=1 s=0  # no count: it broke before its tests ran
    last="$lang binding: no test count (exit $rc)"
  fi
  if [[ $rc -ne 0 || $f -ne 0 || $p -eq 0 ]]; then
    tail -n 60 "$log"
    status=1
    [[ $f -eq 0 ]] && f=1
  fi
  echo "$last (log: $log)"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done
# The bindings' benchmark rows (issue 11): each binding's program for
# bench/pmbench built against the prefix, then one smoke run of every table
# (tiny sizes, every result checked), which must give every binding row
# figures. One test; skipped where the benchmark was not built.
pmbench="$BUILD_DIR/bench/pmbench"
bench_log="$out/bench-rows.log"
if [[ ! -x "$pmbench" ]]; then
  echo "bench rows: skipped ($pmbench not built: meson option bench)"
  skipped=$((skipped + 1))
else
  rows_ok=1 langs=()
  for lang in ${PM_BINDINGS:-go rust python}; do
    if bash "bindings/$lang/build_bench_rows.sh" "$prefix" >> "$bench_log" 2>&1; then
      langs+=("$lang")
    else
      echo "bench rows: the $lang binding's program did not build" >> "$bench_log"
      rows_ok=0
    fi
  done
  if (( rows_ok )) && "$pmbench" --smoke --quiet > "$out/bench-rows.md" 2>> "$bench_log"; then
    for lang in "${langs[@]}"; do
      label="${lang^} binding"  # as pmbench names its rows: "Go binding"
      if ! grep -q "| $label |" "$out/bench-rows.md" || grep -q "| $label |.*n/a" "$out/bench-rows.md"; then
        echo "bench rows: a row of the $label has no figures" >> "$bench_log"
        rows_ok=0
      fi
    done
  else
    rows_ok=0
  fi
  if (( rows_ok )); then
    echo "bench rows: every table's ${langs[*]} binding rows ran, results checked (log: $bench_log)"
    passed=$((passed + 1))
  else
    tail -n 40 "$bench_log"
    echo "bench rows: FAILED (log: $bench_log, tables: $out/bench-rows.md)"
    failed=$((failed + 1)) status=1
  fi
fi
# Julia cannot be installed here: its module is checked against the header
# and the installed library without running it (not counted as tests).
if /usr/bin/python3 bindings/julia/check_static.py "$prefix" > "$out/julia.log" 2>&1; then
  echo "julia binding: every ccall checked against the header and the installed library (static; Julia is not installable here) (log: $out/julia.log)"
else
  tail -n 40 "$out/julia.log"
  echo "julia binding: static check FAILED (log: $out/julia.log)"
  failed=$((failed + 1)) status=1
fi
echo "bindings: $passed passed, $failed failed, $skipped skipped"
exit "$status"
