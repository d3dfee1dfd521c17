"""What the Python tool could not do: crashes that name the item, timeouts,
retries, early stops that stop the work, and lazy input within a bound."""
import ctypes
import mmap
import os
import signal
import struct
import time

import pytest

import helpers
import parmapper


class SharedCounter:
    """A counter in memory shared with the forked workers."""

    def __init__(self, slots=1):
        self.mem = mmap.mmap(-1, 8 * slots)

    def add(self, slot=0, n=1):
        # One writer per slot at a time is enough for the tests (chunks of
        # one worker); a torn count would only make an assertion fail.
        v = struct.unpack_from("q", self.mem, 8 * slot)[0]
        struct.pack_into("q", self.mem, 8 * slot, v + n)

    def get(self, slot=0):
        return struct.unpack_from("q", self.mem, 8 * slot)[0]


def segfault():
    ctypes.string_at(0)  # reads address 0: SIGSEGV


CRASHES = {
    "segfault": (segfault, "SIGSEGV"),
    "abort": (os.abort, "SIGABRT"),
    "kill": (lambda: os.kill(os.getpid(), signal.SIGKILL), "SIGKILL"),
    "exit": (lambda: os._exit(3), "exited with status 3"),
}


@pytest.mark.parametrize("how", sorted(CRASHES))
def test_a_crash_raises_worker_error_naming_the_item(how):
    crash, text = CRASHES[how]

    def f(x):
        if x == 13:
            crash()
        return x

    got = []
    t0 = time.monotonic()
    with pytest.raises(parmapper.WorkerError) as info:
        for r in parmapper.parmap(f, range(40), N=2):
            got.append(r)
    assert time.monotonic() - t0 < 10
    e = info.value
    assert e.seq_index == 13
    assert "item 13" in str(e) and text in str(e), str(e)
    assert got == list(range(13))


def test_a_crash_in_return_mode_comes_back_in_its_place():
    def f(x):
        if x % 10 == 3:
            os.kill(os.getpid(), signal.SIGKILL)
        return x

    res = list(parmapper.parmap(f, range(30), N=2, exception="return"))
    for i, r in enumerate(res):
        if i % 10 == 3:
            assert isinstance(r, parmapper.WorkerError) and r.seq_index == i, r
        else:
            assert r == i


def test_retries_run_a_crashed_item_again(tmp_path):
    marker = str(tmp_path / "crashed-once")

    def f(x):
        if x == 4 and not os.path.exists(marker):
            open(marker, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return x * 2

    assert list(parmapper.parmap(f, range(10), N=2, retries=1)) == [x * 2 for x in range(10)]
    assert os.path.exists(marker)
    with pytest.raises(parmapper.WorkerError, match="failed 2 attempts"):
        list(parmapper.parmap(lambda x: os._exit(1) if x == 2 else x, range(5), N=2,
                              retries=1))


def test_item_timeout():
    def f(x):
        if x == 6:
            time.sleep(60)
        return x

    t0 = time.monotonic()
    with pytest.raises(parmapper.ItemTimeoutError) as info:
        list(parmapper.parmap(f, range(20), N=2, timeout=0.25))
    assert time.monotonic() - t0 < 5
    assert info.value.seq_index == 6 and "250 ms" in str(info.value)
    assert isinstance(info.value, TimeoutError)
    res = list(parmapper.parmap(f, range(10), N=2, timeout=0.25, exception="return"))
    assert isinstance(res[6], parmapper.ItemTimeoutError)
    assert [r for i, r in enumerate(res) if i != 6] == [i for i in range(10) if i != 6]


def test_break_stops_the_work():
    ran = SharedCounter()

    def f(x):
        ran.add()
        time.sleep(0.001)
        return x

    t0 = time.monotonic()
    for r in parmapper.parmap(f, range(100000), N=2, chunksize=1):
        if r == 20:
            break
    elapsed = time.monotonic() - t0
    time.sleep(0.2)  # a worker still running would go on counting
    assert not helpers.children()
    n = ran.get()
    assert 21 <= n < 2000, n
    assert elapsed < 5


def test_an_exception_in_the_loop_stops_the_work():
    ran = SharedCounter()

    def f(x):
        ran.add()
        time.sleep(0.001)
        return x

    with pytest.raises(ZeroDivisionError):
        for r in parmapper.parmap(f, iter(range(100000)), N=2):
            if r == 10:
                1 / 0
    time.sleep(0.2)
    assert ran.get() < 2000


def test_iterator_input_is_read_lazily_within_the_bound():
    pulled = [0]

    def gen():
        for i in range(100000):
            pulled[0] += 1
            yield i

    bound = 64
    it = parmapper.parmap(lambda x: x, gen(), N=2, max_in_flight=bound)
    for k in range(200):
        assert next(it) == k
        time.sleep(0.0005 if k % 50 else 0.1)  # let the feeder run ahead if it would
        assert pulled[0] <= k + 1 + bound, (k, pulled[0])
    assert it.pulled == pulled[0]
    it.close()
    assert pulled[0] < 1000


def test_an_endless_generator():
    def naturals():
        n = 0
        while True:
            yield n
            n += 1

    total = 0
    for r in parmapper.parmap(lambda x: x * x, naturals(), N=2):
        total += 1
        if total == 5000:
            break
    assert total == 5000


def test_input_error_comes_after_the_results_before_it():
    def gen():
        yield from range(50)
        raise LookupError("the input broke")

    got = []
    with pytest.raises(LookupError, match="the input broke"):
        for r in parmapper.parmap(lambda x: x + 1, gen(), N=2):
            got.append(r)
    assert got == list(range(1, 51))


def test_daemon_workers_die_with_a_killed_parent(tmp_path):
    pidfile = tmp_path / "pids"
    proc = helpers.run_script("""
        import os, subprocess, sys, time, parmapper
        pidfile = %r
        def f(x):
            with open(pidfile, "a") as out:
                out.write("%%d\\n" %% os.getpid())
            time.sleep(60)
        child = os.fork()
        if child == 0:
            list(parmapper.parmap(f, range(4), N=2))
            os._exit(0)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if len(open(pidfile).read().split()) >= 2:
                    break
            except OSError:
                pass
            time.sleep(0.02)
        os.kill(child, 9)
        os.waitpid(child, 0)
        pids = [int(p) for p in open(pidfile).read().split()]
        deadline = time.time() + 5
        def alive(p):
            try:
                os.kill(p, 0)
                return True
            except ProcessLookupError:
                return False
        while any(alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.02)
        print("alive", [p for p in pids if alive(p)])
    """ % str(pidfile), timeout=60)
    assert "alive []" in proc.stdout, proc.stdout + proc.stderr


def test_many_crashing_maps_leave_nothing_behind():
    before = helpers.open_fds()
    for k in range(30):
        with pytest.raises(parmapper.WorkerError):
            list(parmapper.parmap(lambda x: os._exit(9) if x == k % 7 else x, range(10), N=2))
    assert helpers.open_fds() == before and not helpers.children()


def test_a_slow_source_gets_each_item_to_a_worker_at_once():
    # The library sends the items of a pull call before it makes the next
    # one (it used to read up to 64 chunks first).
    def slow_source():
        for i in range(8):
            if i:
                time.sleep(0.25)
            yield time.monotonic()

    first = next(iter(parmapper.parmap(lambda made: time.monotonic() - made, slow_source(),
                                       N=2)))
    assert first < 0.5, "item 0 reached a worker %.2f s after it was read" % first
