"""parmapper: map a function over a sequence on fork()ed worker processes.

The Python binding of libparmapper, and the successor of the Python tool
``parmapper``: the same ``parmap()`` (alias ``parmapper``), ``CPU_COUNT``,
``set_start_method()``, ``ReturnProcess`` and ``ParEval``, with the same
parameters and defaults, over the C library. Workers are forked, so ``fun``
may be any callable (lambdas and closures over local data included): it is
inherited, never pickled. Items, results and exceptions cross as pickles
(exact ``int``, ``float``, ``bool``, ``None``, ``str`` and ``bytes`` in a
shorter form of their own).

Beyond the Python tool: a crashed worker raises ``WorkerError`` naming the
item; leaving the loop early (``break``) stops the work; an iterator input is
read lazily, at most ``max_in_flight`` items ahead; ``Pool`` keeps workers for
many maps; ``timeout`` and ``retries`` per item; Ctrl-C raises
``KeyboardInterrupt`` at once, with every worker of the map reaped.
"""
import atexit
import math
import multiprocessing as mp
import multiprocessing.dummy as mpd
import os
import pickle
import signal
import sys
import time
import traceback
import warnings
import weakref

from . import _parmapper as _c

try:
    import tqdm
except ImportError:  # the built-in text bar is used instead
    tqdm = None

__version__ = "0.3.0"
__all__ = [
    "parmap", "parmapper", "CPU_COUNT", "set_start_method", "ReturnProcess", "ParEval",
    "Pool", "ParmapperError", "WorkerError", "ItemTimeoutError", "RemoteError",
]

CPU_COUNT = mp.cpu_count()
_PROTOCOL = pickle.HIGHEST_PROTOCOL
_EXCEPTION_MODES = ("raise", "return", "proc")
# Failures that come back in their place in exception='return' mode.
_IN_PLACE = (_c.PM_EITEM, _c.PM_EWORKER, _c.PM_ETIMEOUT, _c.PM_EIO)


# ---------------------------------------------------------------------------
# Exceptions.

class ParmapperError(Exception):
    """A failure that parmapper itself reports (not an exception of ``fun``)."""


class WorkerError(ParmapperError):
    """A worker process died (a signal, ``os._exit()``, killed from outside)
    or sent corrupt data while running an item. ``seq_index`` is the item."""

    def __init__(self, message, seq_index=None, status=None):
        super().__init__(message)
        self.seq_index = seq_index
        self.status = status

    def __reduce__(self):
        return (type(self), (self.args[0], self.seq_index, self.status))


class ItemTimeoutError(WorkerError, TimeoutError):
    """An item ran past ``timeout`` seconds; its worker was killed."""


class RemoteError(ParmapperError):
    """An exception raised in a worker that could not be re-created in the
    parent (it could not be pickled or unpickled): its type's name, message
    and traceback text."""

    def __init__(self, message, type_name="", traceback_text="", seq_index=None):
        super().__init__(message)
        self.type_name = type_name
        self.traceback_text = traceback_text
        self.seq_index = seq_index

    def __reduce__(self):
        return (type(self), (self.args[0], self.type_name, self.traceback_text, self.seq_index))


class _RemoteTraceback(Exception):
    """The traceback of a worker's exception, as text: the ``__cause__`` of
    the exception re-raised in the parent, so that both are printed."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text

    def __str__(self):
        return self.text


class _ArgumentError(Exception):
    """Raised by a caller when the item does not fit the argument mode: it is
    raised whatever ``exception`` says, as the Python tool does."""

    def __init__(self, error):
        super().__init__()
        if isinstance(error, TypeError):
            replaced = TypeError("Ensure `args` are tuples and `kwargs` are dicts")
            _add_note(replaced, "parmapper: building the arguments failed with %r" % (error,))
            error = replaced
        self.error = error


def _add_note(exc, note):
    if hasattr(exc, "add_note"):
        try:
            exc.add_note(note)
        except Exception:
            pass


def _type_name(cls):
    module = getattr(cls, "__module__", "")
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in ("builtins", "", None) else "%s.%s" % (module, name)


def _safe_str(exc):
    try:
        return str(exc)
    except Exception:
        return "<the exception's str() failed>"


def _encode_failure(exc, where, proc):
    """In a worker: (message, payload) for an exception of the work function.
    The payload pickles the exception (or None if it cannot be), its type's
    name, its text and traceback, where it happened and the worker's pid."""
    if isinstance(exc, _ArgumentError):
        exc, where = exc.error, 1
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if proc:
        try:
            sys.stderr.write(tb)
            sys.stderr.flush()
        except Exception:
            pass
    try:
        blob = pickle.dumps(exc, _PROTOCOL)
    except Exception:
        blob = None
    name = _type_name(type(exc))
    text = _safe_str(exc)
    message = "%s: %s" % (name, text) if text else name
    payload = pickle.dumps((blob, name, text, tb, where, os.getpid()), _PROTOCOL)
    return message, payload


def _set_index(exc, index):
    try:
        exc.seq_index = index
    except Exception:
        pass


def _decode_failure(index, status, message, payload, return_mode):
    """In the parent: (exception, must_raise) for a failed item."""
    where = 0
    if payload is not None:
        blob, name, text, tb, where, pid = pickle.loads(payload)
        exc = None
        if blob is not None:
            try:
                exc = pickle.loads(blob)
            except Exception:
                exc = None
            if not isinstance(exc, BaseException):
                exc = None
        if exc is None:
            exc = RemoteError("%s: %s" % (name, text), name, tb, index)
        exc.__cause__ = _RemoteTraceback("\n" + tb)
        if index is None:
            _add_note(exc, "parmapper: raised in background process %s" % (pid,))
        else:
            _add_note(exc, "parmapper: item %s raised this in worker process %s" % (index, pid))
    elif status == _c.PM_ETIMEOUT:
        exc = ItemTimeoutError(message, index, status)
    elif status in (_c.PM_EWORKER, _c.PM_EIO):
        exc = WorkerError(message, index, status)
    else:
        exc = ParmapperError(message)
    if index is not None:
        _set_index(exc, index)
    must_raise = (not return_mode or where != 0 or status not in _IN_PLACE
                  or not isinstance(exc, Exception))
    return exc, must_raise


def _flush_stdio():
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            try:
                stream.flush()
            except Exception:
                pass


def _child_setup(in_map_process):
    # Map workers leave Ctrl-C to the parent, which stops the map and reaps
    # them; a background process keeps Python's handler, as a
    # multiprocessing child does.
    if in_map_process:
        try:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        except (ValueError, OSError):
            pass


_c._setup(dumps=pickle.dumps, loads=pickle.loads, protocol=_PROTOCOL,
          encode_failure=_encode_failure, decode_failure=_decode_failure,
          flush_stdio=_flush_stdio, child_setup=_child_setup, error_type=ParmapperError)

# Maps, pools and processes still alive at exit are stopped before the
# interpreter finalizes (their threads must not wait for a GIL that is gone).
_live = weakref.WeakSet()


@atexit.register
def _close_all():
    for obj in list(_live):
        try:
            obj.close()
        except Exception:
            pass


# ---------------------------------------------------------------------------
# Argument modes (the Python tool's table).

def _make_caller(fun, args, kwargs, star, kwstar):
    """The function a worker applies to each item, per the star/kwstar table:

    | star  | kwstar | item       | called as                      |
    | False | False  | val        | fun(val, *args, **kwargs)      |
    | True  | False  | vals       | fun(*vals, *args, **kwargs)    |
    | None  | False  | (ignored)  | fun(*args, **kwargs)           |
    | None  | True   | kwval      | fun(*args, **{**kwargs, **kwval}) |
    | False | True   | val,kwval  | fun(val, *args, **{**kwargs, **kwval}) |
    | True  | True   | vals,kwval | fun(*vals, *args, **{**kwargs, **kwval}) |
    """
    def merged(kwval):
        kw = dict(kwargs)
        kw.update(kwval)
        return kw

    if star is None:
        if kwstar:
            def call(ss):
                try:
                    kw = merged(ss)
                except Exception as e:
                    raise _ArgumentError(e) from None
                return fun(*args, **kw)
        else:
            def call(ss):
                return fun(*args, **kwargs)
    elif not star and not kwstar:
        if not args and not kwargs:
            return fun
        def call(ss):
            return fun(ss, *args, **kwargs)
    elif star and not kwstar:
        def call(ss):
            try:
                vals = tuple(ss)
            except Exception as e:
                raise _ArgumentError(e) from None
            return fun(*vals, *args, **kwargs)
    elif not star:
        def call(ss):
            try:
                val, kw = ss[0], merged(ss[1])
            except Exception as e:
                raise _ArgumentError(e) from None
            return fun(val, *args, **kw)
    else:
        def call(ss):
            try:
                vals, kw = tuple(ss[0]), merged(ss[1])
            except Exception as e:
                raise _ArgumentError(e) from None
            return fun(*vals, *args, **kw)
    return call


# ---------------------------------------------------------------------------
# Progress.

class _TextBar:
    """The progress bar when tqdm is not installed: one line on stderr,
    redrawn at most 10 times a second."""

    def __init__(self, total, desc):
        self.total, self.desc, self.n = total, desc, 0
        self.start = self.last = time.monotonic()
        self._draw()

    def _draw(self):
        elapsed = time.monotonic() - self.start
        if self.total:
            frac = min(1.0, self.n / self.total)
            bar = "#" * int(round(frac * 50)) + "-" * (50 - int(round(frac * 50)))
            line = "%s%s : %3d%% %d/%d %.1fs" % (self.desc, bar, round(frac * 100), self.n,
                                                self.total, elapsed)
        else:
            line = "%s%d %.1fs" % (self.desc, self.n, elapsed)
        try:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
        except Exception:
            pass

    def update(self, n=1):
        self.n += n
        now = time.monotonic()
        if now - self.last >= 0.1 or (self.total and self.n >= self.total):
            self.last = now
            self._draw()

    def close(self):
        self._draw()
        try:
            sys.stderr.write("\n")
            sys.stderr.flush()
        except Exception:
            pass


def _progress_factory(progress, total):
    if not progress:
        return None
    desc = "parmap: " if progress is True else str(progress)
    if tqdm is not None:
        return lambda: tqdm.tqdm(total=total, desc=desc)
    return lambda: _TextBar(total, desc)


# ---------------------------------------------------------------------------
# parmap.

def _check_count(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("%s must be an integer >= 1, not %r" % (name, value))
    return value


def _timeout_ms(timeout):
    if timeout is None:
        return 0
    if timeout <= 0:
        raise ValueError("timeout must be > 0 seconds (or None), not %r" % (timeout,))
    return max(1, int(math.ceil(timeout * 1000.0)))


def _bound(max_in_flight):
    if max_in_flight is None:
        return 0
    if isinstance(max_in_flight, bool) or not isinstance(max_in_flight, int) or \
            max_in_flight < 2:
        raise ValueError("max_in_flight must be an integer >= 2 (or None), not %r"
                         % (max_in_flight,))
    return max_in_flight


def _inherited(seq):
    """Whether the workers can read seq from their fork-time copy (by index),
    so that no item is pickled: exact lists, tuples, ranges and NumPy arrays."""
    cls = type(seq)
    if cls in (list, tuple, range):
        return True
    return (cls.__name__ == "ndarray" and cls.__module__ == "numpy"
            and getattr(seq, "ndim", 0) >= 1)


class _SerialMap:
    """The iterator of an N == 1 map: the same methods as a map of workers
    (close(), a context manager, pulled, running), over a generator."""

    def __init__(self, gen, counter):
        self._gen = gen
        self._counter = counter

    @property
    def pulled(self):
        """Items read from an iterator input so far (0 for a sequence)."""
        return self._counter[0]

    @property
    def running(self):
        """Always False: an N == 1 map has no worker processes."""
        return False

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._gen)

    def close(self):
        self._gen.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _serial(call, seq, Nt, exception, bar_factory):
    counter = [0]
    if not _inherited(seq):
        seq = _counted(seq, counter)
    return _SerialMap(_serial_gen(call, seq, Nt, exception, bar_factory), counter)


def _counted(iterable, counter):
    for item in iterable:
        counter[0] += 1
        yield item


def _serial_gen(call, seq, Nt, exception, bar_factory):
    """N == 1: no fork, as in the Python tool (threads when Nt > 1)."""
    def one(item):
        try:
            return call(item), None
        except _ArgumentError as e:
            return None, (e.error, False)
        except Exception as e:
            if exception == "proc":
                raise
            return None, (e, True)

    pool = bar = None
    try:
        if Nt == 1:
            out = map(one, seq)
        else:
            pool = mpd.Pool(Nt)
            out = pool.imap(one, seq)
        if bar_factory is not None:
            bar = bar_factory()
        for count, (value, failure) in enumerate(out):
            if bar is not None:
                bar.update(1)
            if failure is not None:
                error, in_fun = failure
                _set_index(error, count)
                if not in_fun or exception != "return":
                    raise error
                value = error
            yield value
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()


def _map(fun, seq, N, Nt, chunksize, ordered, daemon, progress, total, args, kwargs, star,
         kwstar, exception, timeout, retries, max_in_flight, transform=None):
    if kwargs is None:
        kwargs = {}
    args = tuple(args)
    kwargs = dict(kwargs)
    if total is None:
        try:
            total = len(seq)
        except TypeError:
            total = None
    N = CPU_COUNT if N is None else _check_count("N", N)
    Nt = _check_count("Nt", Nt)
    if exception is None:
        exception = "raise" if N > 1 else "proc"
    if exception not in _EXCEPTION_MODES:
        raise ValueError("Unrecognized `exception` setting '{}'".format(exception))
    if chunksize is None:
        chunksize = 0  # automatic: the library's adaptive chunks
    else:
        if chunksize == -1:
            if total is None:
                warnings.warn("chunksize=-1 does not work when len(seq) is not known")
            else:
                chunksize = math.ceil(total / (N * Nt))
        chunksize = max(int(chunksize), Nt)
    if total is not None:
        N = max(1, min(N, total // chunksize if chunksize else total))
    retries = int(retries)
    if retries < 0:
        raise ValueError("retries must be >= 0")
    call = _make_caller(fun, args, kwargs, star, kwstar)
    if transform is not None:
        inner = call
        call = lambda item: inner(transform(item))
    bar_factory = _progress_factory(progress, total)
    if N == 1:
        return _serial(call, seq, Nt, exception, bar_factory)
    source = {"seq": seq} if _inherited(seq) else {"iterable": seq}
    m = _c.Map(call=call, processes=N, threads=Nt, chunksize=chunksize, ordered=bool(ordered),
               daemon=bool(daemon), total=-1 if total is None else int(total),
               timeout_ms=_timeout_ms(timeout), retries=retries,
               max_in_flight=_bound(max_in_flight), return_mode=exception == "return",
               proc=exception == "proc", progress=bar_factory, **source)
    _live.add(m)
    return m


def parmap(fun, seq, N=None, Nt=1, chunksize=1, ordered=True, daemon=True, progress=False,
           total=None, args=(), kwargs=None, star=False, kwstar=False, exception=None, *,
           timeout=None, retries=0, max_in_flight=None):
    """Map ``fun`` over ``seq`` on ``N`` forked processes of ``Nt`` threads.

    Returns an iterator over the results (in input order unless
    ``ordered=False``); the work starts at its first ``next()``. ``fun`` may
    be any callable: workers inherit it by fork.

    N [None]: processes; None for CPU_COUNT. 1 runs in this process (threads
        when Nt > 1), without fork.
    Nt [1]: threads per process (for work that releases the GIL).
    chunksize [1]: items sent to a worker at a time, at least Nt; -1 for
        ceil(len(seq) / (N * Nt)); None for automatic (adaptive) chunks.
    ordered [True]: results in input order, else as they finish.
    daemon [True]: workers die with this process (even by SIGKILL). Unlike
        multiprocessing's daemon flag it does not prevent nested maps.
    progress [False]: a progress bar (tqdm when installed); a str is its label.
    total [None]: the number of items when len(seq) is not known.
    args [()], kwargs [None]: extra arguments and keywords for every call.
    star, kwstar [False]: argument modes; see the table in the README.
    exception [None]: 'raise' (the default when N > 1): the first failure is
        raised in the parent with its own type, ``seq_index`` set and a note
        naming the item; the workers are stopped. 'return': failed items come
        back in their place as exception objects. 'proc' (the default when
        N == 1): raised unchanged in this process (with N > 1 the worker also
        prints the traceback).

    Keyword-only, beyond the Python tool:
    timeout [None]: seconds an item may run; its worker is then killed and
        the item fails with ItemTimeoutError.
    retries [0]: run again an item whose worker crashed or timed out.
    max_in_flight [None]: bound on the items read from the input ahead of
        the loop (read, but not yet consumed by it); at least 2. None: the
        library's automatic bound (65536 or more) plus one batch (1024).

    A worker that dies raises WorkerError naming the item. Leaving the loop
    early (break, an exception, close()) kills and reaps the workers.
    """
    return _map(fun, seq, N, Nt, chunksize, ordered, daemon, progress, total, args, kwargs,
                star, kwstar, exception, timeout, retries, max_in_flight)


# The Python tool's duck-typing of a multiprocessing pool.
parmap.map = parmap.imap = parmap.__call__
parmap.close = lambda *a, **k: None
parmapper = parmap


# ---------------------------------------------------------------------------
# Pool: workers forked once for many maps.

class Pool:
    """Worker processes forked once, for many maps of the same ``fun``.

    ``fun``, ``args``, ``kwargs``, ``star`` and ``kwstar`` are fixed when the
    pool is made (the workers inherit them, and memory as it is then); each
    ``map(seq, ...)`` sends only its items (pickled). One map at a time; use
    as a context manager or call ``close()``. With ``N=1`` maps run in this
    process.
    """

    def __init__(self, fun, N=None, Nt=1, daemon=True, args=(), kwargs=None, star=False,
                 kwstar=False):
        self.N = CPU_COUNT if N is None else _check_count("N", N)
        self.Nt = _check_count("Nt", Nt)
        if kwargs is None:
            kwargs = {}
        self._call = _make_caller(fun, tuple(args), dict(kwargs), star, kwstar)
        self._pool = None
        if self.N > 1:
            self._pool = _c.Pool(self._call, self.N, self.Nt, bool(daemon))
            _live.add(self)

    def map(self, seq, chunksize=1, ordered=True, progress=False, total=None, exception=None,
            *, timeout=None, retries=0, max_in_flight=None):
        """The results of ``fun`` over ``seq``, like ``parmap`` (same meaning
        for each parameter; 'proc' acts as 'raise', since the workers were
        made with the pool). The pool's previous map must be exhausted or
        closed first."""
        if total is None:
            try:
                total = len(seq)
            except TypeError:
                total = None
        if exception is None:
            exception = "raise" if self.N > 1 else "proc"
        if exception not in _EXCEPTION_MODES:
            raise ValueError("Unrecognized `exception` setting '{}'".format(exception))
        if chunksize is None:
            chunksize = 0
        else:
            if chunksize == -1 and total is not None:
                chunksize = math.ceil(total / (self.N * self.Nt))
            chunksize = max(int(chunksize), self.Nt)
        bar_factory = _progress_factory(progress, total)
        if self._pool is None:
            if self.N > 1:
                raise ValueError("the pool is closed")
            return _serial(self._call, seq, self.Nt, exception, bar_factory)
        m = _c.Map(pool=self._pool, iterable=seq, chunksize=chunksize, ordered=bool(ordered),
                   total=-1 if total is None else int(total), timeout_ms=_timeout_ms(timeout),
                   retries=int(retries), max_in_flight=_bound(max_in_flight),
                   return_mode=exception == "return", proc=exception == "proc",
                   progress=bar_factory)
        _live.add(m)
        return m

    imap = __call__ = map

    @property
    def processes(self):
        """The number of live worker processes (0 once closed, or with N=1)."""
        return self._pool.processes() if self._pool is not None else 0

    def close(self):
        """Stop the workers (each finishes its chunk; killed after a second)
        and reap them."""
        if self._pool is not None:
            pool, self._pool = self._pool, None
            pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


# ---------------------------------------------------------------------------
# ReturnProcess.

class ReturnProcess:
    """Run ``target(*args, **kwargs)`` in a background process and get its
    result from ``join()``; ``start()`` returns the object itself:

        p1 = ReturnProcess(slow, args=(arg1,), kwargs={'kw': arg2}).start()
        res1 = p1.join()

    exception ['raise']: 'raise' re-raises the target's exception from
    ``join()``; 'return' returns it; 'proc' also prints it in the process.
    A process that dies makes ``join()`` raise WorkerError (return it, with
    'return'). An unjoined process is killed and reaped when the object goes.
    """

    def __init__(self, target=None, exception="raise", *, group=None, name=None, args=(),
                 kwargs=None, daemon=None):
        if not target:
            raise ValueError("Must specify a target")
        if exception not in _EXCEPTION_MODES:
            raise ValueError("exception must be in {'raise','return','proc'}")
        if group is not None:
            raise ValueError("group must be None")
        self.target, self.exception = target, exception
        self.args, self.kwargs = tuple(args), dict(kwargs or {})
        self.name = name if name is not None else "ReturnProcess"
        self.daemon = daemon
        self._process = None

    def start(self):
        if self._process is not None:
            raise RuntimeError("cannot start a process twice")
        target, args, kwargs = self.target, self.args, self.kwargs
        self._process = _c.Process(lambda: target(*args, **kwargs),
                                   daemon=self.daemon is not False, proc=self.exception == "proc")
        _live.add(self._process)
        return self

    def join(self, timeout=None):
        """Wait for the process and return its result (again on later calls)."""
        if timeout is not None:
            raise NotImplementedError("join(timeout) is not supported: the C API has no timed "
                                      "pm_process_join()")
        if self._process is None:
            raise RuntimeError("can only join a started process")
        outcome = self._process.join()
        if outcome[0] == "ok":
            return outcome[1]
        if outcome[0] == "failure":
            exc, _ = _decode_failure(None, _c.PM_EITEM, "", outcome[1], False)
        else:
            exc = WorkerError("%s (%s)" % (outcome[2], self.name), None, outcome[1])
        if self.exception == "return" and isinstance(exc, Exception):
            return exc
        raise exc

    def close(self):
        """Kill the process if it was not joined, and reap it."""
        if self._process is not None:
            self._process.close()


# ---------------------------------------------------------------------------
# ParEval.

np = None  # imported when a ParEval is made, as in the Python tool


class ParEval:
    """Evaluate a vectorized ``fun(X)`` (X a NumPy array, split along its
    first axis) in parallel chunks and concatenate the results:
    ``ParEval(fun)(X)`` equals ``fun(X)`` for a row-wise ``fun``.

    Give n_chunks (default CPU_COUNT) or n_eval (rows per chunk at most);
    n_min is the fewest rows a chunk may have. Other keywords go to parmap.
    The workers read X from their fork-time copy: no row is pickled.
    """

    def __init__(self, fun, n_chunks=None, n_eval=None, n_min=0, **kwargs):
        global np
        if np is None:
            import numpy as np
        if n_chunks is not None and n_eval is not None:
            raise ValueError("Must specify EITHER n_chunks OR n_eval")
        if n_chunks is None and n_eval is None:
            n_chunks = CPU_COUNT
        self.fun, self.n_chunks, self.n_eval, self.n_min = fun, n_chunks, n_eval, n_min
        kwargs["chunksize"] = 1
        self.kwargs = kwargs

    def _slices(self, n):
        if self.n_eval is not None:
            n_eval = max(self.n_min, self.n_eval)
            k = math.ceil(n / n_eval) if n_eval > 0 else n
        else:
            k = self.n_chunks
        if self.n_min and k >= 1 and n // k < self.n_min:
            k = n // self.n_min
        k = max(1, min(k, n))
        base, extra = divmod(n, k)
        out, start = [], 0
        for i in range(k):
            stop = start + base + (1 if i < extra else 0)
            out.append(slice(start, stop))
            start = stop
        return out

    def __call__(self, X):
        X = np.atleast_1d(X)
        options = dict(N=None, Nt=1, chunksize=1, ordered=True, daemon=True, progress=False,
                       total=None, args=(), kwargs=None, star=False, kwstar=False,
                       exception=None, timeout=None, retries=0, max_in_flight=None)
        unknown = set(self.kwargs) - set(options)
        if unknown:
            raise TypeError("unexpected ParEval keyword(s): %s" % ", ".join(sorted(unknown)))
        options.update(self.kwargs)
        res = list(_map(self.fun, self._slices(len(X)), transform=X.__getitem__, **options))
        return np.concatenate(res)


def set_start_method():
    """Make multiprocessing use 'fork', as the Python tool does (parmapper
    itself forks through libparmapper whatever multiprocessing's setting)."""
    if sys.version_info < (3, 8):
        return
    if mp.get_start_method(allow_none=True) != "fork":
        try:
            mp.set_start_method("fork")
        except RuntimeError:
            raise RuntimeError("Cannot change startmethod. Restart Python and try again")
