#!/usr/bin/env bash
# Builds the Rust binding's benchmark rows (the pmbench-rows crate of this
# workspace) against the libparmapper installed in PREFIX, into
#   bindings/rust/target/release/pmbench-rows
# where bench/pmbench looks for it (cargo's default target folder of the
# workspace, git-ignored). Debian's toolchain only (/usr/bin/cargo and
# /usr/bin/rustc, 1.63), offline, with an empty CARGO_HOME outside the
# source tree (the crates have no registry dependency). The program is
# linked with a run path to PREFIX's library folder, so that pmbench can run
# it without LD_LIBRARY_PATH (which still wins when set). Prints nothing on
# success; cargo's errors go to stderr.
#
# Usage: bindings/rust/build_bench_rows.sh PREFIX
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PREFIX (where libparmapper is installed)" >&2
  exit 2
fi
if ! prefix="$(cd "$1" 2>/dev/null && pwd)"; then
  echo "build_bench_rows: no folder $1" >&2
  exit 1
fi
here="$(cd "$(dirname "$0")" && pwd)"

# Debian's own toolchain: a rustup one elsewhere on PATH is never used.
export PATH=/usr/bin:/bin
export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc

pc="$(find "$prefix" -name parmapper.pc -path '*/pkgconfig/*' 2>/dev/null | head -n 1)"
if [[ -z "$pc" ]]; then
  echo "build_bench_rows: no parmapper.pc under $prefix (meson install into it first)" >&2
  exit 1
fi
libdir="$(dirname "$(dirname "$pc")")"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
export RUSTFLAGS="-C link-arg=-Wl,-rpath,$libdir"

# An empty cargo home, outside the source tree; the workspace's own target
# folder (pmbench's path), whatever the environment says.
export CARGO_HOME="${TMPDIR:-/tmp}/pm-cargo-home"
mkdir -p "$CARGO_HOME"
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR

cd "$here"
/usr/bin/cargo build --quiet --offline --locked --release -p pmbench-rows
if [[ ! -x target/release/pmbench-rows ]]; then
  echo "build_bench_rows: cargo did not make target/release/pmbench-rows" >&2
  exit 1
fi
