#!/usr/bin/env bash
# Build the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with clang, ASan and
# UBSan in build-fuzz/, then run each for a bounded time over a copy of its
# seed corpus (tests/fuzz/corpus/<target>/; the repo's copy is not changed).
# Works on a fresh Debian 12 as root. Exits nonzero if a target finds a
# crash, a leak, undefined behaviour, an over-large allocation or a timeout;
# the input that did it is saved in build-fuzz/findings/ (add it to the
# corpus as regress-<what> once fixed).
#
# Usage: scripts/fuzz.sh [TARGET...]     (default: every target)
# Env: FUZZ_SECONDS per target (default 60), FUZZ_BUILD_DIR (build-fuzz),
#      FUZZ_ARGS extra libFuzzer flags (e.g. -jobs=2 -workers=2).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
# clang-14 and its runtime libraries (libFuzzer, the sanitizers) on Debian 12.
pm_packages+=(clang libclang-rt-14-dev)
pm_install_deps

seconds="${FUZZ_SECONDS:-60}"
build="${FUZZ_BUILD_DIR:-build-fuzz}"

# meson's own output goes to a file; a failure prints its tail.
build_log="$(mktemp)"
trap 'rm -f "$build_log"' EXIT
if [[ ! -f "$build/meson-private/coredata.dat" ]]; then
  CC=clang CXX=clang++ meson setup "$build" -Dfuzz=enabled -Dtests=enabled \
    -Dexamples=false -Dbench=false -Dwerror=true > "$build_log" 2>&1 ||
    { tail -n 40 "$build_log"; echo "fuzz: meson setup failed"; exit 1; }
fi

targets=("$@")
if [[ ${#targets[@]} -eq 0 ]]; then
  for f in tests/fuzz/*_fuzz.cpp; do
    t="$(basename "$f" .cpp)"
    targets+=("${t%_fuzz}")
  done
fi
# Only the fuzz targets: the rest of the tree is not needed here.
meson compile -C "$build" "${targets[@]/%/_fuzz}" >> "$build_log" 2>&1 ||
  { tail -n 60 "$build_log"; echo "fuzz: the targets did not build"; exit 1; }
cp "$build_log" "$build/build.log"
echo "fuzz: targets built with clang, ASan and UBSan (log: $build/build.log)"

mkdir -p "$build/findings"
status=0
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/${t}_fuzz"
  seeds="tests/fuzz/corpus/$t"
  work="$(mktemp -d)"
  cp -r "$seeds/." "$work/"
  echo "fuzz $t: ${seconds}s from $(ls "$seeds" | wc -l) seeds"
  # -malloc_limit_mb: one allocation above it is a finding (a hostile length
  # must never make us allocate what it claims). -timeout: one input's limit.
  # Handlers stay as libFuzzer sets them: this process is its own.
  # shellcheck disable=SC2086
  if ! "$exe" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$build/findings/$t-" ${FUZZ_ARGS:-} "$work" \
      2>"$build/findings/$t.log"; then
    status=1
    echo "fuzz $t: FAILED; see $build/findings/$t.log and the input saved beside it" >&2
  fi
  # One line per target; the whole run (its statistics included) stays in
  # the log, printed only when the target failed.
  runs="$(grep -E '^stat::number_of_executed_units' "$build/findings/$t.log" | awk '{print $2}' | tail -n 1)"
  cov="$(grep -E '(INITED|DONE) +cov:' "$build/findings/$t.log" | tail -n 1 | sed -E 's/.*cov: ([0-9]+).*/\1/')"
  if [[ $status -ne 0 ]]; then
    tail -n 40 "$build/findings/$t.log"
  else
    echo "fuzz $t: clean after ${runs:-?} runs, coverage ${cov:-?} (log: $build/findings/$t.log)"
  fi
  rm -rf "$work"
done
exit "$status"
