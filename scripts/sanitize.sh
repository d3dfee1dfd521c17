#!/usr/bin/env bash
# Run the whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# and under ThreadSanitizer (fresh builds in build-asan/ and build-tsan/), and
# the C99 consumer under valgrind memcheck. Works on a fresh Debian 12 as root.
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
        -Dtests=enabled -Dexamples=false -Dbench=false -Dwerror=true
      meson compile -C build-asan
      ASAN_OPTIONS="$no_handlers:detect_leaks=1:abort_on_error=0" \
      UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
        meson test -C build-asan --print-errorlogs --timeout-multiplier 3 --no-suite no-pidfd-matrix
      ;;
    tsan)
      rm -rf build-tsan
      # The C++ layer's suite runs under ASan+UBSan only: the layer is
      # header-only over the C API, whose threads (the engine's) the C API
      # and fault suites exercise here; this keeps CI within its time.
      meson setup build-tsan --buildtype=debug -Db_sanitize=thread -Db_lundef=false \
        -Dtests=enabled -Dexamples=false -Dbench=false -Dwerror=true -Dcxx_layer=disabled
      meson compile -C build-tsan
      # die_after_fork=0: some tests fork from a multithreaded parent (that
      # is what the library supports); TSan only warns about it.
      TSAN_OPTIONS="$no_handlers:halt_on_error=1:die_after_fork=0" \
        meson test -C build-tsan --print-errorlogs --timeout-multiplier 4 --no-suite no-pidfd-matrix
      ;;
    valgrind)
      BUILD_DIR="${BUILD_DIR:-build}"
      [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]] || meson setup "$BUILD_DIR"
      meson compile -C "$BUILD_DIR" tests/c99/c99_consumer
      LD_LIBRARY_PATH="$BUILD_DIR/capi" valgrind --error-exitcode=99 --leak-check=full \
        --errors-for-leak-kinds=definite,indirect --track-fds=yes \
        "$BUILD_DIR/tests/c99/c99_consumer"
      ;;
    *)
      echo "usage: $0 [asan] [tsan] [valgrind]" >&2
      exit 2
      ;;
  esac
done
