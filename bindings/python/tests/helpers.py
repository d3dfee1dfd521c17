"""Helpers for the tests: children and descriptors of this process, and
scripts run in a fresh interpreter."""
import glob
import json
import os
import subprocess
import sys
import textwrap

import parmapper

# The folder parmapper was imported from, for scripts run in a subprocess.
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(parmapper.__file__)))


def children(pid=None):
    """The pids of the live children of a process (all its threads')."""
    pid = os.getpid() if pid is None else pid
    out = []
    for path in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(path) as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out


def describe(pids):
    rows = []
    for p in pids:
        try:
            with open("/proc/%d/cmdline" % p, "rb") as f:
                rows.append("%d %s" % (p, f.read().replace(b"\0", b" ").decode(errors="replace")))
        except OSError:
            rows.append(str(p))
    return "; ".join(rows)


def open_fds():
    return set(os.listdir("/proc/self/fd"))


def describe_fds(fds):
    rows = []
    for fd in sorted(fds, key=int):
        try:
            rows.append("%s -> %s" % (fd, os.readlink("/proc/self/fd/" + fd)))
        except OSError:
            rows.append(fd)
    return ", ".join(rows)


def script_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = PACKAGE_PARENT + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("PYTHONSTARTUP", None)
    # Scripts see stdio as a normal run does: buffered when it is a pipe.
    env.pop("PYTHONUNBUFFERED", None)
    return env


def run_script(code, timeout=60, check=True, **kw):
    """Runs code in a fresh interpreter (the same python3) and returns the
    CompletedProcess (stdout and stderr as text)."""
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=timeout, env=script_env(), **kw)
    if check and proc.returncode != 0:
        raise AssertionError("script failed with %d:\n--- stdout\n%s\n--- stderr\n%s" %
                             (proc.returncode, proc.stdout, proc.stderr))
    return proc


def max_overlap(intervals):
    """The most (start, end) intervals open at one moment."""
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = cur = 0
    for _, step in events:
        cur += step
        best = max(best, cur)
    return best


def last_json(text):
    """The last line of text that parses as JSON."""
    for line in reversed(text.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    raise AssertionError("no JSON line in:\n" + text)


# For scripts: prints this process's live children as a JSON list.
CHILDREN_SNIPPET = '''
import glob, os
def _children(pid=None):
    out = []
    for path in glob.glob("/proc/%d/task/*/children" % (pid or os.getpid())):
        try:
            with open(path) as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return out
'''
