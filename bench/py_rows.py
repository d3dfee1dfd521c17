"""The Python rows of pmbench: multiprocessing.Pool.imap on the same work as
the C rows, checked the same way, printing the same result line (see
bench/bench.h). pmbench runs it, once per row and run, as

    /usr/bin/python3 bench/py_rows.py WORKLOAD python key=value...

Trivial items use Python's own x * 2 + 1 (that is the same work); the
CPU-bound items, the 1 MiB results and the item sums call the compiled
functions of libpmbench_work.so (key worklib) through ctypes, the very code
the C rows run. Exits 1 with a message if a result is wrong.
"""
import ctypes
import multiprocessing
import sys
import time

M64 = (1 << 64) - 1
FNV_PRIME = 0x100000001B3
DIGEST_INIT = 0xCBF29CE484222325
ITEM_MUL = 0x9E3779B97F4A7C15

LIB = None
SPAN = 6000
RSIZE = 1 << 20


def status_kib(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


LABEL = "python"  # in messages: "pmbench (python): ..."


def fail(message):
    print("pmbench (%s): %s" % (LABEL, message), file=sys.stderr)
    sys.exit(1)


def report(**fields):
    parts = ["pmbench-result"]
    for key, value in fields.items():
        if key == "digest":
            parts.append("digest=%016x" % value)
        else:
            parts.append("%s=%.9g" % (key, value))
    print(" ".join(parts), flush=True)


def load(path):
    global LIB
    LIB = ctypes.CDLL(path)
    LIB.pmb_cpu.argtypes = [ctypes.c_uint64, ctypes.c_uint32]
    LIB.pmb_cpu.restype = ctypes.c_uint64
    LIB.pmb_big_fill.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64]
    LIB.pmb_big_fill.restype = None
    LIB.pmb_big_check.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64]
    LIB.pmb_big_check.restype = ctypes.c_int
    LIB.pmb_items_fill.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64]
    LIB.pmb_items_fill.restype = None
    LIB.pmb_item_sum.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    LIB.pmb_item_sum.restype = ctypes.c_uint64


# The work, module-level so that the forked workers find it. wrong=1 (the
# bindings' rows are given it) swaps in versions that get item 1 wrong.
def triv(x):
    return x * 2 + 1


def triv_wrong(x):
    return x * 2 + 1 + (x == 1)


WRONG = False
ITEM1 = None  # sizes with wrong=1: item 1's bytes


def cpu(x):
    return LIB.pmb_cpu(x, SPAN) + (WRONG and x == 1)


def big(i):
    b = bytearray(RSIZE)
    LIB.pmb_big_fill((ctypes.c_char * RSIZE).from_buffer(b), RSIZE, i + (WRONG and i == 1))
    return b


def item_sum(b):
    return LIB.pmb_item_sum(b, len(b)) + (WRONG and b == ITEM1)


def pool_map_chunksize(n, p):
    """What Pool.map picks when given no chunksize."""
    chunksize, extra = divmod(n, p * 4)
    return chunksize + 1 if extra else max(chunksize, 1)


def median(v):
    v = sorted(v)
    k = len(v)
    return v[k // 2] if k % 2 else (v[k // 2 - 1] + v[k // 2]) / 2


class PoolWay:
    """How these rows map: multiprocessing.Pool(p).imap with the fork
    context (as libparmapper: the workers inherit), a new pool per map.
    bindings/python/bench_rows.py is the other way, through parmapper."""

    def __init__(self, p):
        self.p = p
        self.ctx = multiprocessing.get_context("fork")

    def chunk(self, workload, args, n):
        if workload == "trivial":
            return int(args.get("chunk", 1000)) or pool_map_chunksize(n, self.p)
        if workload == "memory":
            return 1000
        if workload == "sizes":
            return int(args.get("chunk", 1))
        return 1

    def imap(self, fun, seq, chunk, ordered=True):
        return _PoolRun(self.ctx.Pool(self.p), fun, seq, chunk, ordered)

    def start_pool(self, fun):
        """Starts a pool of p workers; returns what stops it and reaps them."""
        pool = self.ctx.Pool(self.p)

        def stop():
            pool.close()
            pool.join()
        return stop


class _PoolRun:
    def __init__(self, pool, fun, seq, chunk, ordered):
        self.pool = pool
        self.results = (pool.imap if ordered else pool.imap_unordered)(fun, seq, chunk)

    def __iter__(self):
        return self.results

    def stop(self):
        """Ends the map early: a wrong result, or an endless input."""
        self.pool.terminate()
        self.pool.join()

    def finish(self):
        self.pool.close()
        self.pool.join()

    def fail(self, message):
        self.stop()
        fail(message)


def run(workload, args, n, way):
    """One measurement of n items through way; returns the result line's fields."""

    def num(key, default):
        return int(args.get(key, default))

    chunk = way.chunk(workload, args, n)

    if workload == "trivial":
        ordered = num("ordered", 1)
        rss0 = status_kib("VmRSS")
        t0 = time.monotonic()
        results = way.imap(triv, range(n), chunk, bool(ordered))
        if ordered:
            i = 0
            for r in results:
                if r != 2 * i + 1:
                    results.fail("trivial: wrong result for item %d" % i)
                i += 1
            count = i
        else:
            seen = bytearray(n)
            count = 0
            for r in results:
                k = (r - 1) >> 1
                if r & 1 == 0 or k >= n or seen[k]:
                    results.fail("trivial: wrong result %d" % r)
                seen[k] = 1
                count += 1
        results.finish()
        t = time.monotonic() - t0
        if count != n:
            fail("trivial: %d results of %d" % (count, n))
        return dict(seconds=t, items=n, rss_start_kib=rss0, rss_peak_kib=status_kib("VmHWM"))

    elif workload == "cpu":
        if LIB is None:
            fail("cpu: needs worklib=libpmbench_work.so")
        h = DIGEST_INIT
        count = 0
        t0 = time.monotonic()
        results = way.imap(cpu, range(n), chunk)
        for r in results:
            h = ((h ^ r) * FNV_PRIME) & M64
            count += 1
        results.finish()
        t = time.monotonic() - t0
        if count != n:
            fail("cpu: %d results of %d" % (count, n))
        return dict(seconds=t, items=n, digest=h)

    elif workload == "big":
        if LIB is None:
            fail("big: needs worklib=libpmbench_work.so")
        rss0 = status_kib("VmRSS")
        t0 = time.monotonic()
        results = way.imap(big, range(n), chunk)
        i = 0
        for r in results:
            if len(r) != RSIZE or LIB.pmb_big_check(
                    (ctypes.c_char * len(r)).from_buffer(r), len(r), i) != 0:
                results.fail("big: wrong result for item %d" % i)
            i += 1
        results.finish()
        t = time.monotonic() - t0
        if i != n:
            fail("big: %d results of %d" % (i, n))
        return dict(seconds=t, items=n, bytes=n * RSIZE, rss_start_kib=rss0,
               rss_peak_kib=status_kib("VmHWM"))

    elif workload == "start":
        mib = num("mib", 0)
        cycles = max(1, num("cycles", 3))
        touched = bytearray(mib << 20)
        if mib:
            touched[::4096] = b"\x01" * len(range(0, len(touched), 4096))  # every page written
        starts, stops, totals = [], [], []
        for c in range(cycles + 1):  # cycle 0 warms up, not counted
            t0 = time.monotonic()
            stop = way.start_pool(triv)
            t1 = time.monotonic()
            stop()
            t2 = time.monotonic()
            if c:
                starts.append(t1 - t0)
                stops.append(t2 - t1)
                totals.append(t2 - t0)
        if mib and touched[-4096] != 1:
            fail("start: the touched memory changed")
        return dict(seconds=median(totals), start=median(starts), stop=median(stops),
               rss_peak_kib=status_kib("VmHWM"))

    elif workload == "memory":
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
        results = way.imap(triv, generate(), chunk)
        i = 0
        for r in results:
            if r != 2 * i + 1:
                results.fail("memory: wrong result for item %d" % i)
            i += 1
            if not n and i == limit // 10:
                rss_early = status_kib("VmHWM")
            if i == limit:
                break
        if n:
            results.finish()
        else:
            results.stop()  # the input never ends
        t = time.monotonic() - t0
        if i != limit:
            fail("memory: %d results of %d" % (i, limit))
        fields = dict(seconds=t, items=i, rss_start_kib=rss0, rss_peak_kib=status_kib("VmHWM"))
        if rss_early is not None:
            fields["rss_early_kib"] = rss_early
        return fields

    elif workload == "sizes":
        global ITEM1
        if LIB is None:
            fail("sizes: needs worklib=libpmbench_work.so")
        size = num("size", 8)
        buf = (ctypes.c_char * (n * size))()
        LIB.pmb_items_fill(buf, size, n)
        view = memoryview(buf).cast("B")
        items = [bytes(view[i * size:(i + 1) * size]) for i in range(n)]
        del view, buf
        ITEM1 = items[1] if n > 1 else None
        words = size // 8
        tri = words * (words - 1) // 2
        rss0 = status_kib("VmRSS")
        t0 = time.monotonic()
        results = way.imap(item_sum, items, chunk)
        i = 0
        for r in results:
            if r != (words * ((i * ITEM_MUL) & M64) + tri) & M64:
                results.fail("sizes: wrong result for item %d" % i)
            i += 1
        results.finish()
        t = time.monotonic() - t0
        if i != n:
            fail("sizes: %d results of %d" % (i, n))
        return dict(seconds=t, items=n, bytes=n * size, rss_start_kib=rss0,
               rss_peak_kib=status_kib("VmHWM"))

    else:
        fail("unknown workload " + workload)



def reset_peak_rss():
    """Zero VmHWM, so that the timed run's peak is its own (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError as e:
        print("pmbench (%s): cannot reset the peak RSS: %s" % (LABEL, e), file=sys.stderr)


def warm_items(workload, args):
    n = int(args.get("n", 0))
    if workload == "memory" and n == 0:
        n = int(args.get("stop", 10000))
    if workload in ("cpu", "big"):
        return min(n, 4)
    if workload == "sizes":
        return min(n, 64)
    return min(n, 10000)


def main(argv, way_class=PoolWay, way_word="python"):
    """argv: WORKLOAD WAY_WORD key=value...; way_class(p) maps the items."""
    global SPAN, RSIZE, WRONG, triv
    if len(argv) < 2 or argv[1] != way_word:
        fail("usage: WORKLOAD %s key=value..." % way_word)
    workload = argv[0]
    args = dict(a.split("=", 1) for a in argv[2:] if "=" in a)
    if args.get("worklib"):
        load(args["worklib"])
    SPAN = int(args.get("span", SPAN))
    RSIZE = int(args.get("rsize", RSIZE))
    if args.get("wrong", "0") == "1":
        WRONG = True
        triv = triv_wrong
    way = way_class(int(args.get("p", multiprocessing.cpu_count())))
    # A warm-up of a few items first, as the C rows do: the first Pool of a
    # process imports multiprocessing.pool and more.
    if workload != "start" and args.get("warm", "1") != "0":
        run(workload, args, warm_items(workload, args), way)
        reset_peak_rss()
    report(**run(workload, args, int(args.get("n", 1000)), way))


if __name__ == "__main__":
    main(sys.argv[1:])
