"""Correct under threads: another Python thread busy during every map,
threads in the workers (Nt > 1), maps from several threads in turn (and at
once), a generator written in Python as the input, and not one hang in 500
maps. The long loops run in a fresh interpreter with a watchdog, so that a
hang fails the test (with every thread's stack) instead of stopping the run."""
import threading

import helpers
import parmapper

# The scenario that made a ctypes client on 0.2 hang in 0 to 11 of 20 maps:
# a lambda closing over a local list, forked while another Python thread runs.
MANY_MAPS = r"""
import faulthandler, itertools, json, os, sys, threading, time
import parmapper
faulthandler.dump_traceback_later(%(watchdog)d, exit=True)

stop = threading.Event()
def busy():
    x = 0
    while not stop.is_set():
        x = (x * 31 + 7) %% 1000003   # pure Python: holds the GIL most of the time
busy_thread = threading.Thread(target=busy, daemon=True)
busy_thread.start()

def gen(n):
    for i in range(n):
        yield i

counts = {"maps": 0}
lock = threading.Lock()
def run(k):
    local = [k * 1000 + i for i in range(37)]
    variant = k %% 4
    if variant == 0:
        res = list(parmapper.parmap(lambda i: local[i], range(37), N=2))
    elif variant == 1:
        res = list(parmapper.parmap(lambda i: local[i], gen(37), N=2, Nt=2, chunksize=3))
    elif variant == 2:
        res = list(parmapper.parmap(lambda i: local[i], range(37), N=2, Nt=3, chunksize=None,
                                    ordered=False))
        res.sort()
    else:
        res = [x for x in parmapper.parmap(lambda i: local[i], gen(37), N=2, chunksize=5)]
    assert res == local, (k, variant, res)
    with lock:
        counts["maps"] += 1

def in_turn(first, count, threads):
    # Maps from several threads in turn: each thread runs one, then hands on.
    turn = threading.Semaphore(1)
    def worker(ks):
        for k in ks:
            with turn:
                run(k)
    ts = [threading.Thread(target=worker, args=(range(first + t, first + count, threads),))
          for t in range(threads)]
    for t in ts: t.start()
    for t in ts: t.join()

t0 = time.monotonic()
for k in range(%(main)d):
    run(k)
in_turn(%(main)d, %(turn)d, 3)
# And maps from two threads at the same time.
ts = [threading.Thread(target=lambda s=s: [run(k) for k in range(s, s + %(concurrent)d)])
      for s in (100000, 200000)]
for t in ts: t.start()
for t in ts: t.join()
stop.set()
busy_thread.join()
left = []
for path in __import__("glob").glob("/proc/%%d/task/*/children" %% os.getpid()):
    try:
        left += open(path).read().split()
    except OSError:
        pass  # that thread ended after the listing: no children of its own
print(json.dumps({"maps": counts["maps"], "seconds": time.monotonic() - t0, "children": left}))
"""


def test_500_maps_with_a_busy_thread_never_hang():
    main, turn, concurrent = 300, 150, 25
    proc = helpers.run_script(MANY_MAPS % dict(watchdog=200, main=main, turn=turn,
                                               concurrent=concurrent), timeout=240)
    out = helpers.last_json(proc.stdout)
    assert out["maps"] == main + turn + 2 * concurrent == 500
    assert out["children"] == []


def test_busy_thread_in_this_process():
    stop = threading.Event()

    def busy():
        while not stop.is_set():
            sum(range(100))

    t = threading.Thread(target=busy)
    t.start()
    try:
        for k in range(20):
            data = list(range(k, k + 50))
            assert list(parmapper.parmap(lambda x: data[x - k] * 2, range(k, k + 50), N=2,
                                         Nt=2)) == [x * 2 for x in data]
    finally:
        stop.set()
        t.join()


def test_threads_in_workers_run_concurrently():
    # Work that releases the GIL overlaps across a worker's threads: more
    # items run at once than there are processes.
    import time

    def f(x):
        start = time.monotonic()
        time.sleep(0.05)
        return start, time.monotonic()

    spans = list(parmapper.parmap(f, range(24), N=2, Nt=4, chunksize=1))
    assert helpers.max_overlap(spans) >= 3


def test_a_map_created_in_one_thread_and_stepped_in_another():
    it = parmapper.parmap(lambda x: x + 1, range(100), N=2)
    out = []
    t = threading.Thread(target=lambda: out.extend(it))
    t.start()
    t.join(60)
    assert not t.is_alive()
    assert out == list(range(1, 101))


def test_the_same_map_from_two_threads_at_once_is_refused_not_hung():
    import time

    def slow(x):
        time.sleep(0.3)
        return x

    it = parmapper.parmap(slow, range(4), N=2, chunksize=1)
    errors = []

    def step():
        try:
            next(it)
        except ValueError as e:
            errors.append(str(e))

    t = threading.Thread(target=step)
    t.start()
    time.sleep(0.1)
    step()
    t.join(10)
    assert errors == ["parmapper map already executing"]
    it.close()
