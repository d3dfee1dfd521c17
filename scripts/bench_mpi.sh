#!/usr/bin/env bash
# The MPI backend beside a local pool on this machine (bench/mpi_bench.c):
# builds a release copy, then runs it under mpirun with -np 2, 3 and 4 and
# prints one Markdown table (medians of 5 runs; the ratio is MPI / local,
# measured in the same run). Works on a fresh Debian 12 as root.
# Usage: bash scripts/bench_mpi.sh [mpi_bench options, e.g. --runs 7]
# Env: BUILD_DIR (default: build-release).
set -euo pipefail

cd "$(dirname "$0")/.."
source scripts/deps.sh
pm_install_deps >&2

BUILD_DIR="${BUILD_DIR:-build-release}"
if [[ -f "$BUILD_DIR/meson-private/coredata.dat" ]]; then
  meson setup --reconfigure "$BUILD_DIR" -Dbuildtype=release -Dbench=true -Dmpi=enabled >&2
else
  meson setup "$BUILD_DIR" -Dbuildtype=release -Dbench=true -Dmpi=enabled -Dexamples=false \
    -Dtests=disabled >&2
fi
meson compile -C "$BUILD_DIR" -j "${JOBS:-2}" bench/mpi_bench >&2

# As tests/mpi/run_mpi_test.sh: shared memory and loopback, no busy wait.
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo
export OMPI_MCA_mpi_yield_when_idle=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
echo "| workload | mpirun | local pool processes | local pool | MPI ranks x processes | MPI | MPI / local |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for np in 2 3 4; do
  mpirun --allow-run-as-root --oversubscribe -np "$np" "$BUILD_DIR/bench/mpi_bench" "$@"
done
