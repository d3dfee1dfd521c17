#!/bin/sh
# Compiles SOURCE with the given compiler command and checks the outcome
# against the source's leading comment lines:
#   // expect: TEXT      the compilation must fail with TEXT in its
#                        diagnostics, or succeed for "(compiles)"; several
#                        such lines must all be found
#   // expect-ID: TEXT   the same, only when PM_CXX_ID (meson's compiler id:
#                        gcc, clang) is ID: for how each compiler names a type
#   // max-errors: N     (optional) the diagnostics hold at most N "error:"
#                        lines, so that the message is not buried
# The first line must be an "// expect: " line.
#
# Usage: PM_CXX_ID=gcc expect_compile_error.sh SOURCE COMPILER [ARGS...]
set -u
src=$1
shift
header=$(sed -n '/^\/\/ \(expect\(-[a-z]*\)\{0,1\}\|max-errors\): /!q; p' "$src")
expected=$(printf '%s\n' "$header" | sed -n "s|^// expect: ||p; s|^// expect-${PM_CXX_ID:-none}: ||p")
max_errors=$(printf '%s\n' "$header" | sed -n 's|^// max-errors: \([0-9][0-9]*\)$|\1|p' | head -1)
if ! head -1 "$src" | grep -q '^// expect: '; then
  expected=
fi
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
missing=$(printf '%s\n' "$expected" | while IFS= read -r text; do
  printf '%s\n' "$out" | grep -F -- "$text" >/dev/null || printf '%s\n' "$text"
done)
if [ -n "$missing" ]; then
  printf '%s\n' "$out" | head -40
  printf '%s\n' "$missing" | sed "s|^|$src: rejected, but without the message: |" >&2
  exit 1
fi
if [ -n "$max_errors" ]; then
  errors=$(printf '%s\n' "$out" | grep -c 'error:')
  if [ "$errors" -gt "$max_errors" ]; then
    printf '%s\n' "$out" | head -40
    echo "$src: rejected with $errors errors, more than $max_errors" >&2
    exit 1
  fi
fi
printf '%s\n' "$expected" | sed "s|^|$src: rejected with: |"
