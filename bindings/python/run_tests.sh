#!/usr/bin/env bash
# Build and test the Python binding against the libparmapper installed in
# PREFIX, as root on Debian 12:
#
#   bash bindings/python/run_tests.sh PREFIX
#
# 1. installs the Debian packages it needs with apt-get (skipped when all are
#    installed, as scripts/deps.sh does; PM_DEPS_ALWAYS=1 forces it,
#    PM_SKIP_DEPS=1 skips it);
# 2. builds the extension from scratch in the tree against PREFIX through
#    pkg-config and runs the whole suite (tests/) with Debian's
#    /usr/bin/python3 and pytest;
# 3. runs `pip install ./bindings/python` (again from scratch) into a venv
#    made with `python3 -m venv --system-site-packages` (numpy, tqdm,
#    setuptools come from Debian; no index is used) and runs
#    tests/test_installed.py and the README examples against that copy.
#
# stdout gets a few lines per step (and the failed tests' names); the whole
# output of every step goes to the log, build-python/run_tests.log at the top
# of the repo (git-ignored, made anew each run), with the objects and the
# venv. The last line is always `python binding: N passed, N failed, N
# skipped` (a step that fails before its tests run counts as one failure);
# the exit status is nonzero if anything failed. Env:
# PYTHON_BINDING_PYTEST_ARGS adds pytest arguments (e.g. -k pool) to step 2;
# PYTHON_BINDING_WORK moves the folder of the log.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
python=/usr/bin/python3  # Debian's interpreter, whatever else is on PATH

passed=0 failed=0 skipped=0
log=""
summary() {
  local line="python binding: $passed passed, $failed failed, $skipped skipped"
  [[ -n "$log" ]] && echo "$line" >> "$log"
  echo "$line"
}
fail_step() {
  [[ -n "$log" ]] && echo "python binding: $1" >> "$log"
  echo "python binding: $1" >&2
  failed=$((failed + 1))
}
finish() {
  summary
  [[ $failed -eq 0 ]] && exit 0 || exit 1
}

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PREFIX   (where libparmapper is installed)" >&2
  fail_step "no PREFIX given"
  finish
fi
prefix="$(cd "$1" 2>/dev/null && pwd)" || { fail_step "PREFIX $1 does not exist"; finish; }

# The log, the build objects and the venv: made anew, kept after the run.
work="${PYTHON_BINDING_WORK:-$repo/build-python}"
rm -rf "$work" && mkdir -p "$work" || { fail_step "cannot make $work"; finish; }
log="$work/run_tests.log"
: > "$log"
echo "log: $log"

# --- 1. packages
py_packages=(python3 python3-dev python3-venv python3-setuptools python3-wheel python3-pytest
             python3-numpy python3-tqdm python3-joblib pkg-config gcc libc6-dev)
install_packages() {
  [[ "${PM_SKIP_DEPS:-0}" == 1 ]] && return 0
  local missing=() pkg
  for pkg in "${py_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [[ ${#missing[@]} -eq 0 && "${PM_DEPS_ALWAYS:-0}" != 1 ]]; then
    echo "deps: all ${#py_packages[@]} packages already installed"
    return 0
  fi
  local as_root=()
  if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null || { echo "deps: missing ${missing[*]}; run as root" >&2; return 1; }
    as_root=(sudo)
  fi
  echo "deps: apt-get install ${py_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q &&
    "${as_root[@]}" apt-get install -y -q --no-install-recommends "${py_packages[@]}"
}
echo "--- deps" >> "$log"
install_packages > "$work/deps.log" 2>&1
deps_rc=$?
cat "$work/deps.log" >> "$log"
if [[ $deps_rc -ne 0 ]]; then
  tail -n 30 "$work/deps.log"
  fail_step "installing the Debian packages failed"
  finish
fi
tail -n 1 "$work/deps.log"

# --- the library in PREFIX
pc="$(find "$prefix" -name parmapper.pc -path '*pkgconfig*' 2>/dev/null | head -n 1)"
[[ -n "$pc" ]] || { fail_step "no parmapper.pc under $prefix"; finish; }
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
libdir="$(pkg-config --variable=libdir parmapper)"
export LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "libparmapper $(pkg-config --modversion parmapper) in $libdir; $("$python" --version)" |
  tee -a "$log"

# Adds the counts of a junit XML file to the totals.
count_junit() {
  local counts
  counts="$("$python" - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
t = f = s = 0
for suite in suites:
    t += int(suite.get("tests", 0))
    f += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
    s += int(suite.get("skipped", 0))
print(t - f - s, f, s)
EOF
)" || { fail_step "cannot read $1"; return; }
  read -r p f s <<< "$counts"
  passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# pytest exits 5 when it collects nothing: that is a failure here too; a
# run stopped by the timeout (124, 137) or killed by a signal too.
run_pytest() {
  local xml="$1" rc out
  shift
  out="$xml.out"
  # no:faulthandler: the crash tests' workers would print Python's fatal
  # error report; conftest.py sets a watchdog of its own instead.
  timeout -k 10 1200 "$@" -p no:cacheprovider -p no:faulthandler --junitxml="$xml" \
    -o junit_family=xunit2 > "$out" 2>&1
  rc=$?
  cat "$out" >> "$log"
  # stdout: the failed tests' names and pytest's closing line.
  grep -E '^(FAILED|ERROR) ' "$out"
  grep -E '^=*.* (passed|failed|error|errors|skipped|deselected|no tests ran).* in [0-9.]+s' \
    "$out" | tail -n 1 | sed -e 's/^=* *//' -e 's/ *=*$//' -e 's/^/pytest: /'
  if [[ -s "$xml" ]]; then
    count_junit "$xml"
  fi
  if [[ $rc -eq 5 || ! -s "$xml" ]]; then
    fail_step "pytest ran no test ($*)"
  elif [[ $rc -ne 0 && $rc -ne 1 ]]; then
    fail_step "pytest exited with $rc ($*)"
  fi
}

# --- 2. in-tree build and the whole suite
echo "--- build (in the tree)" | tee -a "$log"
# From scratch: no object or extension of an earlier build (perhaps against
# another PREFIX) is reused.
rm -f "$here"/parmapper/_parmapper*.so
if (cd "$here" && "$python" setup.py -q build_ext --inplace --force \
      --build-temp "$work/build-temp") > "$work/build.log" 2>&1; then
  cat "$work/build.log" >> "$log"
  echo "build: ok"
  echo "--- tests (in the tree)" | tee -a "$log"
  # shellcheck disable=SC2086
  run_pytest "$work/tree.xml" "$python" -m pytest -q -rfE "$here/tests" \
    ${PYTHON_BINDING_PYTEST_ARGS:-}
else
  cat "$work/build.log" >> "$log"
  tail -n 40 "$work/build.log"
  fail_step "building the extension failed"
fi

# --- 3. pip install into a venv, and the installed copy's tests
echo "--- pip install ./bindings/python into a venv (--system-site-packages)" | tee -a "$log"
venv="$work/venv"
# pip builds in the tree: drop what an earlier pip install left there.
rm -rf "$here/build" "$here"/*.egg-info
if "$python" -m venv --system-site-packages "$venv" > "$work/venv.log" 2>&1 &&
   (cd "$repo" && "$venv/bin/python" -m pip install --isolated --no-build-isolation --no-index \
      --no-deps --disable-pip-version-check ./bindings/python) >> "$work/venv.log" 2>&1; then
  cat "$work/venv.log" >> "$log"
  echo "pip install: ok ($(grep -o 'Successfully installed.*' "$work/venv.log"))"
  mkdir -p "$work/elsewhere"
  # From a folder without the tree, so that the installed copy is imported.
  run_pytest "$work/venv.xml" env -C "$work/elsewhere" PARMAPPER_TEST_INSTALLED=1 \
    "$venv/bin/python" -m pytest -q -rfE "$here/tests/test_installed.py" \
    "$here/tests/test_readme_examples.py"
else
  cat "$work/venv.log" >> "$log"
  tail -n 40 "$work/venv.log"
  fail_step "pip install into a venv failed"
fi

finish
