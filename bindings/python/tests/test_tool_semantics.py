"""The Python tool's own checks, written anew from its README and docstring
(its test script is not part of the reference): every argument mode with
N = 1, 2 and 4 (more processes than cores), fixed and per-item keywords,
threads, and lambdas, with a multiprocessing.Lock shared by the workers."""
import multiprocessing as mp
import time

import pytest

import helpers
import parmapper

LOCK = mp.Lock()  # made before the map: inherited by every worker


def sleep(ii, t=0.05):
    time.sleep(t)
    with LOCK:
        print(ii, t, end=" ")
    return ii


def addsleep(ii, jj, t=0.05):
    time.sleep(t)
    with LOCK:
        print(ii, jj, t, end=" ")
    return ii + jj


GOLD = [2 * i for i in range(10)]


@pytest.mark.parametrize("N", [1, 2, 4])
def test_fixed_and_varied_keywords(N):
    assert list(parmapper.parmap(sleep, range(10), N=N, kwargs={"t": 0.01})) == list(range(10))
    assert list(parmapper.parmap(sleep, range(10), N=N, args=(0.01,))) == list(range(10))
    assert list(parmapper.parmap(sleep, ((i, {"t": i / 400.0}) for i in range(10)), N=N,
                                 kwstar=True)) == list(range(10))
    assert list(parmapper.parmap(sleep, ((i, i / 400.0) for i in range(10)), N=N,
                                 star=True)) == list(range(10))


@pytest.mark.parametrize("N", [1, 2, 4])
def test_star_modes(N):
    pairs = lambda: zip(range(10), range(10))  # noqa: E731
    assert list(parmapper.parmap(addsleep, pairs(), N=N, star=True, kwargs={"t": 0.01})) == GOLD
    assert list(parmapper.parmap(addsleep, pairs(), N=N, star=True, args=(0.01,))) == GOLD
    kws = [{"t": i / 400.0} for i in range(10)]
    assert list(parmapper.parmap(addsleep, zip(pairs(), kws), N=N, star=True,
                                 kwstar=True)) == GOLD
    triples = zip(range(10), range(10), [i / 400.0 for i in range(10)])
    assert list(parmapper.parmap(addsleep, triples, N=N, star=True)) == GOLD
    # Per-item keywords override the fixed ones.
    t0 = time.monotonic()
    assert list(parmapper.parmap(addsleep, zip(pairs(), kws), N=N, star=True, kwstar=True,
                                 kwargs={"t": 1})) == GOLD
    assert time.monotonic() - t0 < 3


def stamped(ii, t=0.05):
    start = time.monotonic()
    time.sleep(t)
    return start, time.monotonic()


def test_processes_and_threads_run_at_the_same_time():
    # Items overlap in time: as many at once as processes (or threads).
    for kw, at_once in (({"N": 2}, 2), ({"N": 4}, 3), ({"N": 1, "Nt": 4}, 3)):
        spans = list(parmapper.parmap(stamped, range(12), **kw))
        assert helpers.max_overlap(spans) >= at_once, kw


def test_lambdas():
    assert list(parmapper.parmap(lambda a: a, range(10), N=2)) == list(range(10))
    assert list(parmapper.parmap(lambda a, b: a + b, zip(range(10), range(10)), star=True,
                                 N=2)) == [2 * a for a in range(10)]
    assert list(parmapper.parmap(lambda a, b=2: a + b, range(10), N=2)) == \
        [a + 2 for a in range(10)]
    assert list(parmapper.parmap(lambda a, b=2: a + b, range(10), N=2, kwargs={"b": 3})) == \
        [a + 3 for a in range(10)]
    assert list(parmapper.parmap(lambda a, b=2: a + b,
                                 zip(range(10), [{"b": i} for i in range(10)]), N=2,
                                 kwstar=True)) == [2 * a for a in range(10)]
    assert list(parmapper.parmap(lambda a, b, c=2: a + b + c,
                                 zip(zip(range(10), range(10)), [{"c": i} for i in range(10)]),
                                 N=2, kwstar=True, star=True)) == [3 * a for a in range(10)]
