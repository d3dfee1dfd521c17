#!/usr/bin/env bash
# Builds the Go binding's benchmark program (cmd/pmbench-rows) against the
# libparmapper installed in PREFIX, as bindings/go/pmbench-rows, where
# bench/pmbench looks for it. Debian's Go only, no network (GOPROXY=off);
# the Go caches live outside the source tree (PM_GO_CACHE, default
# ${TMPDIR:-/tmp}/pm-go-cache). Prints nothing on success.
#
# Usage: bindings/go/build_bench_rows.sh PREFIX
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PREFIX (where libparmapper is installed)" >&2
  exit 2
fi
prefix="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"

pc="$(find "$prefix" -name parmapper.pc -path '*/pkgconfig/*' | head -n 1)"
if [[ -z "$pc" ]]; then
  echo "build_bench_rows: no parmapper.pc under $prefix (install libparmapper there first)" >&2
  exit 1
fi

export PATH=/usr/bin:/bin
export PKG_CONFIG_PATH="$(dirname "$pc")"
export GOTOOLCHAIN=local GOPROXY=off GO111MODULE=on GOWORK=off GOFLAGS= CGO_ENABLED=1
cache="${PM_GO_CACHE:-${TMPDIR:-/tmp}/pm-go-cache}"
mkdir -p "$cache"
export GOPATH="$cache/gopath" GOCACHE="$cache/gocache"

cd "$here"
# -trimpath: no build paths in the binary. -o a temporary name first, so
# that a failed build leaves no half-written program for pmbench to run.
# -r: a run path to PREFIX's library, so that the program runs without
# LD_LIBRARY_PATH (which still comes first when set).
/usr/bin/go build -trimpath -ldflags "-r $(dirname "$PKG_CONFIG_PATH")" -o pmbench-rows.tmp \
  ./cmd/pmbench-rows
mv -f pmbench-rows.tmp pmbench-rows
