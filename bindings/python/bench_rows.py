"""The Python binding's rows of pmbench (bench/pmbench.c): the workloads of
bench/child.c run through ``import parmapper``, checked the same way, each
printing the one result line of bench/bench.h. pmbench runs it as

    /usr/bin/python3 bindings/python/bench_rows.py WORKLOAD binding key=value...

after bindings/python/build_bench_rows.sh has built the extension in place
(scripts/bench.sh does both). What each workload uses:

- trivial: ``parmap(triv, range(n), N=p, chunksize=..., ordered=...)``; chunk=0
  is ``chunksize=None``, the library's adaptive chunks. A ``range`` is read by
  the workers from their fork-time copy, as the C rows' arrays are.
- cpu, sizes: ``parmap`` with ``chunksize=None``; the work is the compiled
  function of libpmbench_work.so (key worklib) called through ctypes, the very
  code the C rows run (Python's own arithmetic would not be the same work).
  The items of sizes are a list of ``bytes``.
- big: ``parmap`` with ``chunksize=None``; each result a 1 MiB ``bytearray``
  filled by the C function.
- start: ``Pool(triv, N=p)``, then ``close()``, which reaps the workers.
- memory: ``parmap`` over a generator (read lazily), ``chunksize=None``; the
  endless input is stopped by leaving the loop, which stops the map.

Exits 1 with a message on stderr if a result is wrong.
"""
import ctypes
import os
import sys
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import parmapper  # noqa: E402  (the in-place build next to this file)

# The Python rows' helpers: /proc figures, the result line, the work
# library's functions, the warm-up's size.
sys.path.insert(0, os.path.join(here, "..", "..", "bench"))
import py_rows  # noqa: E402
from py_rows import (DIGEST_INIT, FNV_PRIME, ITEM_MUL, M64, report,  # noqa: E402
                     reset_peak_rss, status_kib, warm_items)

LIB = None
SPAN = 6000
RSIZE = 1 << 20
WRONG = False  # wrong=1: item 1 gets a wrong result, which must fail the run


def fail(message):
    print("pmbench (python binding): " + message, file=sys.stderr)
    sys.exit(1)


def off(i):
    return 1 if WRONG and i == 1 else 0


# The work. The workers are forks: these need not be importable. The
# trivial item's own function has no wrong=1 check of its own in the loop.
def triv(x):
    return x * 2 + 1


def triv_wrong(x):
    return x * 2 + 1 + off(x)


def cpu(x):
    return LIB.pmb_cpu(x, SPAN) + off(x)


def big(i):
    b = bytearray(RSIZE)
    LIB.pmb_big_fill((ctypes.c_char * RSIZE).from_buffer(b), RSIZE, i + off(i))
    return b


def median(v):
    v = sorted(v)
    k = len(v)
    return v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2


def run(workload, args, n):
    """One measurement of n items; returns the result line's fields."""

    def num(key, default):
        return int(args.get(key, default))

    p = num("p", os.cpu_count())

    if workload == "trivial":
        ordered = num("ordered", 1)
        chunk = num("chunk", 0) or None
        rss0 = status_kib("VmRSS")
        t0 = time.monotonic()
        results = parmapper.parmap(triv, range(n), N=p, chunksize=chunk, ordered=bool(ordered))
        if ordered:
            i = 0
            for r in results:
                if r != 2 * i + 1:
                    results.close()
                    fail("trivial: wrong result for item %d" % i)
                i += 1
            count = i
        else:
            seen = bytearray(n)
            count = 0
            for r in results:
                k = (r - 1) >> 1
                if r & 1 == 0 or k >= n or seen[k]:
                    results.close()
                    fail("trivial: wrong result %d" % r)
                seen[k] = 1
                count += 1
        t = time.monotonic() - t0
        if count != n:
            fail("trivial: %d results of %d" % (count, n))
        return dict(seconds=t, items=n, rss_start_kib=rss0, rss_peak_kib=status_kib("VmHWM"))

    if workload == "cpu":
        if LIB is None:
            fail("cpu: needs worklib=libpmbench_work.so")
        h = DIGEST_INIT
        count = 0
        t0 = time.monotonic()
        for r in parmapper.parmap(cpu, range(n), N=p, chunksize=None):
            h = ((h ^ r) * FNV_PRIME) & M64
            count += 1
        t = time.monotonic() - t0
        if count != n:
            fail("cpu: %d results of %d" % (count, n))
        return dict(seconds=t, items=n, digest=h)

    if workload == "big":
        if LIB is None:
            fail("big: needs worklib=libpmbench_work.so")
        rss0 = status_kib("VmRSS")
        t0 = time.monotonic()
        i = 0
        results = parmapper.parmap(big, range(n), N=p, chunksize=None)
        for r in results:
            if len(r) != RSIZE or LIB.pmb_big_check(
                    (ctypes.c_char * len(r)).from_buffer(r), len(r), i) != 0:
                results.close()
                fail("big: wrong result for item %d" % i)
            i += 1
        t = time.monotonic() - t0
        if i != n:
            fail("big: %d results of %d" % (i, n))
        return dict(seconds=t, items=n, bytes=n * RSIZE, rss_start_kib=rss0,
                    rss_peak_kib=status_kib("VmHWM"))

    if workload == "start":
        mib = num("mib", 0)
        cycles = max(1, num("cycles", 3))
        touched = bytearray(mib << 20)
        if mib:
            touched[::4096] = b"\x01" * len(range(0, len(touched), 4096))  # every page written
        starts, stops, totals = [], [], []
        for c in range(cycles + 1):  # cycle 0 warms up, not counted
            t0 = time.monotonic()
            pool = parmapper.Pool(triv, N=p)
            t1 = time.monotonic()
            pool.close()
            t2 = time.monotonic()
            if c:
                starts.append(t1 - t0)
                stops.append(t2 - t1)
                totals.append(t2 - t0)
        if mib and touched[-4096] != 1:
            fail("start: the touched memory changed")
        return dict(seconds=median(totals), start=median(starts), stop=median(stops),
                    rss_peak_kib=status_kib("VmHWM"))

    if workload == "memory":
        stop = num("stop", 30000000)
        limit = n if n else stop

        def generate():
            i = 0
            while n == 0 or i < n:  # n == 0: endless
                yield i
                i += 1

        rss0 = status_kib("VmRSS")
        rss_early = None
        t0 = time.monotonic()
        i = 0
        results = parmapper.parmap(triv, generate(), N=p, chunksize=None)
        for r in results:
            if r != 2 * i + 1:
                results.close()
                fail("memory: wrong result for item %d" % i)
            i += 1
            if not n and i == limit // 10:
                rss_early = status_kib("VmHWM")
            if i == limit:
                break
        results.close()  # the endless input: stops the map, reaps its workers
        t = time.monotonic() - t0
        if i != limit:
            fail("memory: %d results of %d" % (i, limit))
        fields = dict(seconds=t, items=i, rss_start_kib=rss0, rss_peak_kib=status_kib("VmHWM"))
        if rss_early is not None:
            fields["rss_early_kib"] = rss_early
        return fields

    if workload == "sizes":
        if LIB is None:
            fail("sizes: needs worklib=libpmbench_work.so")
        size = num("size", 8)
        buf = (ctypes.c_char * (n * size))()
        LIB.pmb_items_fill(buf, size, n)
        view = memoryview(buf).cast("B")
        items = [bytes(view[i * size:(i + 1) * size]) for i in range(n)]
        del view, buf
        words = size // 8
        tri = words * (words - 1) // 2

        def item_sum(b):
            return LIB.pmb_item_sum(b, len(b)) + (1 if WRONG and b == items[1] else 0)

        rss0 = status_kib("VmRSS")
        t0 = time.monotonic()
        i = 0
        results = parmapper.parmap(item_sum, items, N=p, chunksize=None)
        for r in results:
            if r != (words * ((i * ITEM_MUL) & M64) + tri) & M64:
                results.close()
                fail("sizes: wrong result for item %d" % i)
            i += 1
        t = time.monotonic() - t0
        if i != n:
            fail("sizes: %d results of %d" % (i, n))
        return dict(seconds=t, items=n, bytes=n * size, rss_start_kib=rss0,
                    rss_peak_kib=status_kib("VmHWM"))

    fail("unknown workload " + workload)


def main(argv):
    global SPAN, RSIZE, WRONG, LIB, triv
    if len(argv) < 2 or argv[1] != "binding":
        fail("usage: bench_rows.py WORKLOAD binding key=value...")
    workload = argv[0]
    args = dict(a.split("=", 1) for a in argv[2:] if "=" in a)
    if args.get("worklib"):
        py_rows.load(args["worklib"])
        LIB = py_rows.LIB
    SPAN = int(args.get("span", SPAN))
    RSIZE = int(args.get("rsize", RSIZE))
    WRONG = args.get("wrong", "0") == "1"
    if WRONG:
        triv = triv_wrong
    # A warm-up of a few items first, as the C rows do.
    if workload != "start" and args.get("warm", "1") != "0":
        run(workload, args, warm_items(workload, args))
        reset_peak_rss()
    report(**run(workload, args, int(args.get("n", 1000))))


if __name__ == "__main__":
    main(sys.argv[1:])
