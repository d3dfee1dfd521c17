#!/usr/bin/env bash
# Build the Rust crates (parmapper-sys, parmapper) against the libparmapper
# installed in PREFIX and run `cargo test` (unit, integration and doc
# tests), then the examples with few items. As root on a fresh Debian 12 it
# first installs the Debian packages it needs (cargo, rustc, gcc as the
# linker, pkg-config; apt-get is skipped when all are there, as in
# scripts/deps.sh). Its last line is
#   rust binding: N passed, N failed, N skipped
# summed over cargo's "test result" lines (skipped = ignored); it exits
# nonzero on any failure.
#
# Usage: bindings/rust/run_tests.sh PREFIX
# The full cargo log (and the examples' output) goes to
# RUST_BUILD_DIR/cargo-test.log; stdout gets a short summary: each test
# binary's result line, the failing tests and build errors.
#
# Env: RUST_BUILD_DIR (default: <repo>/build-rust) holds the cargo target
# folder, an empty CARGO_HOME and the log; the target folder is emptied
# first (a build from scratch) unless PM_RUST_KEEP_TARGET=1. PM_SKIP_DEPS=1
# skips apt-get, PM_DEPS_ALWAYS=1 runs it even when every package is there.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PREFIX (where libparmapper is installed)" >&2
  exit 2
fi
if ! prefix="$(cd "$1" 2>/dev/null && pwd)"; then
  echo "rust: no folder $1" >&2
  echo "rust binding: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
build="${RUST_BUILD_DIR:-$repo/build-rust}"

# Debian's own toolchain only (rustc 1.63, the crates' rust-version): a
# rustup toolchain elsewhere on PATH is never used.
export PATH=/usr/bin:/bin
packages=(cargo rustc gcc pkg-config)
missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [[ "${PM_SKIP_DEPS:-0}" != 1 ]] && [[ ${#missing[@]} -gt 0 || "${PM_DEPS_ALWAYS:-0}" == 1 ]]; then
  as_root=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { echo "rust: missing ${missing[*]}; run as root" >&2; exit 1; }
    as_root=(sudo)
  fi
  echo "rust: apt-get install ${packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q > /dev/null
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}" > /dev/null
fi

pc="$(find "$prefix" -name parmapper.pc -path '*/pkgconfig/*' 2>/dev/null | head -n 1)"
if [[ -z "$pc" ]]; then
  echo "rust: no parmapper.pc under $prefix (meson install into it first)" >&2
  echo "rust binding: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
libdir="$(dirname "$(dirname "$pc")")"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc
export CARGO_TARGET_DIR="$build/target"
if [[ "${PM_RUST_KEEP_TARGET:-0}" != 1 ]]; then
  rm -rf "$CARGO_TARGET_DIR"
fi
# An empty cargo home: the crates have no dependency and build offline.
export CARGO_HOME="$build/cargo-home"
mkdir -p "$CARGO_HOME"
log="$build/cargo-test.log"
echo "rust: $(/usr/bin/cargo --version), $(/usr/bin/rustc --version); libparmapper $(pkg-config --modversion parmapper) in $libdir"

cd "$here"
status=0
export CARGO_BUILD_JOBS=2
echo "rust: cargo test (full log: $log)"
/usr/bin/cargo test --offline --locked -j 2 --workspace > "$log" 2>&1 || status=$?
# On stdout: each test binary's result, the failures, and build errors.
grep -E '^(     Running|   Doc-tests|test result:|error(\[E[0-9]+\])?:|failures:$|---- )|\.\.\. FAILED$' "$log" || true

passed=0 failed=0 skipped=0
while read -r p f s; do
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
done < <(sed -n 's/^test result: [A-Za-z]*\. \([0-9]*\) passed; \([0-9]*\) failed; \([0-9]*\) ignored.*/\1 \2 \3/p' "$log")
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1   # cargo failed before any test could: a build error
fi

# The examples, built by cargo test: the README's, and the benchmark with
# few items (it checks every result; its figures mean nothing here).
if [[ $status -eq 0 ]]; then
  for example in "squares" "bench 20000 2 1"; do
    read -r -a cmd <<< "$example"
    echo "--- example ${cmd[*]}" | tee -a "$log"
    if ! "$CARGO_TARGET_DIR/debug/examples/${cmd[0]}" "${cmd[@]:1}" >> "$log" 2>&1; then
      echo "rust: example ${cmd[0]} failed (see $log)"
      failed=$((failed + 1))
      status=1
    fi
  done
fi

echo "rust binding: $passed passed, $failed failed, $skipped skipped"
[[ $status -eq 0 && $failed -eq 0 ]]
