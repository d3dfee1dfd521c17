#!/usr/bin/python3
"""Benchmark: parmapper beside multiprocessing.Pool.imap and joblib on the
same work, in the same run.

    /usr/bin/python3 bindings/python/bench.py [--rounds 5] [--processes 2]

Two workloads, each run by every peer in every round (the peers take turns
within a round, so that a noisy neighbour slows them alike), and the table
shows the medians over the rounds:

- trivial: x * 2 + 1 over range(n), chunk size 1000: items per second, which
  measures each tool's overhead per item; again with the items coming from
  a generator (which parmapper reads lazily and pickles, where a list or a
  range is read by the workers from their fork-time copy). parmap forks its workers inside
  the measured time; multiprocessing.Pool and parmapper.Pool are made before
  it (warm), joblib's loky workers are warmed by a first call.
- 1 ms: a fixed amount of pure-Python arithmetic per item (calibrated to
  about 1 ms here), chunk size 1: parallel efficiency, the serial time of
  the same items divided by (processes x the parallel time), serial measured
  in the same round.

Wall times need an otherwise idle machine. On a shared one two more rows
help: the efficiency from the best round of each (the fastest serial run
over processes x the fastest parallel run: as timeit says, the minimum is
what the machine can do when nothing else gets in the way), and the CPU
time of the whole process tree (/proc), which does not count the waiting:
CPU microseconds per trivial item, and for the 1 ms items the serial CPU
time over the CPU time the parallel run used (100 % = no overhead).

Every run's results are checked against the serial ones.
"""
import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
if os.path.isdir(os.path.join(HERE, "parmapper")):
    sys.path.insert(0, HERE)  # the tree's build, when run from the tree

import parmapper  # noqa: E402

try:
    import joblib
except ImportError:
    joblib = None

LOOPS = 1


def trivial(x):
    return x * 2 + 1


def one_ms(x):
    s = x
    for i in range(LOOPS):
        s = (s * 31 + i) & 0xFFFFFFF
    return s


def calibrate(target=0.001):
    """LOOPS for about target seconds of CPU per call (CPU time, not wall
    time: a loaded machine would otherwise make the items shorter)."""
    global LOOPS
    LOOPS = 1000
    while True:
        t0 = time.process_time()
        for x in range(50):
            one_ms(x)
        per_call = (time.process_time() - t0) / 50
        if per_call > target / 2:
            break
        LOOPS *= 2
    LOOPS = max(1, int(LOOPS * target / per_call))


TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu():
    """CPU seconds used so far by this process and every live descendant,
    each with its reaped children (utime + stime + cutime + cstime of
    /proc/PID/stat). A process that ends moves its time into its parent's
    cutime when reaped, so differences of this count every process that ran
    between two readings, whoever made it (forked workers, loky's)."""
    def stat(pid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return sum(int(x) for x in fields[11:15]) / TICK
        except (OSError, ValueError):
            return 0.0

    def kids(pid):
        out = []
        for task in os.listdir("/proc/%d/task" % pid) if os.path.isdir("/proc/%d" % pid) else []:
            try:
                with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                    out += [int(p) for p in f.read().split()]
            except OSError:
                pass
        return out

    total, todo = 0.0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += stat(pid)
        todo += kids(pid)
    return total


def checksum(results):
    """Count, sum and position-weighted sum of the results (in order)."""
    n = total = weighted = 0
    for i, r in enumerate(results):
        n += 1
        total += r
        weighted += i * r
    return n, total, weighted


def timed(fn):
    c0 = tree_cpu()
    t0 = time.perf_counter()
    out = fn()
    wall = time.perf_counter() - t0
    # /proc counts in clock ticks: a run shorter than one reads as 0.
    return wall, max(tree_cpu() - c0, 1.0 / TICK), out


def peers(args, mp_pool, pm_pool_trivial, pm_pool_1ms):
    P = args.processes
    out = {
        "serial": {
            "trivial": lambda xs: list(map(trivial, xs)),
            "generator": lambda xs: list(map(trivial, (x for x in xs))),
            "1ms": lambda xs: list(map(one_ms, xs)),
        },
        "parmapper.parmap": {
            "trivial": lambda xs: list(parmapper.parmap(trivial, xs, N=P, chunksize=1000)),
            "generator": lambda xs: list(parmapper.parmap(trivial, (x for x in xs), N=P,
                                                          chunksize=1000)),
            "1ms": lambda xs: list(parmapper.parmap(one_ms, xs, N=P)),
        },
        "parmapper.Pool": {
            "trivial": lambda xs: list(pm_pool_trivial.map(xs, chunksize=1000)),
            "generator": lambda xs: list(pm_pool_trivial.map((x for x in xs), chunksize=1000)),
            "1ms": lambda xs: list(pm_pool_1ms.map(xs)),
        },
        "multiprocessing.Pool.imap": {
            "trivial": lambda xs: list(mp_pool.imap(trivial, xs, chunksize=1000)),
            "generator": lambda xs: list(mp_pool.imap(trivial, (x for x in xs), chunksize=1000)),
            "1ms": lambda xs: list(mp_pool.imap(one_ms, xs, chunksize=1)),
        },
    }
    if joblib is not None:
        par = joblib.Parallel(n_jobs=P, batch_size=1000)
        par_auto = joblib.Parallel(n_jobs=P)
        out["joblib.Parallel"] = {
            "trivial": lambda xs: par(joblib.delayed(trivial)(x) for x in xs),
            "generator": lambda xs: par(joblib.delayed(trivial)(x) for x in (y for y in xs)),
            "1ms": lambda xs: par_auto(joblib.delayed(one_ms)(x) for x in xs),
        }
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--trivial-items", type=int, default=1_000_000)
    ap.add_argument("--ms-items", type=int, default=2000)
    args = ap.parse_args()

    calibrate()
    mp_ctx = mp.get_context("fork")
    trivial_items = range(args.trivial_items)
    ms_items = range(args.ms_items)
    # Checksums, not lists of the expected results: a million ints kept
    # alive would make the process that one-shot maps fork 40 MB larger.
    expected = {"trivial": checksum(map(trivial, trivial_items)),
                "1ms": checksum(map(one_ms, ms_items))}
    expected["generator"] = expected["trivial"]
    inputs = {"trivial": trivial_items, "generator": trivial_items, "1ms": ms_items}
    results = {}
    with mp_ctx.Pool(args.processes) as mp_pool, \
            parmapper.Pool(trivial, N=args.processes) as pm_trivial, \
            parmapper.Pool(one_ms, N=args.processes) as pm_1ms:
        table = peers(args, mp_pool, pm_trivial, pm_1ms)
        if joblib is not None:  # start loky's workers before measuring
            table["joblib.Parallel"]["trivial"](range(10))
        for r in range(args.rounds):
            for work in ("trivial", "generator", "1ms"):
                serial_time = serial_cpu = None
                for name, fns in table.items():
                    dt, cpu, got = timed(lambda: fns[work](inputs[work]))
                    got = checksum(got)
                    if got != expected[work]:
                        raise SystemExit("%s gave wrong results for %s" % (name, work))
                    if name == "serial":
                        serial_time, serial_cpu = dt, cpu
                    n = len(inputs[work])
                    results.setdefault((work + " wall", name), []).append(dt)
                    rate = work != "1ms"
                    results.setdefault((work, name), []).append(
                        n / dt if rate else serial_time / (args.processes * dt))
                    results.setdefault((work + " cpu", name), []).append(
                        cpu / n * 1e6 if rate else serial_cpu / cpu)
            print("round %d/%d done" % (r + 1, args.rounds), file=sys.stderr)

    names = list(table)
    print()
    print("parmapper %s (libparmapper %s), Python %s, %d processes, %d rounds (medians), "
          "os.cpu_count() = %d, load average %.1f" % (
              parmapper.__version__, parmapper._c.library_version(),
              sys.version.split()[0], args.processes, args.rounds, os.cpu_count(),
              os.getloadavg()[0]))
    print("1 ms item: %d loop iterations" % LOOPS)
    print()
    header = ["workload"] + names
    rows = []
    rows.append(["trivial, chunk 1000 (M items/s)"] +
                ["%.2f" % (statistics.median(results[("trivial", n)]) / 1e6) for n in names])
    base = statistics.median(results[("trivial", "multiprocessing.Pool.imap")])
    rows.append(["trivial: ratio to Pool.imap"] +
                ["%.2f" % (statistics.median(results[("trivial", n)]) / base) for n in names])
    rows.append(["trivial: CPU us per item, all processes"] +
                ["%.2f" % statistics.median(results[("trivial cpu", n)]) for n in names])
    rows.append(["generator input, chunk 1000 (M items/s)"] +
                ["%.2f" % (statistics.median(results[("generator", n)]) / 1e6) for n in names])
    rows.append(["1 ms items, chunk 1: efficiency % (wall)"] +
                ["%.1f" % (100 * statistics.median(results[("1ms", n)])) if n != "serial"
                 else "100 (ref.)" for n in names])
    best_serial = min(results[("1ms wall", "serial")])
    rows.append(["1 ms items: efficiency % (best of rounds)"] +
                ["%.1f" % (100 * best_serial / (args.processes * min(results[("1ms wall", n)])))
                 if n != "serial" else "100 (ref.)" for n in names])
    rows.append(["1 ms items: serial CPU / CPU used, %"] +
                ["%.1f" % (100 * statistics.median(results[("1ms cpu", n)])) if n != "serial"
                 else "100 (ref.)" for n in names])
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |"
    print(line)
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")
    print()
    print("every round, all values: " + "; ".join(
        "%s %s: %s" % (w, n, ", ".join("%.3g" % v for v in vals))
        for (w, n), vals in sorted(results.items()) if not w.endswith(" wall")))


if __name__ == "__main__":
    main()
