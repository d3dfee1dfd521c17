"""Ctrl-C: KeyboardInterrupt within a second, with every worker reaped, while
the items run (the ctypes client on 0.2 saw it only when the running item
ended). A script runs in its own session, so that the signal can go to its
whole process group as a terminal's Ctrl-C does, or to its main process only."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import helpers

SCRIPT = helpers.CHILDREN_SNIPPET + r"""
import json, sys, time
import parmapper

def slow(x):
    if x >= 2:
        time.sleep(60)
    return x

def gen():
    yield from range(10)

def blocking_source():
    yield 0
    yield 1
    time.sleep(3)  # a source that waits for data, in the feeder thread
    yield 2

kind = sys.argv[1]
pool = None
if kind == "pool":
    pool = parmapper.Pool(slow, N=2)
    it = pool.map(range(10), chunksize=1)
elif kind == "iterator":
    it = parmapper.parmap(slow, gen(), N=2, chunksize=1)
elif kind == "blocking-source":
    it = parmapper.parmap(abs, blocking_source(), N=2, chunksize=1)
elif kind == "threads":
    it = parmapper.parmap(slow, range(10), N=2, Nt=2, chunksize=1)
else:
    it = parmapper.parmap(slow, range(10), N=2, chunksize=1)
try:
    # blocking-source: items 0 and 1 reach the workers while the source
    # sleeps (the library sends what a pull call gave before the next one).
    assert next(it) == 0
    print("ready", flush=True)
    for r in it:
        pass
    print(json.dumps({"interrupted": False}), flush=True)
except KeyboardInterrupt:
    t = time.monotonic()
    out = {"interrupted": True, "t": t, "children": _children()}
    if kind == "blocking-source":
        # The workers are killed and reaped at once; the template process
        # goes when the map can be destroyed: once the source returns.
        deadline = time.monotonic() + 1
        while any(_children(c) for c in _children()) and time.monotonic() < deadline:
            time.sleep(0.01)
        out["workers"] = [g for c in _children() for g in _children(c)]
        time.sleep(3)
        out["children_later"] = _children()
    if pool is not None:
        out["pool_processes"] = pool.processes
        out["pool_after"] = list(pool.map([0, 1]))
        pool.close()
        out["children_after_close"] = _children()
    print(json.dumps(out), flush=True)
"""


def interrupt(kind, group):
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, kind], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=helpers.script_env(),
                            start_new_session=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "ready", line + proc.stderr.read()
        time.sleep(0.5)  # the items (or the source) are now sleeping
        sent = time.monotonic()
        if group:
            os.killpg(proc.pid, signal.SIGINT)
        else:
            os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    result = helpers.last_json(out)
    assert result["interrupted"], out + err
    return result, result["t"] - sent, err


@pytest.mark.parametrize("group", [True, False], ids=["process-group", "main-process"])
@pytest.mark.parametrize("kind", ["one-shot", "iterator", "threads", "pool", "blocking-source"])
def test_ctrl_c_raises_keyboard_interrupt_within_a_second(kind, group):
    result, delay, err = interrupt(kind, group)
    assert delay < 1.0, "KeyboardInterrupt came %.2f s after the signal" % delay
    if kind == "pool":
        # The pool's workers that held items were replaced: it stays whole.
        assert result["pool_processes"] == 2
        assert result["pool_after"] == [0, 1]
        assert result["children_after_close"] == []
    elif kind == "blocking-source":
        assert result["workers"] == []
        assert result["children_later"] == []
    else:
        assert result["children"] == [], "workers left: %s" % result["children"]
    assert "Traceback" not in err, err


def test_return_process_join_is_interrupted_by_a_terminal_ctrl_c():
    # Like a multiprocessing child, the background process gets the
    # terminal's SIGINT too; join() then raises KeyboardInterrupt.
    code = helpers.CHILDREN_SNIPPET + textwrap.dedent(r"""
        import json, time, parmapper
        p = parmapper.ReturnProcess(time.sleep, args=(60,)).start()
        print("ready", flush=True)
        try:
            p.join()
        except KeyboardInterrupt:
            print(json.dumps({"interrupted": True, "t": time.monotonic(),
                              "children": _children()}), flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=helpers.script_env(),
                            start_new_session=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    result = helpers.last_json(out)
    assert result["t"] - sent < 1.0
    assert result["children"] == []
