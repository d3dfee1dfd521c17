"""The Python binding's rows of pmbench (bench/pmbench.c): the workloads of
bench/py_rows.py (the same work, checked the same way, the same result line)
run through ``import parmapper`` instead of multiprocessing. pmbench runs it
as

    /usr/bin/python3 bindings/python/bench_rows.py WORKLOAD binding key=value...

after bindings/python/build_bench_rows.sh has built the extension in place
(scripts/bench.sh does both). What each workload uses:

- trivial: ``parmap(triv, range(n), N=p, chunksize=..., ordered=...)``; chunk=0
  is ``chunksize=None``, the library's adaptive chunks. A ``range`` is read by
  the workers from their fork-time copy, as the C rows' arrays are.
- cpu, big, sizes: ``parmap`` with ``chunksize=None``; the work is the compiled
  function of libpmbench_work.so (key worklib) called through ctypes, as in
  the Python rows. The items of sizes are a list of ``bytes``.
- start: ``Pool(triv, N=p)``, then ``close()``, which reaps the workers.
- memory: ``parmap`` over a generator (read lazily), ``chunksize=None``; the
  endless input is stopped by ``close()``, which stops the map.

Exits 1 with a message on stderr if a result is wrong.
"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import parmapper  # noqa: E402  (the in-place build next to this file)

sys.path.insert(0, os.path.join(here, "..", "..", "bench"))
import py_rows  # noqa: E402


class BindingWay:
    """py_rows' workloads mapped by the binding: parmap() and Pool."""

    def __init__(self, p):
        self.p = p

    def chunk(self, workload, args, n):
        if workload == "trivial":
            return int(args.get("chunk", 0)) or None
        return None  # the library's adaptive chunks

    def imap(self, fun, seq, chunk, ordered=True):
        return _BindingRun(parmapper.parmap(fun, seq, N=self.p, chunksize=chunk,
                                            ordered=ordered))

    def start_pool(self, fun):
        return parmapper.Pool(fun, N=self.p).close


class _BindingRun:
    def __init__(self, results):
        self.results = results

    def __iter__(self):
        return iter(self.results)

    def stop(self):
        self.results.close()  # workers killed and reaped

    finish = stop

    def fail(self, message):
        self.stop()
        py_rows.fail(message)


if __name__ == "__main__":
    py_rows.LABEL = "python binding"
    py_rows.main(sys.argv[1:], BindingWay, "binding")
