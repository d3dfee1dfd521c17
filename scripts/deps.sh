#!/usr/bin/env bash
# Install the Debian 12 packages needed to build, test and install
# libparmapper. Sourced or run by the other scripts; safe to run again.
#
# Env: PM_DEPS_ALWAYS=1 runs apt-get even when every package is present
# (CI does this); PM_SKIP_DEPS=1 skips this step entirely.
set -euo pipefail

pm_packages=(
  build-essential   # gcc, g++, make, libc6-dev; binutils (nm, objdump)
  meson
  ninja-build
  pkg-config
  libspdlog-dev
  libfmt-dev
  libcereal-dev
  libgtest-dev
  abigail-tools     # abidiff: the ABI check against the released versions
  libopenmpi-dev    # libparmapper-mpi (meson option mpi)
  openmpi-bin       # mpirun, for its tests
  procps            # ps, for the MPI test's check that no process is left
)

pm_install_deps() {
  if [[ "${PM_SKIP_DEPS:-0}" == 1 ]]; then
    return 0
  fi
  local missing=() pkg
  for pkg in "${pm_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 && "${PM_DEPS_ALWAYS:-0}" != 1 ]]; then
    echo "deps: all ${#pm_packages[@]} packages already installed"
    return 0
  fi
  # Root runs apt-get directly (no sudo on a minimal machine); others need sudo.
  local as_root=()
  if [[ "$(id -u)" != 0 ]]; then
    if ! command -v sudo >/dev/null; then
      echo "deps: missing ${missing[*]}; run as root to install them" >&2
      return 1
    fi
    as_root=(sudo)
  fi
  echo "deps: apt-get install ${pm_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q
  "${as_root[@]}" apt-get install -y -q --no-install-recommends "${pm_packages[@]}"
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  pm_install_deps
fi
