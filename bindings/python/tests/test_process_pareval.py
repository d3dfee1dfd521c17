"""ReturnProcess and ParEval, as the Python tool's README and docstrings give
them."""
import os
import signal
import time

import pytest

import helpers
import parmapper


def test_return_process_result_and_rejoin():
    data = {"k": [1, 2, 3]}  # inherited, never pickled
    p = parmapper.ReturnProcess(lambda key, extra=0: sum(data[key]) + extra, args=("k",),
                                kwargs={"extra": 4})
    assert p.start() is p
    assert p.join() == 10
    assert p.join() == 10
    assert not helpers.children()


def test_return_process_runs_in_another_process():
    assert parmapper.ReturnProcess(os.getpid).start().join() != os.getpid()


def test_return_process_exception_modes():
    def bad():
        raise KeyError("nope")

    with pytest.raises(KeyError) as info:
        parmapper.ReturnProcess(bad).start().join()
    assert "raise KeyError" in str(info.value.__cause__)
    e = parmapper.ReturnProcess(bad, exception="return").start().join()
    assert isinstance(e, KeyError) and e.args == ("nope",)
    with pytest.raises(ValueError):
        parmapper.ReturnProcess(bad, exception="other")
    with pytest.raises(ValueError, match="target"):
        parmapper.ReturnProcess()


def test_return_process_that_dies():
    p = parmapper.ReturnProcess(lambda: os.kill(os.getpid(), signal.SIGKILL)).start()
    with pytest.raises(parmapper.WorkerError, match="signal 9"):
        p.join()


def timed(n):
    start = time.monotonic()
    time.sleep(0.3)
    return start, time.monotonic(), b"x" * n


def test_return_process_big_result_and_parallelism():
    ps = [parmapper.ReturnProcess(timed, args=(n,)).start() for n in (1, 10 ** 6, 32 * 2 ** 20)]
    res = [p.join() for p in ps]
    assert [len(r[2]) for r in res] == [1, 10 ** 6, 32 * 2 ** 20]
    # They ran at the same time: every one started before any ended.
    assert max(r[0] for r in res) < min(r[1] for r in res)


def test_return_process_unjoined_is_killed_on_close():
    p = parmapper.ReturnProcess(time.sleep, args=(60,)).start()
    assert helpers.children()
    p.close()
    assert not helpers.children()


def test_return_process_start_twice_and_join_unstarted():
    p = parmapper.ReturnProcess(abs, args=(-1,))
    with pytest.raises(RuntimeError):
        p.join()
    p.start()
    with pytest.raises(RuntimeError):
        p.start()
    assert p.join() == 1
    with pytest.raises(NotImplementedError):
        p.join(timeout=1)


@pytest.fixture
def np():
    return pytest.importorskip("numpy")


def row_norms(X):
    import numpy as np
    return np.sqrt((X ** 2).sum(axis=1))


def test_pareval_equals_the_serial_call(np):
    X = np.random.default_rng(1).normal(size=(997, 4))
    for kw in ({}, {"n_chunks": 3}, {"n_eval": 100}, {"n_chunks": 50, "n_min": 40},
               {"N": 1}, {"N": 2, "Nt": 2}):
        assert np.array_equal(parmapper.ParEval(row_norms, **kw)(X), row_norms(X)), kw


def test_pareval_chunks_and_extra_arguments(np):
    def sizes(X, scale, offset=0):
        return np.full(len(X), len(X) * scale + offset)

    X = np.zeros((10, 2))
    out = parmapper.ParEval(sizes, n_eval=4, args=(1,), kwargs={"offset": 0})(X)
    # n = 10 split by n_eval 4: 3 chunks of 4, 3, 3 rows (larger first).
    assert out.tolist() == [4] * 4 + [3] * 6
    out = parmapper.ParEval(sizes, n_chunks=4, n_min=3, args=(1,))(X)
    assert out.tolist() == [4] * 4 + [3] * 6
    out = parmapper.ParEval(sizes, n_chunks=4, args=(1,))(X)
    assert out.tolist() == [3] * 6 + [2] * 4
    with pytest.raises(ValueError, match="EITHER"):
        parmapper.ParEval(sizes, n_chunks=2, n_eval=2)


def test_pareval_one_dimensional_and_empty_and_scalar(np):
    f = parmapper.ParEval(lambda x: x * 2, n_chunks=3)
    assert f(np.arange(7)).tolist() == [0, 2, 4, 6, 8, 10, 12]
    assert f(np.arange(0)).tolist() == []
    assert f(5).tolist() == [10]


def test_pareval_does_not_pickle_the_input(np):
    # A huge input costs nothing to send: workers read it from their copy.
    X = np.ones((4_000_000, 2))
    t0 = time.monotonic()
    res = parmapper.ParEval(lambda A: A[:, :1].sum(keepdims=True), n_chunks=2, N=2)(X)
    assert res.tolist() == [[2_000_000.0], [2_000_000.0]]
    assert time.monotonic() - t0 < 10


def test_pareval_errors_propagate(np):
    def bad(X):
        if X[0, 0] > 5:
            raise ArithmeticError("too big")
        return X

    with pytest.raises(ArithmeticError) as info:
        parmapper.ParEval(bad, n_chunks=4, N=2)(np.arange(20.0).reshape(10, 2))
    assert info.value.seq_index >= 1
