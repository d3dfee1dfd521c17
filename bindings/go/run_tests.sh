#!/usr/bin/env bash
# Builds the Go binding against the libparmapper installed in PREFIX and
# runs go vet and go test -v, as root on a fresh Debian 12 (it installs the
# Debian packages it needs, skipping apt-get when they are all there).
#
# Usage: bindings/go/run_tests.sh PREFIX
#
# The last line printed is "go binding: N passed, N failed, N skipped",
# counting the top-level tests and examples of go test -v (subtests count
# within their test); go vet failing, or go test failing without naming a
# test (a build error, a panic), counts as one failure more. Exits nonzero
# on any failure.
#
# Env: PM_GO_BUILD (default: build-go/ at the repository's root) holds
# GOPATH and GOCACHE; PM_DEPS_ALWAYS=1 runs apt-get even when every package
# is present; PM_SKIP_DEPS=1 skips it; GO_TEST_ARGS adds go test arguments
# (e.g. -run Pool).
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PREFIX (where libparmapper is installed)" >&2
  exit 2
fi
prefix="$(cd "$1" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

# Debian 12's Go 1.19 and a C toolchain for cgo. golang-go only recommends
# gcc and the C headers, so they are named here.
go_packages=(golang-go gcc libc6-dev pkg-config)
missing=()
for pkg in "${go_packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [[ "${PM_SKIP_DEPS:-0}" == 1 ]]; then
  :
elif [[ ${#missing[@]} -eq 0 && "${PM_DEPS_ALWAYS:-0}" != 1 ]]; then
  echo "go deps: all ${#go_packages[@]} packages already installed"
else
  as_root=()
  if [[ "$(id -u)" != 0 ]]; then
    if ! command -v sudo >/dev/null; then
      echo "go deps: missing ${missing[*]}; run as root to install them" >&2
      exit 1
    fi
    as_root=(sudo)
  fi
  echo "go deps: apt-get install ${go_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${go_packages[@]}"
fi

# Debian's Go only: never a toolchain from elsewhere, no module proxy.
go=/usr/lib/go-1.19/bin/go
[[ -x "$go" ]] || go=/usr/bin/go
export PATH="$(dirname "$go"):$PATH"
export GOTOOLCHAIN=local GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOWORK=off
export GOMAXPROCS=2 CGO_ENABLED=1
build="${PM_GO_BUILD:-$repo/build-go}"
mkdir -p "$build"
export GOPATH="$build/gopath" GOCACHE="$build/gocache"
# The shim and the test work functions build with warnings as errors (but
# for unused parameters, which the code cgo generates has).
export CGO_CFLAGS="-O2 -g -Wall -Wextra -Wno-unused-parameter -Werror"

pc="$(find "$prefix" -name parmapper.pc -path '*/pkgconfig/*' | head -n 1)"
if [[ -z "$pc" ]]; then
  echo "go binding: no parmapper.pc under $prefix (install libparmapper there first)" >&2
  echo "go binding: 0 passed, 1 failed, 0 skipped"
  exit 1
fi
pcdir="$(dirname "$pc")"
export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
libdir="$(pkg-config --variable=libdir parmapper)"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
"$go" version
echo "go binding: libparmapper $(pkg-config --modversion parmapper) from $libdir"

cd "$here"
extra=0
log="$build/go-test.log"
if ! "$go" vet ./...; then
  echo "go binding: go vet failed"
  extra=$((extra + 1))
fi
set +e
# shellcheck disable=SC2086
"$go" test -v -count=1 -p 2 -timeout 240s ${GO_TEST_ARGS:-} ./... 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -cE '^--- PASS: ' "$log" || true)
failed=$(grep -cE '^--- FAIL: ' "$log" || true)
skipped=$(grep -cE '^--- SKIP: ' "$log" || true)
if [[ $status -ne 0 && $failed -eq 0 ]]; then
  failed=1 # the build failed, or the test binary died outside a test
fi
failed=$((failed + extra))
echo "go binding: $passed passed, $failed failed, $skipped skipped"
[[ $status -eq 0 && $failed -eq 0 ]]
