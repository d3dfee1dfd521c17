"""Every example of the Python tool's README (shared/reference/parmapper-python-readme.txt),
as written there, with its placeholders ("result = ... # Do something time
consuming") filled in with real work, checked against the output the README
describes (the serial result)."""
import multiprocessing as mp
import time

import parmapper

items = list(range(10))
itemsA = list(range(10))
itemsB = list(range(10, 20))
itemC = 100


def test_basic_usage_parmapper():
    def do_something(item):
        result = item * item  # Do something time consuming
        return result

    results = list(parmapper.parmapper(do_something, items))
    assert results == [i * i for i in items]


def test_replace_a_loop():
    # Serial -- for loop
    results_loop = []
    for item in items:
        result = item * 3 + 1  # Do something time consuming
        results_loop.append(result)

    # Serial -- function
    def proc(item):
        result = item * 3 + 1  # Do something time consuming
        return result

    results_map = list(map(proc, items))

    # Parallel
    results = list(parmapper.parmap(proc, items))
    assert results == results_loop == results_map


def dj(dictA, dictB):
    '''Join dictA and dictB where dictB takes precedence'''
    dictA = dictA.copy()
    dictA.update(dictB)  # NOTE: dictB takes precedence
    return dictA


def record(*args, **kwargs):
    return args, kwargs


def test_argument_table():
    """The six rows of the README's star/kwstar table."""
    args = (7, 8)
    kwargs = {"k": 1, "z": 2}
    val, vals, kwval = 5, (5, 6), {"z": 3, "w": 4}
    N = 2

    def one(item, star, kwstar):
        return list(parmapper.parmap(record, [item] * 3, N=N, args=args, kwargs=kwargs,
                                     star=star, kwstar=kwstar))

    # | False | False | val        | *((val,)+args) | **kwargs             |
    assert one(val, False, False) == [((val,) + args, kwargs)] * 3
    # | True  | False | vals       | *(vals+args)   | **kwargs             |
    assert one(vals, True, False) == [(vals + args, kwargs)] * 3
    # | None  | False | ---        | *args          | **kwargs             |
    assert one("ignored", None, False) == [(args, kwargs)] * 3
    # | None  | True  | ---        | *args          | **dj(kwargs,kwvals)  |
    assert one(kwval, None, True) == [(args, dj(kwargs, kwval))] * 3
    # | False | True  | val,kwval  | *((val,)+args) | **dj(kwargs,kwvals)  |
    assert one((val, kwval), False, True) == [((val,) + args, dj(kwargs, kwval))] * 3
    # | True  | True  | vals,kwval | *(vals+args)   | **dj(kwargs,kwvals)  |
    assert one((vals, kwval), True, True) == [(vals + args, dj(kwargs, kwval))] * 3


def test_argument_table_none_without_args_calls_with_nothing():
    # ° If kwargs and args are empty, basically calls with nothing
    assert list(parmapper.parmap(lambda: "called", range(4), star=None, N=2)) == ["called"] * 4


def test_multiple_arguments_with_star():
    def do_something(itemA, itemB):
        result = itemA * itemB  # Do something time consuming
        return result

    results = list(parmapper.parmap(do_something, zip(itemsA, itemsB), star=True))
    assert results == [a * b for a, b in zip(itemsA, itemsB)]


def test_changing_keyword_arguments():
    def do_something(item, opt=False):
        result = (item, opt)  # Do something time consuming
        return result

    results = list(parmapper.parmap(do_something,
                                    zip(items, [{'opt': (i % 2 == 0)} for i in range(10)]),
                                    kwstar=True))
    assert results == [(i, i % 2 == 0) for i in items]


def test_both_keywords_and_multiple_arguments():
    def do_something(itemA, itemB, opt=False):
        result = (itemA + itemB, opt)  # Do something time consuming
        return result

    itemsAB = zip(itemsA, itemsB)
    kws = [{'opt': (i % 2 == 0)} for i in range(10)]
    results = list(parmapper.parmap(do_something, zip(itemsAB, kws),
                                    star=True, kwstar=True))
    assert results == [(a + b, i % 2 == 0) for i, (a, b) in enumerate(zip(itemsA, itemsB))]


def test_fixed_argument_and_fixed_keyword():
    def do_something(itemA, itemB, itemC, opt=False, opt2=True):
        result = (itemA + itemB + itemC, opt, opt2)  # Do something time consuming
        return result

    itemsAB = zip(itemsA, itemsB)
    kws = [{'opt': (i % 2 == 0)} for i in range(10)]
    results = list(parmapper.parmap(do_something, zip(itemsAB, kws),
                                    star=True, kwstar=True,
                                    args=(itemC,), kwargs={'opt2': False}))
    assert results == [(a + b + itemC, i % 2 == 0, False)
                       for i, (a, b) in enumerate(zip(itemsA, itemsB))]


def test_start_method():
    # "the start method must be explicitly set when Python loads" (macOS);
    # on Linux these are harmless, and parmapper forks through libparmapper
    # whatever they say.
    import parmapper as parmap
    parmap.set_start_method()
    assert mp.get_start_method() == "fork"
    assert list(parmap.parmap(lambda x: -x, range(3))) == [0, -1, -2]


def slow(x, kw=0):
    time.sleep(0.2)
    return x + kw


def slower(x, kw=0):
    time.sleep(0.3)
    return x * kw


def test_return_process():
    arg1, arg2, arg3, arg4 = 1, 2, 3, 4
    # Replace:
    serial1 = slow(arg1, kw=arg2)
    serial2 = slower(arg3, kw=arg4)
    # with:
    p1 = parmapper.ReturnProcess(slow, args=(arg1,), kwargs={'kw': arg2}).start()
    p2 = parmapper.ReturnProcess(slower, args=(arg3,), kwargs={'kw': arg4}).start()
    res1, res2 = p1.join(), p2.join()
    assert (res1, res2) == (serial1, serial2) == (3, 12)


def test_return_processes_run_at_the_same_time():
    def stamped(t):
        start = time.monotonic()
        time.sleep(t)
        return start, time.monotonic()

    p1 = parmapper.ReturnProcess(stamped, args=(0.2,)).start()
    p2 = parmapper.ReturnProcess(stamped, args=(0.3,)).start()
    (s1, e1), (s2, e2) = p1.join(), p2.join()
    assert max(s1, s2) < min(e1, e2)


def test_pareval():
    import numpy as np

    def fun(X):
        return np.sin(X[:, 0]) * X[:, 1] + X[:, 2] ** 2

    X = np.random.default_rng(4).normal(size=(1001, 3))
    # Replace:
    results_serial = fun(X)
    # with:
    parfun = parmapper.ParEval(fun)
    results = parfun(X)
    assert results.shape == results_serial.shape
    assert np.array_equal(results, results_serial)


def test_progress_bar(capsys):
    results = list(parmapper.parmap(lambda x: x + 1, range(50), progress=True, N=2))
    assert results == list(range(1, 51))
    err = capsys.readouterr().err
    assert "50/50" in err, err


def test_generator_pipeline():
    try:
        from itertools import imap  # python 2
    except ImportError:
        imap = map
    from parmapper import parmap

    loaded = []

    def data_load_generator():
        for i in range(200):
            loaded.append(i)
            yield i

    def preprocess(x):
        return x + 1

    def expensive_computation(x):
        return x * x

    def postprocess(x):
        return x - 1

    data = data_load_generator()
    data = imap(preprocess, data)
    data = parmap(expensive_computation, data)
    data = imap(postprocess, data)
    assert loaded == []  # nothing runs before the chain is iterated
    # Execute the analysis chain
    data = list(data)
    assert data == [(i + 1) ** 2 - 1 for i in range(200)]
    assert loaded == list(range(200))


def test_pool_duck_typing():
    # "a `map = imap = __call__` and `close = lamba *a,**k:None` are also added
    # so a parmap function can mimic a multiprocessing pool object"
    pool = parmapper.parmap
    assert list(pool.map(abs, [-1, -2])) == [1, 2]
    assert list(pool.imap(abs, [-3])) == [3]
    assert pool.close() is None
    assert parmapper.parmapper is parmapper.parmap
