"""Pool: workers forked once and kept for many maps (the Python tool re-forks
on every call)."""
import os
import threading
import time

import pytest

import helpers
import parmapper


def test_many_maps_on_the_same_workers():
    offset = 1000  # a local the workers inherited when the pool was made
    with parmapper.Pool(lambda x: (x + offset, os.getpid()), N=2) as pool:
        pids = set()
        for k in range(200):
            res = list(pool.map(range(k % 13)))
            assert [r[0] for r in res] == [x + offset for x in range(k % 13)]
            pids.update(r[1] for r in res)
        assert len(pids) <= 2 and os.getpid() not in pids
        assert pool.processes == 2
    assert pool.processes == 0 and not helpers.children()


def test_pool_map_parameters():
    def f(x, scale, bias=0):
        if x == 5:
            raise ValueError("five")
        return x * scale + bias

    with parmapper.Pool(f, N=2, args=(10,), kwargs={"bias": 1}) as pool:
        assert list(pool.map([1, 2, 3])) == [11, 21, 31]
        assert sorted(pool.map(range(5), ordered=False, chunksize=2)) == \
            [x * 10 + 1 for x in range(5)]
        res = list(pool.map(range(7), exception="return"))
        assert isinstance(res[5], ValueError) and res[5].seq_index == 5
        with pytest.raises(ValueError) as info:
            list(pool.imap(range(7)))
        assert info.value.seq_index == 5
        assert list(pool(iter([0]))) == [1]


def test_star_modes_in_a_pool():
    with parmapper.Pool(lambda a, b, c=0: a + b + c, N=2, star=True, kwstar=True) as pool:
        assert list(pool.map([((1, 2), {"c": 3}), ((4, 5), {})])) == [6, 9]


def test_one_map_at_a_time():
    with parmapper.Pool(lambda x: x, N=2) as pool:
        first = pool.map(range(100000))
        assert next(first) == 0
        second = pool.map(range(3))
        with pytest.raises(RuntimeError, match="another map"):
            next(second)
        first.close()
        assert list(pool.map(range(3))) == [0, 1, 2]


def test_break_in_a_pool_map_keeps_the_pool():
    with parmapper.Pool(lambda x: x, N=2) as pool:
        for r in pool.map(range(10 ** 6)):
            if r == 100:
                break
        assert list(pool.map(range(4))) == [0, 1, 2, 3]
        assert pool.processes == 2


def test_a_crash_is_replaced_and_the_pool_stays_whole():
    def f(x):
        if x == 3:
            os._exit(5)
        return x

    with parmapper.Pool(f, N=2) as pool:
        with pytest.raises(parmapper.WorkerError) as info:
            list(pool.map(range(10)))
        assert info.value.seq_index == 3 and "exited with status 5" in str(info.value)
        res = list(pool.map(range(10), exception="return"))
        assert isinstance(res[3], parmapper.WorkerError)
        assert list(pool.map([0, 1, 2])) == [0, 1, 2]
        assert pool.processes == 2


def test_timeout_and_retries_per_map(tmp_path):
    marker = str(tmp_path / "once")

    def f(x):
        if x == 2 and not os.path.exists(marker):
            open(marker, "w").close()
            time.sleep(60)
        return x

    with parmapper.Pool(f, N=2) as pool:
        with pytest.raises(parmapper.ItemTimeoutError):
            list(pool.map(range(5), timeout=0.2))
        os.unlink(marker)
        assert list(pool.map(range(5), timeout=0.2, retries=1)) == list(range(5))


def test_maps_from_several_threads_in_turn():
    with parmapper.Pool(lambda x: x * x, N=2) as pool:
        lock = threading.Lock()
        errors = []

        def worker(k):
            try:
                for j in range(10):
                    with lock:
                        assert list(pool.map(range(k + j))) == [x * x for x in range(k + j)]
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors


def test_pool_with_threads_per_worker():
    with parmapper.Pool(lambda x: (x, threading.get_ident()), N=2, Nt=3) as pool:
        for _ in range(5):
            assert [r[0] for r in pool.map(range(30))] == list(range(30))


def test_pool_of_one_runs_in_this_process():
    with parmapper.Pool(lambda x: os.getpid(), N=1) as pool:
        assert set(pool.map(range(5))) == {os.getpid()}


def test_closed_pool():
    pool = parmapper.Pool(abs, N=2)
    pool.close()
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.map([1])


def test_pool_progress(capsys):
    pytest.importorskip("tqdm")
    with parmapper.Pool(abs, N=2) as pool:
        assert list(pool.map(range(-20, 0), progress="pool")) == list(range(20, 0, -1))
    err = capsys.readouterr().err
    assert "pool" in err and "20/20" in err


def test_an_unclosed_pool_is_reaped_when_collected():
    pool = parmapper.Pool(abs, N=2)
    assert list(pool.map([-1])) == [1]
    del pool
    import gc
    gc.collect()
    assert not helpers.children()
