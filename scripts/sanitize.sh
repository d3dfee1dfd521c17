#!/usr/bin/env bash
# Run the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# and under ThreadSanitizer (fresh builds in build-asan/ and build-tsan/), and
# the C99 consumer under valgrind memcheck. Works on a fresh Debian 12 as root.
#
# Each run's own output (meson's, the sanitizers', valgrind's) goes to a log
# file in its build directory; this prints one line per run, and the log's
# failures only when the run failed. Exits nonzero if any run failed.
#
# Usage: scripts/sanitize.sh [asan] [tsan] [valgrind]   (default: all three)
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
pm_packages+=(valgrind)
pm_install_deps

what=("$@")
[[ ${#what[@]} -eq 0 ]] && what=(asan tsan valgrind)

# Crash tests kill workers with SIGSEGV and SIGABRT on purpose: the
# sanitizers must not catch those signals (they would turn the crash into an
# exit status, and the tests check that no signal handler is installed).
no_handlers="handle_segv=0:handle_sigbus=0:handle_sigfpe=0:handle_abort=0"

# "all 63 tests passed" / "2 of 63 tests failed", from meson's JSON log.
count_results() {
  local log="$1/meson-logs/testlog.json" total failed
  total=$(grep -c '"result"' "$log" || true)
  failed=$(grep -cE '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  if [[ $failed -eq 0 ]]; then echo "all $total tests passed"; else echo "$failed of $total tests failed"; fi
}

# Builds quietly (the build log is kept) and runs meson test into a log.
run_suite() {
  local name="$1" dir="$2" rc=0
  shift 2
  meson compile -C "$dir" > "$dir/build.log" 2>&1 || { tail -n 60 "$dir/build.log"; echo "$name: build failed"; return 1; }
  "$@" > "$dir/sanitize.log" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]]; then
    # The failing tests' output, which --print-errorlogs put in the log.
    grep -vE '^ *[0-9]+/[0-9]+ .* OK ' "$dir/sanitize.log" | tail -n 200
  fi
  echo "$name: $(count_results "$dir") (log: $dir/sanitize.log)"
  return $rc
}

# The exec-mode runs of the suites (meson suite "exec") are left out here:
# they run the same engine code as the fork-mode runs, and the sanitized
# suites must fit CI's time.
status=0
for w in "${what[@]}"; do
  case "$w" in
    asan)
      rm -rf build-asan
      # -fno-sanitize=vptr: UBSan tests an object's memory through a pipe
      # before checking its vptr; the descriptor-exhaustion test leaves it no
      # descriptor for that pipe, and it then reports a false "invalid vptr".
      # --buildtype=debug (-O0): the C++ layer's tests compile about four
      # times faster than at -O2 under ASan, which keeps CI within its time.
      meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
        -Dcpp_args=-fno-sanitize=vptr \
        -Dtests=enabled -Dexamples=false -Dbench=false -Dmpi=disabled -Dwerror=true > /tmp/parmapper-setup-asan.log 2>&1 ||
        { cat /tmp/parmapper-setup-asan.log; exit 1; }
      run_suite "asan+ubsan" build-asan env \
        ASAN_OPTIONS="$no_handlers:detect_leaks=1:abort_on_error=0" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        meson test -C build-asan --print-errorlogs --timeout-multiplier 3 --no-suite no-pidfd-matrix --no-suite exec \
        || status=1
      ;;
    tsan)
      rm -rf build-tsan
      # The C++ layer's suite runs under ASan+UBSan only: the layer is
      # header-only over the C API, whose threads (the engine's) the C API
      # and fault suites exercise here; this keeps CI within its time.
      meson setup build-tsan --buildtype=debug -Db_sanitize=thread -Db_lundef=false \
        -Dtests=enabled -Dexamples=false -Dbench=false -Dmpi=disabled -Dwerror=true -Dcxx_layer=disabled \
        > /tmp/parmapper-setup-tsan.log 2>&1 || { cat /tmp/parmapper-setup-tsan.log; exit 1; }
      # die_after_fork=0: some tests fork from a multithreaded parent (that
      # is what the library supports); TSan only warns about it.
      run_suite "tsan" build-tsan env \
        TSAN_OPTIONS="$no_handlers:halt_on_error=1:die_after_fork=0" \
        meson test -C build-tsan --print-errorlogs --timeout-multiplier 4 --no-suite no-pidfd-matrix --no-suite exec \
        || status=1
      ;;
    valgrind)
      BUILD_DIR="${BUILD_DIR:-build}"
      [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]] || meson setup "$BUILD_DIR" > /dev/null 2>&1
      meson compile -C "$BUILD_DIR" tests/c99/c99_consumer > /dev/null
      logs="$BUILD_DIR/valgrind"
      rm -rf "$logs" && mkdir -p "$logs"
      # One log per process (the parent, templates, workers: forked, so
      # valgrind follows them without --trace-children).
      rc=0
      LD_LIBRARY_PATH="$BUILD_DIR/capi" valgrind --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --track-fds=yes \
        --log-file="$logs/memcheck.%p.log" \
        "$BUILD_DIR/tests/c99/c99_consumer" > "$logs/consumer.out" 2>&1 || rc=$?
      procs=$(ls "$logs"/memcheck.*.log | wc -l)
      errors=$(cat "$logs"/memcheck.*.log | sed -nE 's/.*ERROR SUMMARY: ([0-9]+) errors.*/\1/p' | awk '{s+=$1} END {print s+0}')
      if [[ $rc -ne 0 || $errors -ne 0 ]]; then
        tail -n 40 "$logs/consumer.out"
        grep -l -E 'ERROR SUMMARY: [1-9]' "$logs"/memcheck.*.log | head -n 3 | xargs -r cat
        status=1
      fi
      # Valgrind's own "ERROR SUMMARY: 0 errors" lines stay in its log files.
      if [[ $rc -eq 0 && $errors -eq 0 ]]; then
        echo "valgrind: memcheck clean in all $procs processes of the C99 consumer (logs: $logs/)"
      else
        echo "valgrind: FAILED: $errors errors, consumer exit $rc, $procs processes (logs: $logs/)"
      fi
      ;;
    *)
      echo "usage: $0 [asan] [tsan] [valgrind]" >&2
      exit 2
      ;;
  esac
done
exit "$status"
