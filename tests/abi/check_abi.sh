#!/usr/bin/env bash
# The library keeps the ABI of every released version: compared with the
# committed baseline of each (abidw's XML, tests/abi/libparmapper-*.abi),
# abidiff may report additions, never an incompatible change (a removed or
# changed function, a changed type a released function uses).
#
# Usage: check_abi.sh LIBRARY HEADERS_DIR BASELINE...
set -euo pipefail
lib="$1" headers="$2"
shift 2
status=0
for baseline in "$@"; do
  rc=0
  report="$(abidiff --headers-dir2 "$headers" --exported-interfaces-only "$baseline" "$lib")" || rc=$?
  # abidiff's exit code is a bit field: 1 error, 2 usage, 4 ABI change
  # (additions are one), 8 incompatible change.
  if (( rc & 11 )); then
    echo "abi: $(basename "$baseline"): incompatible change or abidiff error (exit $rc):"
    echo "$report"
    status=1
  else
    echo "abi: $(basename "$baseline"): compatible ($(echo "$report" | grep -o '[0-9]* Added functions' | head -n 1 || echo 'no change'))"
  fi
done
exit "$status"
