#!/usr/bin/env bash
# Runs an MPI test program on 4 ranks (PM_MPI_RANKS) of this machine, then checks that no
# process of it is left. Usage: run_mpi_test.sh PROGRAM [ARGS...]
set -u
prog="$1"
shift
name=$(basename "$prog")
# Root in CI containers, 2 cores: both flags are needed. Shared memory and
# loopback only; no busy wait in MPI's own progress loop; no cross-memory
# attach (ptrace is often restricted in containers).
export OMPI_MCA_btl=self,vader,tcp
export OMPI_MCA_btl_tcp_if_include=lo
export OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
timeout 300 mpirun --allow-run-as-root --oversubscribe -np "${PM_MPI_RANKS:-4}" "$prog" "$@"
rc=$?
sleep 0.5
# By process name (not command line, which this script's own holds); live
# ones only (a zombie's parent is gone: not ours to reap).
left=$(ps -eo stat=,comm= | awk -v n="${name:0:15}" '$2 == n && $1 !~ /^Z/' | wc -l)
if [[ $left -gt 0 ]]; then
  echo "run_mpi_test: $left processes of $name are left:" >&2
  ps -eo pid,stat,comm,args | grep -- "$name" | grep -v grep >&2
  pkill -9 -x -- "${name:0:15}"
  exit 1
fi
exit $rc
