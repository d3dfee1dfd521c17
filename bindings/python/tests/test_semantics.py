"""parmap's parameters, defaults and semantics, as the Python tool's README
and docstring give them, and what crosses between processes."""
import inspect
import math
import os
import pickle
import sys
import threading

import pytest

import helpers
import parmapper


def test_signature_matches_the_python_tool():
    sig = inspect.signature(parmapper.parmap)
    positional = [(p.name, p.default) for p in sig.parameters.values()
                  if p.kind is p.POSITIONAL_OR_KEYWORD]
    E = inspect.Parameter.empty
    assert positional == [
        ("fun", E), ("seq", E), ("N", None), ("Nt", 1), ("chunksize", 1), ("ordered", True),
        ("daemon", True), ("progress", False), ("total", None), ("args", ()),
        ("kwargs", None), ("star", False), ("kwstar", False), ("exception", None)]
    extra = {p.name: p.default for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY}
    assert extra == {"timeout": None, "retries": 0, "max_in_flight": None}


def test_module_api():
    assert parmapper.parmapper is parmapper.parmap
    assert parmapper.CPU_COUNT == os.cpu_count()
    for name in ("set_start_method", "ReturnProcess", "ParEval", "Pool", "WorkerError"):
        assert hasattr(parmapper, name)


def test_nothing_runs_before_the_first_step():
    ran = []

    def gen():
        ran.append(1)
        yield 1

    it = parmapper.parmap(lambda x: x, gen(), N=2)
    assert ran == [] and not helpers.children()
    assert list(it) == [1] and ran == [1]


@pytest.mark.parametrize("N", [1, 2, 3])
@pytest.mark.parametrize("chunksize", [1, 7, -1, None, 1000])
def test_results_in_order(N, chunksize):
    data = list(range(257))
    assert list(parmapper.parmap(lambda x: x * 3, data, N=N, chunksize=chunksize)) == \
        [x * 3 for x in data]


@pytest.mark.parametrize("source", ["list", "tuple", "range", "generator", "dict", "string"])
def test_input_kinds(source):
    base = list(range(100))
    seq = {"list": base, "tuple": tuple(base), "range": range(100),
           "generator": (x for x in base), "dict": dict.fromkeys(base),
           "string": "abcdefghij" * 10}[source]
    expected = [repr(x) for x in (seq if source != "generator" else base)]
    assert list(parmapper.parmap(repr, seq, N=2, chunksize=3)) == expected


@pytest.mark.parametrize("r", [range(5), range(10, 0, -3), range(-5, 5, 2), range(0),
                               range(2 ** 62, 2 ** 62 + 10, 3), range(2 ** 63 - 3, 2 ** 63 + 3),
                               range(-2 ** 64, -2 ** 64 + 4)], ids=repr)
def test_ranges_with_any_bounds(r):
    # Ranges of 64-bit ints are indexed with arithmetic in the workers; the
    # others through range itself.
    assert list(parmapper.parmap(lambda x: (type(x), x), r, N=2)) == [(int, x) for x in r]


def test_numpy_array_input_rows():
    np = pytest.importorskip("numpy")
    X = np.arange(30.0).reshape(10, 3)
    assert list(parmapper.parmap(lambda row: float(row.sum()), X, N=2)) == \
        [float(r.sum()) for r in X]


def test_empty_input():
    assert list(parmapper.parmap(lambda x: x, [], N=2)) == []
    assert list(parmapper.parmap(lambda x: x, iter([]), N=2)) == []


def test_unordered_gives_every_result_once():
    import time

    def f(x):
        time.sleep(0.02 if x % 5 == 0 else 0)
        return x

    got = list(parmapper.parmap(f, range(60), N=2, ordered=False))
    assert sorted(got) == list(range(60))


def test_threads_in_each_worker():
    res = list(parmapper.parmap(lambda x: (x, threading.get_ident()), range(40), N=2, Nt=3,
                                chunksize=1))
    assert [r[0] for r in res] == list(range(40))


def test_serial_threads_n1():
    res = list(parmapper.parmap(lambda x: x + 1, range(20), N=1, Nt=4))
    assert res == list(range(1, 21))


def test_n_is_capped_by_the_number_of_chunks():
    # The Python tool's N = min(N, total // chunksize): three items, one
    # chunk each, make three processes at most, one item runs in-process.
    pids = set(parmapper.parmap(lambda x: os.getpid(), range(3), N=8))
    assert len(pids) <= 3 and os.getpid() not in pids
    assert list(parmapper.parmap(lambda x: os.getpid(), range(1), N=8)) == [os.getpid()]


def test_closure_over_local_state_and_unpicklable_function():
    lock = threading.Lock()  # cannot be pickled: the work function is inherited
    table = {i: i * i for i in range(50)}
    res = list(parmapper.parmap(lambda i: (table[i], lock.locked()), range(50), N=2))
    assert res == [(i * i, False) for i in range(50)]


def test_workers_see_memory_at_the_first_step():
    state = {"v": 1}
    it = parmapper.parmap(lambda x: state["v"] + x, range(4), N=2)
    state["v"] = 10
    assert list(it) == [10, 11, 12, 13]


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


VALUES = [0, -1, 2 ** 63 - 1, -2 ** 63, 2 ** 63, 10 ** 40, 1.5, float("inf"), -0.0, True, False,
          None, "", "héllo", "\udcff", b"", b"\x00\xff", (1, "a"), [1, [2]], {"k": {1, 2}},
          frozenset([3]), 3 + 4j, Point(1, 2), bytearray(b"xy"), range(3)]


def test_codec_round_trips_values_and_types():
    for v in VALUES:
        got, tag = parmapper._c._codec_roundtrip(v)
        assert type(got) is type(v), (v, got)
        if isinstance(v, float) and v == 0:
            assert math.copysign(1, got) == math.copysign(1, v)
        assert got == v, (v, got, tag)
    tags = {repr(v): parmapper._c._codec_roundtrip(v)[1] for v in VALUES}
    assert tags["0"] == "i" and tags["1.5"] == "d" and tags["None"] == "N"
    assert tags["'héllo'"] == "s" and tags["b''"] == "b"
    assert tags[repr(2 ** 63)] == "p" and tags["'\\udcff'"] == "p"


def test_values_cross_both_ways():
    # As items (pickled from an iterator) and as results.
    res = list(parmapper.parmap(lambda v: (type(v).__name__, v), iter(VALUES), N=2))
    assert res == [(type(v).__name__, v) for v in VALUES]


def test_nan_and_big_results():
    res = list(parmapper.parmap(lambda n: b"x" * n, [0, 1, 10 ** 6, 8 * 2 ** 20], N=2))
    assert [len(r) for r in res] == [0, 1, 10 ** 6, 8 * 2 ** 20]
    (nan,) = parmapper.parmap(lambda x: float("nan"), [1], N=2, chunksize=1)
    assert math.isnan(nan)


def failing(x):
    if x == 5:
        raise KeyError("five")
    return x


def test_exception_raise_mode_names_the_item():
    with pytest.raises(KeyError) as info:
        list(parmapper.parmap(failing, range(10), N=2))
    e = info.value
    assert e.seq_index == 5
    assert e.args == ("five",)
    assert any("item 5" in n for n in e.__notes__)
    assert "raise KeyError" in str(e.__cause__)  # the worker's traceback


def test_results_before_the_failure_are_delivered_in_order():
    got = []
    with pytest.raises(KeyError):
        for r in parmapper.parmap(failing, range(100), N=2):
            got.append(r)
    assert got == [0, 1, 2, 3, 4]


def test_exception_return_mode():
    res = list(parmapper.parmap(failing, range(8), N=2, exception="return"))
    assert res[:5] == [0, 1, 2, 3, 4] and res[6:] == [6, 7]
    assert isinstance(res[5], KeyError) and res[5].seq_index == 5


def test_exception_default_is_proc_with_one_process():
    # 'proc': the exception comes straight from fun, with its own traceback.
    with pytest.raises(KeyError) as info:
        list(parmapper.parmap(failing, range(10), N=1))
    assert not hasattr(info.value, "seq_index")
    assert info.traceback[-1].name == "failing"


@pytest.mark.parametrize("N", [1, 2])
def test_exception_raise_and_return_with_one_process(N):
    with pytest.raises(KeyError) as info:
        list(parmapper.parmap(failing, range(10), N=N, exception="raise"))
    assert info.value.seq_index == 5
    res = list(parmapper.parmap(failing, range(10), N=N, exception="return"))
    assert isinstance(res[5], KeyError)


def test_exception_proc_with_processes_prints_in_the_worker():
    proc = helpers.run_script("""
        import parmapper
        def f(x):
            if x == 2:
                raise ValueError("in proc mode")
            return x
        try:
            list(parmapper.parmap(f, range(5), N=2, exception="proc"))
        except ValueError as e:
            print("raised", e.seq_index)
    """)
    assert "raised 2" in proc.stdout
    assert "ValueError: in proc mode" in proc.stderr  # printed by the worker


def test_unknown_exception_mode():
    with pytest.raises(ValueError, match="Unrecognized `exception` setting 'bogus'"):
        parmapper.parmap(abs, [1], exception="bogus")


@pytest.mark.parametrize("N", [1, 2])
def test_argument_errors_raise_whatever_the_mode(N):
    # An item that does not fit the argument mode is raised as the Python
    # tool does, even with exception='return'.
    with pytest.raises(TypeError, match="Ensure `args` are tuples and `kwargs` are dicts") as i:
        list(parmapper.parmap(lambda a, b: a, [(1, 2), 3], N=N, star=True, exception="return"))
    assert i.value.seq_index == 1
    with pytest.raises(TypeError, match="Ensure"):
        list(parmapper.parmap(lambda a: a, [(1, {}), (2, 5)], N=N, kwstar=True,
                              exception="return"))


class Unpicklable(Exception):
    def __init__(self):
        super().__init__("holds a lock")
        self.lock = threading.Lock()


class BadInit(Exception):
    def __init__(self, a, b):  # unpickling calls BadInit(*args) with one arg
        super().__init__("%s-%s" % (a, b))


def test_exception_that_cannot_cross_becomes_remote_error():
    def f(x):
        if x == 1:
            raise Unpicklable()
        if x == 2:
            raise BadInit(1, 2)
        return x

    res = list(parmapper.parmap(f, range(3), N=2, exception="return"))
    assert res[0] == 0
    assert isinstance(res[1], parmapper.RemoteError) and res[1].seq_index == 1
    assert "Unpicklable" in res[1].type_name and "holds a lock" in str(res[1])
    assert isinstance(res[2], parmapper.RemoteError) and "1-2" in str(res[2])
    assert "raise BadInit" in res[2].traceback_text


def test_result_that_cannot_be_pickled_fails_its_item():
    res = list(parmapper.parmap(lambda x: threading.Lock() if x == 1 else x, range(3), N=2,
                                exception="return"))
    assert res[0] == 0 and res[2] == 2
    assert isinstance(res[1], TypeError) and "pickle" in str(res[1])


def test_system_exit_in_a_worker_is_raised_in_the_parent():
    def f(x):
        if x == 3:
            sys.exit(4)
        return x

    with pytest.raises(SystemExit) as info:
        list(parmapper.parmap(f, range(6), N=2, exception="return"))
    assert info.value.code == 4 and info.value.seq_index == 3


def test_progress_with_tqdm_and_without(capsys, monkeypatch):
    pytest.importorskip("tqdm")
    assert list(parmapper.parmap(lambda x: x, range(30), N=2, progress="squares")) == \
        list(range(30))
    err = capsys.readouterr().err
    assert "squares" in err and "30/30" in err
    monkeypatch.setattr(parmapper, "tqdm", None)
    assert list(parmapper.parmap(lambda x: x, iter(range(30)), N=2, progress=True,
                                 total=30)) == list(range(30))
    err = capsys.readouterr().err
    assert "parmap: " in err and "100%" in err and "30/30" in err


def test_progress_in_process_and_without_daemon(capsys):
    pytest.importorskip("tqdm")
    assert list(parmapper.parmap(abs, range(-10, 0), N=1, progress=True)) == \
        list(range(10, 0, -1))
    assert "10/10" in capsys.readouterr().err
    assert list(parmapper.parmap(abs, range(-10, 0), N=2, daemon=False)) == \
        list(range(10, 0, -1))


def test_python_stdout_is_not_printed_twice_and_workers_output_arrives():
    proc = helpers.run_script("""
        import parmapper, sys
        print("before the map", end="")  # buffered: stdout is a pipe
        sys.stderr.write("err-before ")
        def f(x):
            print("worker says", x)
            return x
        assert list(parmapper.parmap(f, range(4), N=2)) == [0, 1, 2, 3]
        print()
    """)
    assert proc.stdout.count("before the map") == 1
    assert proc.stderr.count("err-before") == 1
    for x in range(4):
        assert proc.stdout.count("worker says %d" % x) == 1
    # Nothing else: the library and the binding print nothing of their own.
    lines = proc.stdout.replace("before the map", "").split("\n")
    assert sorted(filter(None, lines)) == ["worker says %d" % x for x in range(4)]
    assert proc.stderr == "err-before "


def test_items_of_an_iterator_are_pickled_results_any_picklable():
    res = list(parmapper.parmap(lambda p: Point(p.y, p.x), (Point(i, -i) for i in range(5)),
                                N=2))
    assert res == [Point(-i, i) for i in range(5)]


def test_unpicklable_item_from_an_iterator_raises_in_the_parent():
    items = [1, 2, threading.Lock(), 4]
    got = []
    with pytest.raises(TypeError, match="pickle"):
        for r in parmapper.parmap(lambda x: x, iter(items), N=2):
            got.append(r)
    assert got == [1, 2]


def test_in_process_map_has_the_same_methods():
    with parmapper.parmap(lambda x: x, range(10), N=1) as it:
        assert iter(it) is it and next(it) == 0
        assert it.pulled == 0 and not it.running
    assert list(it) == []
    it = parmapper.parmap(lambda x: x, iter(range(10)), N=1)
    assert [next(it), next(it)] == [0, 1] and it.pulled == 2
    it = parmapper.parmap(lambda x: x, range(10), N=1, Nt=2)
    assert next(it) == 0
    it.close()
    assert list(it) == []


def test_map_is_an_iterator_with_close_and_context_manager():
    it = parmapper.parmap(lambda x: x, range(10 ** 6), N=2)
    assert iter(it) is it
    assert next(it) == 0 and it.running
    it.close()
    assert not it.running and list(it) == []
    with parmapper.parmap(lambda x: x, range(10 ** 6), N=2) as it2:
        assert next(it2) == 0
    assert not it2.running


def test_the_same_map_stepped_from_a_worker_is_refused():
    outer = parmapper.parmap(lambda x: x, range(100), N=2)
    assert next(outer) == 0

    def use_outer(x):
        try:
            next(outer)
        except RuntimeError as e:
            return "refused: " + str(e)[:40]
        return "stepped"

    res = list(parmapper.parmap(use_outer, range(2), N=2))
    assert all(r.startswith("refused") for r in res), res
    assert list(outer) == list(range(1, 100))


def test_nested_maps():
    def inner(x):
        return sum(parmapper.parmap(lambda y: y * x, range(10), N=2))

    assert list(parmapper.parmap(inner, range(4), N=2)) == [45 * x for x in range(4)]


def test_pickle_of_errors():
    e = parmapper.WorkerError("boom", 3, -5)
    e2 = pickle.loads(pickle.dumps(e))
    assert (str(e2), e2.seq_index, e2.status) == ("boom", 3, -5)
    r = pickle.loads(pickle.dumps(parmapper.RemoteError("m", "T", "tb", 2)))
    assert (r.type_name, r.traceback_text, r.seq_index) == ("T", "tb", 2)


class BreaksInTheParent:
    """Pickles in the worker; unpickling it fails in the parent only."""

    def __reduce__(self):
        return (_only_in_a_worker, (os.getpid(),))


_PARENT = os.getpid()


def _only_in_a_worker(pid):
    if os.getpid() == _PARENT:
        raise LookupError("cannot be rebuilt here")
    return "rebuilt"


def test_result_that_cannot_be_unpickled_names_the_item():
    with pytest.raises(LookupError) as info:
        list(parmapper.parmap(lambda x: BreaksInTheParent() if x == 3 else x, range(6), N=2))
    assert info.value.seq_index == 3
    assert any("could not be unpickled" in n for n in info.value.__notes__)


def test_workers_fork_whatever_parmapper_start_says(monkeypatch):
    # PARMAPPER_START=exec chooses the library's exec mode for programs that
    # did not choose; the binding always forks (its work function lives in
    # the extension and a worker must inherit the callable).
    monkeypatch.setenv("PARMAPPER_START", "exec")
    proc = helpers.run_script("""
        import parmapper
        local = [10, 20, 30]
        print(list(parmapper.parmap(lambda i: local[i], range(3), N=2)))
        with parmapper.Pool(lambda x: -x, N=2) as pool:
            print(list(pool.map(iter(range(3)))))
    """)
    assert proc.stdout.split("\n")[:2] == ["[10, 20, 30]", "[0, -1, -2]"]


@pytest.mark.parametrize("chunksize", [1000, None])
def test_a_trivial_map_crosses_into_python_per_chunk_not_per_item(chunksize):
    # The 0.2 ctypes client paid one crossing per item on each side; the
    # counters count the library's calls into the extension (a worker
    # inherits the parent's counts, hence the baseline).
    c = parmapper._parmapper
    n = 20000
    before = c._crossings()
    seen = list(parmapper.parmap(lambda x: c._crossings()["chunk_calls"], range(n), N=2,
                                 chunksize=chunksize))
    after = c._crossings()
    assert len(seen) == n
    assert max(seen) - before["chunk_calls"] <= n // 200, "chunk calls in one worker"
    assert after["batch_calls"] - before["batch_calls"] <= n // 100, "result steps"
    before = c._crossings()
    assert sum(parmapper.parmap(abs, iter(range(n)), N=2, chunksize=chunksize)) == n * (n - 1) // 2
    after = c._crossings()
    assert after["pull_calls"] - before["pull_calls"] <= n // 200, "feeder pulls"
    assert after["batch_calls"] - before["batch_calls"] <= n // 100, "result steps"
