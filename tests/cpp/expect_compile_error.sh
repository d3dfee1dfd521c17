#!/bin/sh
# Compiles SOURCE with the given compiler command and checks the outcome
# against the source's first line, "// expect: TEXT": the compilation must
# fail with TEXT in its diagnostics, or succeed for "(compiles)".
#
# Usage: expect_compile_error.sh SOURCE COMPILER [ARGS...]
set -u
src=$1
shift
expected=$(sed -n '1s|^// expect: ||p' "$src")
if [ -z "$expected" ]; then
  echo "$src: first line must be '// expect: TEXT'" >&2
  exit 2
fi
out=$("$@" -fsyntax-only "$src" 2>&1)
status=$?
if [ "$expected" = "(compiles)" ]; then
  if [ $status -ne 0 ]; then
    printf '%s\n' "$out" | head -40
    echo "$src: expected to compile" >&2
    exit 1
  fi
  echo "$src: compiles"
  exit 0
fi
if [ $status -eq 0 ]; then
  echo "$src: compiled, but must be rejected with: $expected" >&2
  exit 1
fi
if ! printf '%s\n' "$out" | grep -F -- "$expected" >/dev/null; then
  printf '%s\n' "$out" | head -40
  echo "$src: rejected, but without the message: $expected" >&2
  exit 1
fi
echo "$src: rejected with: $expected"
