"""bench.py runs and prints its table (tiny sizes: the numbers mean nothing)."""
import os
import subprocess
import sys

import helpers

BENCH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench.py")


def test_bench_prints_the_table_with_every_peer():
    proc = subprocess.run([sys.executable, BENCH, "--rounds", "1", "--trivial-items", "3000",
                           "--ms-items", "20"], capture_output=True, text=True, timeout=120,
                          env=helpers.script_env())
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for peer in ("serial", "parmapper.parmap", "parmapper.Pool", "multiprocessing.Pool.imap"):
        assert peer in out
    assert "| trivial, chunk 1000 (M items/s)" in out
    assert "| 1 ms items, chunk 1: efficiency % (wall)" in out
