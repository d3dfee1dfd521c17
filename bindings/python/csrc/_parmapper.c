/*
 * parmapper._parmapper: the C half of the Python binding of libparmapper.
 *
 * What lives here, and why it is C and not ctypes:
 * - the fork hooks. libparmapper forks with the GIL held by the forking
 *   thread (every forking call below is made with the GIL held), and the
 *   hooks do what os.fork() does around it: PyOS_BeforeFork(),
 *   PyOS_AfterFork_Parent(), PyOS_AfterFork_Child(). A forked process (the
 *   template, a worker, a background process and its watcher) then releases
 *   the GIL, so that the threads the library starts there (threads > 1) can
 *   take it with PyGILState_Ensure();
 * - the work function: one crossing per chunk (pm_chunk_fn), items decoded,
 *   the Python callable called, results encoded, failures pickled into the
 *   item's error payload; an item is ended as soon as it is done, so that a
 *   crash or a timeout blames the item that was running;
 * - the result iterator: one pm_map_next_batch() per batch of ready results,
 *   with the GIL released while it waits (100 ms at a time, checking for
 *   signals in between, so that Ctrl-C raises KeyboardInterrupt at once);
 * - the pull input: the library's feeder thread takes the GIL once per call
 *   and pushes up to pm_feed_wanted() items with pm_feed_push_packed().
 *
 * Everything that is policy (argument modes, exception classes, what to
 * raise) is Python code in parmapper/__init__.py, handed over by _setup().
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <parmapper.h>

#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#if PY_VERSION_HEX < 0x030A0000
#error "parmapper needs Python 3.10 or later"
#endif

/* Results waited for at most this long per pm_map_next_batch() call, so that
 * signals are checked at least this often while a map waits. */
#define WAIT_SLICE_MS 100
/* Entries per pm_map_next_batch() call. */
#define BATCH_MAX 1024
/* Items pushed by one call of the pull callback at most: it holds the GIL
 * while it runs the Python iterator. */
#define PULL_MAX 1024

/* ------------------------------------------------------------------------ */
/* Module state. One interpreter per process (no sub-interpreters): the fork
 * hooks are process-wide C callbacks and must find these without a module
 * object. */

static PyObject *g_dumps;          /* pickle.dumps */
static PyObject *g_loads;          /* pickle.loads */
static PyObject *g_protocol;       /* pickle.HIGHEST_PROTOCOL */
static PyObject *g_encode_failure; /* (exc, where, proc) -> (message: str, payload: bytes) */
static PyObject *g_decode_failure; /* (index, status, message, payload, return_mode) -> (exc, raise) */
static PyObject *g_flush_stdio;    /* () -> None: flush sys.stdout and sys.stderr */
static PyObject *g_child_setup;    /* (in_map_process: bool) -> None, in each forked process */
static PyObject *g_error_type;     /* parmapper.ParmapperError */

/* Where a failure happened, for _encode_failure. */
enum { WHERE_FUN = 0, WHERE_ARGS = 1 };

/* Serializes the calls that fork (map, pool and process creation). The
 * library holds locks of its own across its fork hooks; a second Python
 * thread must wait here, with the GIL released, rather than inside the
 * library with the GIL held, or a hook that needs the GIL (PyOS_BeforeFork
 * can release it while it waits for the import lock) could deadlock. */
static PyThread_type_lock g_fork_lock;

/* Crossings from the library into Python, for the tests (each is counted
 * with the GIL held): chunk work calls in this process, pull calls of its
 * feeder, result steps (pm_map_next_batch calls) of its iterators. A forked
 * process starts with its parent's counts. */
static unsigned long long g_chunk_calls, g_pull_calls, g_batch_calls;

/* Bumped in the child of every fork (pthread_atfork), the library's and the
 * program's own: a map object compares it with the value it was started
 * with to tell a copy inherited by a fork, without a getpid() per step. */
static unsigned long g_incarnation;

static void bump_incarnation(void) { g_incarnation++; }

static int have_setup(void) {
    if (!g_dumps) {
        PyErr_SetString(PyExc_RuntimeError, "parmapper._parmapper._setup() was not called");
        return 0;
    }
    return 1;
}

static void fork_lock_acquire(void) {
    if (!PyThread_acquire_lock(g_fork_lock, NOWAIT_LOCK)) {
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(g_fork_lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
}

static void fork_lock_release(void) { PyThread_release_lock(g_fork_lock); }

/* Python's buffered sys.stdout and sys.stderr, flushed before a fork (or a
 * copy is printed again by the child) and after each chunk in a worker (or
 * what a work function printed is lost when the worker _exit()s). */
static void flush_stdio(void) {
    if (!g_flush_stdio)
        return;
    PyObject *r = PyObject_CallNoArgs(g_flush_stdio);
    if (r)
        Py_DECREF(r);
    else
        PyErr_Clear();
}

/* ------------------------------------------------------------------------ */
/* Fork hooks. They run around every fork the library makes: in the caller
 * (the GIL is held by the forking thread, since we only call forking
 * functions with it held), and in the processes the library forked, which
 * run no Python between hooks and keep the GIL released there, with the
 * thread state saved in g_saved. PyGILState_Check() tells the two apart; it
 * is also right in a worker whose work function starts a nested map (the
 * worker then holds the GIL through PyGILState_Ensure()). */

static PyThreadState *g_saved;  /* a forked process's main thread state, GIL released */
static int g_regained;          /* prepare took the GIL back, parent gives it up again */

/* user_data of the hooks: which kind of process the fork makes. */
static char hook_map_kind, hook_process_kind;

static void hook_prepare(void *ud) {
    (void)ud;
    g_regained = 0;
    if (!PyGILState_Check()) {
        PyEval_RestoreThread(g_saved);
        g_saved = NULL;
        g_regained = 1;
    }
    PyOS_BeforeFork();
}

static void hook_parent(void *ud) {
    (void)ud;
    PyOS_AfterFork_Parent();
    if (g_regained) {
        g_regained = 0;
        g_saved = PyEval_SaveThread();
    }
}

static void hook_child(void *ud) {
    /* The forking thread held the GIL, so this thread holds it now. */
    PyOS_AfterFork_Child();
    g_regained = 0;
    /* The copy of the lock may be held by the thread that forked. */
    g_fork_lock = PyThread_allocate_lock();
    if (g_child_setup) {
        PyObject *r = PyObject_CallOneArg(g_child_setup, ud == &hook_map_kind ? Py_True : Py_False);
        if (r)
            Py_DECREF(r);
        else
            PyErr_Clear();
    }
    g_saved = PyEval_SaveThread();
}

/* Worker-thread hooks (threads > 1): attach the thread to the interpreter
 * for its whole life, but leave the GIL free between chunks. */
static __thread PyGILState_STATE t_gil_state;
static __thread PyThreadState *t_thread_state;

static void thread_start(uint32_t worker, uint32_t thread, void *ud) {
    (void)worker, (void)thread, (void)ud;
    t_gil_state = PyGILState_Ensure();
    t_thread_state = PyEval_SaveThread();
}

static void thread_stop(uint32_t worker, uint32_t thread, void *ud) {
    (void)worker, (void)thread, (void)ud;
    PyEval_RestoreThread(t_thread_state);
    PyGILState_Release(t_gil_state);
}

/* ------------------------------------------------------------------------ */
/* The codec for items and results: exact int (64-bit), float, bool, None,
 * str and bytes are written directly (a tag byte and the value), anything
 * else as a tag byte and a pickle (highest protocol). Both ends are this
 * module, so the format is private. Values are written with memcpy: the
 * library gives no alignment promise. */

enum {
    TAG_NONE = 'N',
    TAG_TRUE = 'T',
    TAG_FALSE = 'F',
    TAG_INT = 'i',
    TAG_FLOAT = 'd',
    TAG_STR = 's',
    TAG_BYTES = 'b',
    TAG_PICKLE = 'p',
    TAG_RESULT = 'R',   /* background process: a result follows */
    TAG_EXCEPTION = 'E' /* background process: a failure payload follows */
};

typedef struct {
    char *data;
    size_t len, cap;
} buffer;

static int buffer_reserve(buffer *b, size_t more) {
    if (b->len + more <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more)
        cap *= 2;
    char *p = PyMem_RawRealloc(b->data, cap);
    if (!p) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

static int buffer_append(buffer *b, const void *data, size_t len) {
    if (buffer_reserve(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

static void buffer_free(buffer *b) {
    PyMem_RawFree(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* The direct encoding of o into out[0..9) and its length; 0 if o has none.
 * str and bytes are not handled here (their bytes follow the tag). */
static size_t encode_small(PyObject *o, char out[9]) {
    if (o == Py_None) {
        out[0] = TAG_NONE;
        return 1;
    }
    if (o == Py_True || o == Py_False) {
        out[0] = o == Py_True ? TAG_TRUE : TAG_FALSE;
        return 1;
    }
    if (PyLong_CheckExact(o)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow || (v == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
        int64_t w = (int64_t)v;
        out[0] = TAG_INT;
        memcpy(out + 1, &w, 8);
        return 9;
    }
    if (PyFloat_CheckExact(o)) {
        double d = PyFloat_AS_DOUBLE(o);
        out[0] = TAG_FLOAT;
        memcpy(out + 1, &d, 8);
        return 9;
    }
    return 0;
}

/* The text of an exact str as UTF-8, or NULL (no error set) if it has none
 * (lone surrogates): it is then pickled. */
static const char *str_utf8(PyObject *o, Py_ssize_t *n) {
    const char *s = PyUnicode_AsUTF8AndSize(o, n);
    if (!s)
        PyErr_Clear();
    return s;
}

static PyObject *pickle_dumps(PyObject *o) {
    return PyObject_CallFunctionObjArgs(g_dumps, o, g_protocol, NULL);
}

/* Appends o's encoding to b. -1 with an exception set if o cannot be
 * pickled. */
static int encode_to_buffer(PyObject *o, buffer *b) {
    char small[9];
    size_t n = encode_small(o, small);
    if (n)
        return buffer_append(b, small, n);
    if (PyUnicode_CheckExact(o) || PyBytes_CheckExact(o)) {
        const char *s;
        Py_ssize_t len;
        char tag;
        if (PyBytes_CheckExact(o)) {
            s = PyBytes_AS_STRING(o);
            len = PyBytes_GET_SIZE(o);
            tag = TAG_BYTES;
        } else {
            s = str_utf8(o, &len);
            tag = TAG_STR;
        }
        if (s) {
            if (buffer_reserve(b, 1 + (size_t)len) < 0)
                return -1;
            b->data[b->len] = tag;
            memcpy(b->data + b->len + 1, s, (size_t)len);
            b->len += 1 + (size_t)len;
            return 0;
        }
    }
    PyObject *p = pickle_dumps(o);
    if (!p)
        return -1;
    char tag = TAG_PICKLE;
    int rc = buffer_append(b, &tag, 1);
    if (rc == 0)
        rc = buffer_append(b, PyBytes_AS_STRING(p), (size_t)PyBytes_GET_SIZE(p));
    Py_DECREF(p);
    return rc;
}

static int sink_status(int rc) {
    if (rc == PM_OK)
        return 0;
    if (rc == PM_ENOMEM)
        PyErr_NoMemory();
    else
        PyErr_Format(PyExc_RuntimeError, "pm_sink_write: %s", pm_status_str(rc));
    return -1;
}

/* Writes o's encoding into the sink (tag and bytes, in one piece). */
static int encode_to_sink(PyObject *o, pm_sink *out, char lead) {
    char small[10];
    size_t k = 0;
    if (lead)
        small[k++] = lead;
    size_t n = encode_small(o, small + k);
    if (n)
        return sink_status(pm_sink_write(out, small, k + n));
    if (PyUnicode_CheckExact(o) || PyBytes_CheckExact(o)) {
        const char *s;
        Py_ssize_t len;
        char tag;
        if (PyBytes_CheckExact(o)) {
            s = PyBytes_AS_STRING(o);
            len = PyBytes_GET_SIZE(o);
            tag = TAG_BYTES;
        } else {
            s = str_utf8(o, &len);
            tag = TAG_STR;
        }
        if (s) {
            void *dst;
            small[k++] = tag;
            if (sink_status(pm_sink_reserve(out, k + (size_t)len, &dst)) < 0)
                return -1;
            memcpy(dst, small, k);
            memcpy((char *)dst + k, s, (size_t)len);
            return 0;
        }
    }
    PyObject *p = pickle_dumps(o);
    if (!p)
        return -1;
    small[k++] = TAG_PICKLE;
    void *dst;
    int rc = sink_status(pm_sink_reserve(out, k + (size_t)PyBytes_GET_SIZE(p), &dst));
    if (rc == 0) {
        memcpy(dst, small, k);
        memcpy((char *)dst + k, PyBytes_AS_STRING(p), (size_t)PyBytes_GET_SIZE(p));
    }
    Py_DECREF(p);
    return rc;
}

static PyObject *decode_error(const char *what) {
    PyErr_Format(g_error_type ? g_error_type : PyExc_RuntimeError,
                 "parmapper: malformed %s (a bug in parmapper)", what);
    return NULL;
}

static PyObject *decode(const void *data, size_t len) {
    const char *p = data;
    if (len == 0)
        return decode_error("empty encoding");
    switch (p[0]) {
    case TAG_NONE:
        Py_RETURN_NONE;
    case TAG_TRUE:
        Py_RETURN_TRUE;
    case TAG_FALSE:
        Py_RETURN_FALSE;
    case TAG_INT: {
        int64_t v;
        if (len != 9)
            return decode_error("int");
        memcpy(&v, p + 1, 8);
        return PyLong_FromLongLong((long long)v);
    }
    case TAG_FLOAT: {
        double d;
        if (len != 9)
            return decode_error("float");
        memcpy(&d, p + 1, 8);
        return PyFloat_FromDouble(d);
    }
    case TAG_STR:
        return PyUnicode_DecodeUTF8(p + 1, (Py_ssize_t)(len - 1), "strict");
    case TAG_BYTES:
        return PyBytes_FromStringAndSize(p + 1, (Py_ssize_t)(len - 1));
    case TAG_PICKLE: {
        PyObject *view = PyMemoryView_FromMemory((char *)p + 1, (Py_ssize_t)(len - 1), PyBUF_READ);
        if (!view)
            return NULL;
        PyObject *o = PyObject_CallOneArg(g_loads, view);
        Py_DECREF(view);
        return o;
    }
    default:
        return decode_error("tag");
    }
}

/* ------------------------------------------------------------------------ */
/* The work function, run in the worker processes. */

typedef struct {
    PyObject *call; /* applied to each item; builds the arguments (args, star, ...) */
    PyObject *seq;  /* inherited input: item i is seq[i]; NULL: items are encoded */
    int proc;       /* exception='proc': the worker prints the traceback too */
    int int_range;  /* seq is a range of 64-bit ints: item i is start + i * step */
    long long start, step;
} work_spec;

/* A range whose items all fit in 64 bits is indexed with arithmetic instead
 * of range's own (which goes through int objects and comparisons). */
static void spec_detect_range(work_spec *s, Py_ssize_t len) {
    if (!s->seq || !PyRange_Check(s->seq) || len <= 0)
        return;
    PyObject *start = PyObject_GetAttrString(s->seq, "start");
    PyObject *step = start ? PyObject_GetAttrString(s->seq, "step") : NULL;
    int o1 = 1, o2 = 1;
    long long a = start ? PyLong_AsLongLongAndOverflow(start, &o1) : 0;
    long long d = step ? PyLong_AsLongLongAndOverflow(step, &o2) : 0;
    Py_XDECREF(start);
    Py_XDECREF(step);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return;
    }
    long long span, last;
    if (o1 || o2 || __builtin_mul_overflow((long long)(len - 1), d, &span) ||
        __builtin_add_overflow(a, span, &last))
        return;
    s->int_range = 1;
    s->start = a;
    s->step = d;
}

static work_spec *spec_new(PyObject *call, PyObject *seq, int proc) {
    work_spec *s = PyMem_RawCalloc(1, sizeof *s);
    if (!s) {
        PyErr_NoMemory();
        return NULL;
    }
    Py_INCREF(call);
    s->call = call;
    Py_XINCREF(seq);
    s->seq = seq;
    s->proc = proc;
    return s;
}

static void spec_free(work_spec *s) {
    if (!s)
        return;
    Py_XDECREF(s->call);
    Py_XDECREF(s->seq);
    PyMem_RawFree(s);
}

/* The current exception, normalized, with its traceback attached; cleared. */
static PyObject *fetch_exception(void) {
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (!type)
        return NULL;
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value)
        PyException_SetTraceback(value, tb);
    Py_XDECREF(type);
    Py_XDECREF(tb);
    return value;
}

/* (message, payload) for the current exception, from _encode_failure. On
 * success *message is UTF-8 owned by the returned tuple. */
static PyObject *encode_current_failure(int where, int proc, const char **message,
                                        const char **payload, Py_ssize_t *payload_len) {
    PyObject *exc = fetch_exception();
    if (!exc)
        return NULL;
    PyObject *r = PyObject_CallFunction(g_encode_failure, "Oii", exc, where, proc);
    Py_DECREF(exc);
    if (!r || !PyTuple_Check(r) || PyTuple_GET_SIZE(r) != 2 ||
        !PyUnicode_Check(PyTuple_GET_ITEM(r, 0)) || !PyBytes_Check(PyTuple_GET_ITEM(r, 1))) {
        Py_XDECREF(r);
        PyErr_Clear();
        return NULL;
    }
    *message = PyUnicode_AsUTF8(PyTuple_GET_ITEM(r, 0));
    if (!*message) {
        PyErr_Clear();
        *message = "an exception whose message is not UTF-8";
    }
    *payload = PyBytes_AS_STRING(PyTuple_GET_ITEM(r, 1));
    *payload_len = PyBytes_GET_SIZE(PyTuple_GET_ITEM(r, 1));
    return r;
}

/* Ends the current item as failed with the current exception. */
static void fail_item(pm_sink *out, int where, int proc) {
    const char *message = NULL, *payload = NULL;
    Py_ssize_t payload_len = 0;
    PyObject *keep = encode_current_failure(where, proc, &message, &payload, &payload_len);
    if (keep) {
        pm_sink_set_error(out, message);
        pm_sink_set_error_payload(out, payload, (size_t)payload_len);
        Py_DECREF(keep);
    } else {
        pm_sink_set_error(out, "the work function failed, and its exception could not be encoded");
    }
    pm_sink_end_item(out, 1);
}

static PyObject *seq_item(const work_spec *s, uint64_t index) {
    PyObject *seq = s->seq;
    Py_ssize_t i = (Py_ssize_t)index;
    if (s->int_range)
        return PyLong_FromLongLong(s->start + (long long)i * s->step);
    if (PyList_CheckExact(seq) && i < PyList_GET_SIZE(seq)) {
        PyObject *o = PyList_GET_ITEM(seq, i);
        Py_INCREF(o);
        return o;
    }
    if (PyTuple_CheckExact(seq) && i < PyTuple_GET_SIZE(seq)) {
        PyObject *o = PyTuple_GET_ITEM(seq, i);
        Py_INCREF(o);
        return o;
    }
    return PySequence_GetItem(seq, i);
}

static int chunk_fn(uint64_t first, size_t count, const void *const *items, const size_t *lens,
                    pm_sink *out, void *user_data) {
    work_spec *s = user_data;
    PyGILState_STATE gil = PyGILState_Ensure();
    g_chunk_calls++;
    for (size_t i = 0; i < count; i++) {
        PyObject *arg = s->seq ? seq_item(s, first + i) : decode(items[i], lens[i]);
        if (!arg) {
            fail_item(out, WHERE_ARGS, s->proc);
            continue;
        }
        PyObject *res = PyObject_CallOneArg(s->call, arg);
        Py_DECREF(arg);
        if (!res) {
            fail_item(out, WHERE_FUN, s->proc);
            continue;
        }
        int rc = encode_to_sink(res, out, 0);
        Py_DECREF(res);
        if (rc < 0)
            fail_item(out, WHERE_FUN, 0);
        else
            pm_sink_end_item(out, 0);
    }
    flush_stdio();
    PyGILState_Release(gil);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The pull input: a Python iterator read by the library's feeder thread in
 * the calling process. */

typedef struct {
    PyObject *iter;   /* the iterator, NULL once exhausted or failed */
    PyObject *error;  /* what it raised (or failed to encode), for the consumer */
    uint64_t pulled;  /* items read so far */
    size_t per_call;  /* items read per call at most (the chunk size) */
    int stop;         /* the map is being destroyed: push nothing more */
    int in_call;      /* the feeder is in pull_fn (perhaps blocked in the iterator) */
    buffer packed;    /* the encoded items of one call, back to back */
    size_t *lens;
} pull_input;

static pull_input *pull_new(PyObject *iter, size_t per_call) {
    pull_input *in = PyMem_RawCalloc(1, sizeof *in);
    if (!in) {
        PyErr_NoMemory();
        return NULL;
    }
    in->lens = PyMem_RawMalloc(PULL_MAX * sizeof *in->lens);
    if (!in->lens) {
        PyMem_RawFree(in);
        PyErr_NoMemory();
        return NULL;
    }
    Py_INCREF(iter);
    in->iter = iter;
    in->per_call = per_call == 0 || per_call > PULL_MAX ? PULL_MAX : per_call;
    return in;
}

static void pull_free(pull_input *in) {
    if (!in)
        return;
    Py_CLEAR(in->iter);
    Py_CLEAR(in->error);
    buffer_free(&in->packed);
    PyMem_RawFree(in->lens);
    PyMem_RawFree(in);
}

static int pull_fn(pm_feed *feed, void *user_data) {
    pull_input *in = user_data;
    int rc = PM_OK;
    PyGILState_STATE gil = PyGILState_Ensure();
    g_pull_calls++;
    if (in->stop || !in->iter) {
        PyGILState_Release(gil);
        return PM_DONE;
    }
    /* A call reads at most a chunk: its items are sent only once it
     * returns, so a slow source (the Python tool's pipelines of
     * generators) gets each chunk to a worker as soon as it is read. */
    size_t want = pm_feed_wanted(feed);
    if (want > in->per_call)
        want = in->per_call;
    if (want == 0)
        want = 1;
    size_t n = 0;
    in->in_call = 1;
    in->packed.len = 0;
    while (n < want) {
        PyObject *o = PyIter_Next(in->iter);
        if (!o) {
            if (PyErr_Occurred()) {
                in->error = fetch_exception();
                rc = PM_EINPUT;
            } else {
                rc = PM_DONE;
            }
            Py_CLEAR(in->iter);
            break;
        }
        size_t before = in->packed.len;
        int e = encode_to_buffer(o, &in->packed);
        Py_DECREF(o);
        if (e < 0) {
            in->error = fetch_exception();
            in->packed.len = before;
            Py_CLEAR(in->iter);
            rc = PM_EINPUT;
            break;
        }
        in->lens[n++] = in->packed.len - before;
        in->pulled++;
    }
    if (n && pm_feed_push_packed(feed, in->packed.data, in->lens, n) != PM_OK) {
        pm_feed_set_error(feed, "pm_feed_push_packed failed (out of memory)");
        rc = PM_EINPUT;
    } else if (rc == PM_EINPUT) {
        pm_feed_set_error(feed, "the input iterator raised an exception");
    }
    in->in_call = 0;
    PyGILState_Release(gil);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Options. */

typedef struct {
    unsigned processes, threads;
    Py_ssize_t chunksize; /* 0: automatic */
    int ordered, daemon, return_mode;
    long long total;      /* -1: unknown */
    long long timeout_ms; /* 0: none */
    unsigned retries;
    Py_ssize_t max_in_flight;
} map_settings;

static void *hook_kind(int process) { return process ? &hook_process_kind : &hook_map_kind; }

static int options_for(pm_options **out, const map_settings *m, int pool_map, char *errbuf,
                       size_t errlen) {
    pm_options *o = NULL;
    if (pm_options_create(&o) != PM_OK) {
        PyErr_NoMemory();
        return -1;
    }
    int rc = PM_OK;
    if (!pool_map) {
        rc |= pm_options_set_processes(o, m->processes);
        rc |= pm_options_set_threads(o, m->threads);
        rc |= pm_options_set_daemon(o, m->daemon);
        /* Fork, whatever PARMAPPER_START says: an exec'd worker would be a
         * new run of python3 with the script's arguments, and the chunk
         * function, in this shared object, cannot be found by name there. */
        rc |= pm_options_set_start_method(o, PM_START_FORK);
        rc |= pm_options_set_fork_hooks(o, hook_prepare, hook_parent, hook_child, hook_kind(0));
        rc |= pm_options_set_thread_hooks(o, thread_start, thread_stop, NULL);
    }
    rc |= pm_options_set_chunk_size(o, (size_t)m->chunksize);
    rc |= pm_options_set_ordered(o, m->ordered);
    rc |= pm_options_set_error_mode(o, m->return_mode ? PM_ERRORS_RETURN : PM_ERRORS_RAISE);
    if (m->total >= 0)
        rc |= pm_options_set_total(o, (uint64_t)m->total);
    rc |= pm_options_set_item_timeout(o, (uint64_t)m->timeout_ms);
    rc |= pm_options_set_retries(o, m->retries);
    rc |= pm_options_set_max_in_flight(o, (size_t)m->max_in_flight);
    rc |= pm_options_set_error_buffer(o, errbuf, errlen);
    if (rc != PM_OK) {
        pm_options_destroy(o);
        PyErr_SetString(PyExc_ValueError, "parmapper: an option is out of range");
        return -1;
    }
    *out = o;
    return 0;
}

static PyObject *raise_status(int rc, const char *call, const char *detail) {
    PyObject *type = g_error_type;
    if (rc == PM_ENOMEM)
        type = PyExc_MemoryError;
    else if (rc == PM_EINVAL)
        type = PyExc_ValueError;
    if (detail && *detail)
        PyErr_Format(type, "%s: %s: %s", call, pm_status_str(rc), detail);
    else
        PyErr_Format(type, "%s: %s", call, pm_status_str(rc));
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Pool: workers forked once, with a work function fixed at that moment. */

typedef struct {
    PyObject_HEAD
    pm_pool *pool;
    work_spec *spec;
    PyObject *call;
    PyObject *weakrefs;
    /* The pool keeps its options' error buffer (for pm_pool_map() calls
     * without options, which we never make), so it lives as long as it. */
    char errbuf[512];
} PoolObject;

static PyTypeObject Pool_Type;

static void pool_destroy(PoolObject *self) {
    if (self->pool) {
        pm_pool *p = self->pool;
        self->pool = NULL;
        Py_BEGIN_ALLOW_THREADS
        pm_pool_destroy(p);
        Py_END_ALLOW_THREADS
    }
    spec_free(self->spec);
    self->spec = NULL;
}

static int Pool_init(PoolObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"call", "processes", "threads", "daemon", NULL};
    PyObject *call;
    unsigned processes = 0, threads = 1;
    int daemon = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OII|p", names, &call, &processes, &threads,
                                     &daemon))
        return -1;
    if (!have_setup())
        return -1;
    if (self->pool) {
        PyErr_SetString(PyExc_RuntimeError, "Pool already initialized");
        return -1;
    }
    self->spec = spec_new(call, NULL, 0);
    if (!self->spec)
        return -1;
    Py_INCREF(call);
    Py_XSETREF(self->call, call);
    map_settings m = {processes, threads, 0, 1, daemon, 0, -1, 0, 0, 0};
    char *errbuf = self->errbuf;
    errbuf[0] = '\0';
    pm_options *opts;
    if (options_for(&opts, &m, 0, errbuf, sizeof self->errbuf) < 0)
        return -1;
    flush_stdio();
    fork_lock_acquire();
    int rc = pm_pool_create_chunked(&self->pool, opts, chunk_fn, self->spec, NULL);
    fork_lock_release();
    pm_options_destroy(opts);
    if (rc != PM_OK) {
        self->pool = NULL;
        raise_status(rc, "pm_pool_create_chunked", errbuf);
        return -1;
    }
    return 0;
}

static PyObject *Pool_close(PoolObject *self, PyObject *unused) {
    (void)unused;
    pool_destroy(self);
    Py_RETURN_NONE;
}

static PyObject *Pool_processes(PoolObject *self, PyObject *unused) {
    (void)unused;
    return PyLong_FromUnsignedLong(self->pool ? pm_pool_processes(self->pool) : 0);
}

static int Pool_traverse(PoolObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->call);
    return 0;
}

static void Pool_dealloc(PoolObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    pool_destroy(self);
    Py_CLEAR(self->call);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Pool_clear(PoolObject *self) {
    pool_destroy(self);
    Py_CLEAR(self->call);
    return 0;
}

static PyMethodDef Pool_methods[] = {
    {"close", (PyCFunction)Pool_close, METH_NOARGS,
     "Stop and reap the workers (they finish their chunk; killed after 1 s)."},
    {"processes", (PyCFunction)Pool_processes, METH_NOARGS, "Live worker processes."},
    {NULL}};

static PyTypeObject Pool_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parmapper._parmapper.Pool",
    .tp_basicsize = sizeof(PoolObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Worker processes forked once (pm_pool_create_chunked).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Pool_init,
    .tp_dealloc = (destructor)Pool_dealloc,
    .tp_traverse = (traverseproc)Pool_traverse,
    .tp_clear = (inquiry)Pool_clear,
    .tp_weaklistoffset = offsetof(PoolObject, weakrefs),
    .tp_methods = Pool_methods,
};

/* ------------------------------------------------------------------------ */
/* Map: the iterator over one map's results. Started by its first step. */

typedef struct {
    PyObject_HEAD
    map_settings settings;
    PyObject *call;       /* for a one-shot map */
    PyObject *seq;        /* inherited input (one-shot maps only) */
    Py_ssize_t seq_len;
    PyObject *iterable;   /* pulled input */
    PyObject *progress;   /* factory: () -> object with update(n) and close() */
    PyObject *bar;        /* what the factory made */
    PoolObject *pool;     /* a pool map's pool */
    int proc;
    pm_map *map;
    work_spec *spec;
    pull_input *input;
    int started, finished, busy;
    int rc;               /* status of the last batch */
    size_t count, pos;    /* entries of the last batch, and the next to hand out */
    uint64_t indices[BATCH_MAX];
    int statuses[BATCH_MAX];
    const void *data[BATCH_MAX];
    size_t lens[BATCH_MAX];
    size_t batch_max;     /* entries per pm_map_next_batch() */
    pid_t owner;          /* the process that started the map */
    unsigned long incarnation; /* g_incarnation when it started */
    char errbuf[512];
    PyObject *weakrefs;
} MapObject;

static PyTypeObject Map_Type;

/* Stops the map: kills and reaps a one-shot map's workers, lets a pool's
 * finish what they hold (or kills and replaces them when cancel is set).
 * The GIL is released: the feeder thread may be waiting for it in the pull
 * callback, and pm_map_destroy() waits for that call to return. */
/* A map whose feeder is inside the iterator (a source that blocks) cannot
 * be destroyed before the iterator returns: pm_map_destroy() waits for the
 * input call in progress. Such a map is cancelled (its workers are killed
 * and reaped now) and destroyed by a detached thread, which frees what the
 * feeder uses once that call has returned. */
typedef struct {
    pm_map *map;
    work_spec *spec;
    pull_input *input;
} detached_map;

static void *destroy_detached(void *arg) {
    detached_map *d = arg;
    pm_map_destroy(d->map);
    /* During finalization this thread ends here (the state is then left
     * to the process's exit). */
    PyGILState_STATE gil = PyGILState_Ensure();
    spec_free(d->spec);
    pull_free(d->input);
    PyGILState_Release(gil);
    PyMem_RawFree(d);
    return NULL;
}

static int destroy_later(MapObject *self) {
    detached_map *d = PyMem_RawMalloc(sizeof *d);
    if (!d)
        return -1;
    d->map = self->map;
    d->spec = self->spec;
    d->input = self->input;
    pthread_attr_t attr;
    pthread_t thread;
    int ok = pthread_attr_init(&attr) == 0;
    ok = ok && pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0;
    ok = ok && pthread_create(&thread, &attr, destroy_detached, d) == 0;
    pthread_attr_destroy(&attr);
    if (!ok) {
        PyMem_RawFree(d);
        return -1;
    }
    self->map = NULL;
    self->spec = NULL;
    self->input = NULL;
    return 0;
}

static void map_destroy(MapObject *self, int cancel) {
    if (self->input)
        self->input->stop = 1;
    if (self->map && self->input && self->input->in_call) {
        pm_map *m = self->map;
        Py_BEGIN_ALLOW_THREADS
        pm_map_cancel(m);
        Py_END_ALLOW_THREADS
        /* It may have returned meanwhile: then destroy it here as usual. */
        if (self->input->in_call && destroy_later(self) == 0) {
            self->count = self->pos = 0;
            return;
        }
    }
    if (self->map) {
        pm_map *m = self->map;
        self->map = NULL;
        Py_BEGIN_ALLOW_THREADS
        if (cancel)
            pm_map_cancel(m);
        pm_map_destroy(m);
        Py_END_ALLOW_THREADS
    }
    spec_free(self->spec);
    self->spec = NULL;
    pull_free(self->input);
    self->input = NULL;
    self->count = self->pos = 0;
}

/* The map is over: no more steps; the progress bar is closed. Keeps any
 * exception being raised. */
static void map_finish(MapObject *self, int cancel) {
    if (self->finished && !self->map)
        return;
    self->finished = 1;
    map_destroy(self, cancel);
    if (self->bar) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyObject *bar = self->bar;
        self->bar = NULL;
        PyObject *r = PyObject_CallMethod(bar, "close", NULL);
        if (r)
            Py_DECREF(r);
        else
            PyErr_WriteUnraisable(bar);
        Py_DECREF(bar);
        PyErr_Restore(type, value, tb);
    }
}

static int Map_init(MapObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"call",      "seq",       "iterable", "processes", "threads",
                            "chunksize", "ordered",   "daemon",   "total",     "timeout_ms",
                            "retries",   "max_in_flight", "return_mode", "proc", "progress",
                            "pool",      NULL};
    PyObject *call = Py_None, *seq = Py_None, *iterable = Py_None, *progress = Py_None,
             *pool = Py_None;
    map_settings m = {0, 1, 0, 1, 1, 0, -1, 0, 0, 0};
    int proc = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OOOIInppLLInppOO", names, &call, &seq, &iterable,
                                     &m.processes, &m.threads, &m.chunksize, &m.ordered,
                                     &m.daemon, &m.total, &m.timeout_ms, &m.retries,
                                     &m.max_in_flight, &m.return_mode, &proc, &progress, &pool))
        return -1;
    if (!have_setup())
        return -1;
    if (self->started || self->call || self->pool) {
        PyErr_SetString(PyExc_RuntimeError, "Map already initialized");
        return -1;
    }
    if (m.chunksize < 0 || m.timeout_ms < 0 || m.max_in_flight < 0) {
        PyErr_SetString(PyExc_ValueError, "negative chunksize, timeout or max_in_flight");
        return -1;
    }
    if (pool != Py_None) {
        if (!PyObject_TypeCheck(pool, &Pool_Type)) {
            PyErr_SetString(PyExc_TypeError, "pool must be a parmapper._parmapper.Pool");
            return -1;
        }
        if (seq != Py_None) {
            PyErr_SetString(PyExc_ValueError, "a pool map reads its input: pass iterable");
            return -1;
        }
        Py_INCREF(pool);
        self->pool = (PoolObject *)pool;
    } else if (call == Py_None) {
        PyErr_SetString(PyExc_TypeError, "a one-shot map needs call");
        return -1;
    }
    if ((seq == Py_None) == (iterable == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "pass exactly one of seq and iterable");
        return -1;
    }
    if (seq != Py_None) {
        self->seq_len = PySequence_Size(seq);
        if (self->seq_len < 0)
            return -1;
        Py_INCREF(seq);
        self->seq = seq;
    } else {
        PyObject *it = PyObject_GetIter(iterable);
        if (!it)
            return -1;
        self->iterable = it;
    }
    if (call != Py_None) {
        Py_INCREF(call);
        self->call = call;
    }
    if (progress != Py_None) {
        Py_INCREF(progress);
        self->progress = progress;
    }
    /* The batch handed over but not yet consumed counts against the bound
     * the caller gave (items read ahead of the loop), so the library gets
     * the rest of it. */
    self->batch_max = BATCH_MAX;
    if (m.max_in_flight > 0) {
        size_t quarter = (size_t)m.max_in_flight / 4;
        self->batch_max = quarter < 1 ? 1 : quarter < BATCH_MAX ? quarter : BATCH_MAX;
        m.max_in_flight -= (Py_ssize_t)self->batch_max;
        if (m.max_in_flight < 1)
            m.max_in_flight = 1;
    }
    self->settings = m;
    self->proc = proc;
    return 0;
}

static int map_start(MapObject *self) {
    self->started = 1;
    self->owner = getpid();
    self->incarnation = g_incarnation;
    pm_input *in = NULL;
    int rc;
    if (self->seq) {
        rc = pm_input_create_array(&in, NULL, 0, (size_t)self->seq_len);
    } else {
        self->input = pull_new(self->iterable, (size_t)self->settings.chunksize);
        if (!self->input)
            return -1;
        Py_CLEAR(self->iterable); /* the input holds it now */
        rc = pm_input_create_pull(&in, pull_fn, self->input, NULL);
    }
    if (rc != PM_OK) {
        raise_status(rc, "pm_input_create", pm_last_error());
        return -1;
    }
    pm_options *opts;
    if (options_for(&opts, &self->settings, self->pool != NULL, self->errbuf, sizeof self->errbuf) <
        0) {
        pm_input_destroy(in);
        return -1;
    }
    if (self->pool) {
        if (!self->pool->pool) {
            pm_options_destroy(opts);
            pm_input_destroy(in);
            PyErr_SetString(PyExc_ValueError, "the pool is closed");
            return -1;
        }
        rc = pm_pool_map(&self->map, self->pool->pool, opts, in);
        pm_options_destroy(opts);
        if (rc == PM_ESTATE) {
            self->map = NULL;
            PyErr_SetString(PyExc_RuntimeError,
                            "the pool is running another map: exhaust or close() it first");
            return -1;
        }
        if (rc != PM_OK) {
            self->map = NULL;
            raise_status(rc, "pm_pool_map", self->errbuf);
            return -1;
        }
    } else {
        self->spec = spec_new(self->call, self->seq, self->proc);
        if (!self->spec) {
            pm_options_destroy(opts);
            pm_input_destroy(in);
            return -1;
        }
        spec_detect_range(self->spec, self->seq_len);
        flush_stdio();
        fork_lock_acquire();
        rc = pm_map_create_chunked(&self->map, opts, in, chunk_fn, self->spec, NULL);
        fork_lock_release();
        pm_options_destroy(opts);
        if (rc != PM_OK) {
            self->map = NULL;
            raise_status(rc, "pm_map_create_chunked", self->errbuf);
            return -1;
        }
    }
    if (self->progress) {
        self->bar = PyObject_CallNoArgs(self->progress);
        if (!self->bar)
            return -1;
    }
    return 0;
}

/* Waits for the next batch. 0, or -1 with an exception (the map is then
 * finished). */
static int map_fetch(MapObject *self) {
    size_t n = 0;
    /* Results that are ready already are taken without giving up the GIL:
     * getting it back can take a switch interval (5 ms) when another
     * thread runs Python code. */
    g_batch_calls++;
    int rc = pm_map_next_batch(self->map, self->batch_max, 0, self->indices, self->statuses,
                               self->data, self->lens, &n);
    while (rc == PM_EAGAIN) {
        pm_map *m = self->map;
        g_batch_calls++;
        Py_BEGIN_ALLOW_THREADS
        rc = pm_map_next_batch(m, self->batch_max, WAIT_SLICE_MS, self->indices, self->statuses,
                               self->data, self->lens, &n);
        Py_END_ALLOW_THREADS
        if (rc != PM_EAGAIN)
            break;
        if (PyErr_CheckSignals() < 0) {
            /* KeyboardInterrupt (or another handler's exception): stop at
             * once; a pool's busy workers are killed and replaced. */
            map_finish(self, 1);
            return -1;
        }
    }
    if (rc == PM_ESTATE) {
        map_finish(self, 0);
        PyErr_SetString(PyExc_RuntimeError,
                        "this map cannot be stepped here (it belongs to the process that "
                        "created it, or another thread is stepping it)");
        return -1;
    }
    if (rc == PM_EINVAL) {
        map_finish(self, 0);
        raise_status(rc, "pm_map_next_batch", "");
        return -1;
    }
    self->rc = rc;
    self->count = n;
    self->pos = 0;
    if (self->bar && n) {
        PyObject *r = PyObject_CallMethod(self->bar, "update", "n", (Py_ssize_t)n);
        if (!r) {
            map_finish(self, 0);
            return -1;
        }
        Py_DECREF(r);
    }
    return 0;
}

/* Turns failed entry i into an exception; *must_raise tells whether it ends
 * the map. */
static PyObject *entry_exception(MapObject *self, size_t i, int *must_raise) {
    int status = self->statuses[i];
    uint64_t index = self->indices[i];
    if (status == PM_EINPUT && self->input && self->input->error) {
        PyObject *e = self->input->error;
        self->input->error = NULL;
        *must_raise = 1;
        return e;
    }
    const char *message = pm_map_entry_error(self->map, i);
    PyObject *payload;
    if (self->data[i] && self->lens[i])
        payload = PyBytes_FromStringAndSize(self->data[i], (Py_ssize_t)self->lens[i]);
    else {
        payload = Py_None;
        Py_INCREF(payload);
    }
    if (!payload)
        return NULL;
    int index_known = status != PM_ECANCELED && status != PM_ESYS && status != PM_ENOMEM &&
                      status != PM_EINTERNAL;
    PyObject *idx = index_known ? PyLong_FromUnsignedLongLong(index) : Py_NewRef(Py_None);
    PyObject *r = idx ? PyObject_CallFunction(g_decode_failure, "OisOi", idx, status, message,
                                              payload, self->settings.return_mode)
                      : NULL;
    Py_XDECREF(idx);
    Py_DECREF(payload);
    if (!r)
        return NULL;
    PyObject *exc = NULL;
    if (PyTuple_Check(r) && PyTuple_GET_SIZE(r) == 2) {
        exc = PyTuple_GET_ITEM(r, 0);
        Py_INCREF(exc);
        *must_raise = PyObject_IsTrue(PyTuple_GET_ITEM(r, 1));
    } else {
        PyErr_SetString(PyExc_TypeError, "_decode_failure must return (exception, bool)");
    }
    Py_DECREF(r);
    return exc;
}

/* A result that could not be unpickled here: its exception gets the
 * item's index (seq_index) and a note naming it. */
static void result_not_decoded(uint64_t index) {
    PyObject *exc = fetch_exception();
    if (!exc)
        return;
    PyObject *idx = PyLong_FromUnsignedLongLong(index);
    if (idx) {
        if (PyObject_SetAttrString(exc, "seq_index", idx) < 0)
            PyErr_Clear();
        Py_DECREF(idx);
    }
    PyObject *r = PyObject_CallMethod(exc, "add_note", "s",
                                      "parmapper: the result of this item could not be "
                                      "unpickled in the parent");
    if (r)
        Py_DECREF(r);
    else
        PyErr_Clear();
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
}

static PyObject *raise_exception_object(PyObject *exc) {
    if (PyExceptionInstance_Check(exc))
        PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    else
        PyErr_SetString(PyExc_TypeError, "parmapper: a failure decoded to a non-exception");
    Py_DECREF(exc);
    return NULL;
}

static PyObject *map_step(MapObject *self) {
    for (;;) {
        if (self->pos < self->count) {
            size_t i = self->pos++;
            int final = self->pos == self->count && self->rc < 0;
            if (self->statuses[i] == PM_OK) {
                PyObject *o = decode(self->data[i], self->lens[i]);
                if (!o) {
                    result_not_decoded(self->indices[i]);
                    map_finish(self, 0);
                }
                return o;
            }
            int must_raise = 1;
            PyObject *exc = entry_exception(self, i, &must_raise);
            if (!exc) {
                map_finish(self, 0);
                return NULL;
            }
            if (final || must_raise) {
                map_finish(self, 0);
                return raise_exception_object(exc);
            }
            return exc;
        }
        if (self->rc != PM_OK) {
            /* PM_DONE after the last entry (a failure was handed out above). */
            map_finish(self, 0);
            return NULL;
        }
        if (map_fetch(self) < 0)
            return NULL;
    }
}

static PyObject *Map_next(MapObject *self) {
    if (self->finished)
        return NULL;
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "parmapper map already executing");
        return NULL;
    }
    if (self->started && self->incarnation != g_incarnation) {
        /* A copy inherited by a fork (a worker of another map): its workers
         * and buffered results belong to the parent. */
        PyErr_Format(PyExc_RuntimeError,
                     "this parmapper map belongs to process %ld, not to this fork of it",
                     (long)self->owner);
        return NULL;
    }
    self->busy = 1;
    PyObject *r = NULL;
    if (!self->started && map_start(self) < 0) {
        map_finish(self, 0);
    } else {
        r = map_step(self);
    }
    self->busy = 0;
    return r;
}

static PyObject *Map_close(MapObject *self, PyObject *unused) {
    (void)unused;
    if (self->busy) {
        PyErr_SetString(PyExc_ValueError, "parmapper map already executing");
        return NULL;
    }
    map_finish(self, 0);
    self->started = 1;
    Py_RETURN_NONE;
}

static PyObject *Map_enter(PyObject *self, PyObject *unused) {
    (void)unused;
    return Py_NewRef(self);
}

static PyObject *Map_exit(MapObject *self, PyObject *args) {
    (void)args;
    PyObject *r = Map_close(self, NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyObject *Map_pulled(MapObject *self, void *closure) {
    (void)closure;
    return PyLong_FromUnsignedLongLong(self->input ? self->input->pulled : 0);
}

static PyObject *Map_running(MapObject *self, void *closure) {
    (void)closure;
    return PyBool_FromLong(self->map != NULL);
}

static int Map_traverse(MapObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->call);
    Py_VISIT(self->seq);
    Py_VISIT(self->iterable);
    Py_VISIT(self->progress);
    Py_VISIT(self->bar);
    Py_VISIT((PyObject *)self->pool);
    if (self->input) {
        Py_VISIT(self->input->iter);
        Py_VISIT(self->input->error);
    }
    return 0;
}

static int Map_clear(MapObject *self) {
    map_finish(self, 0);
    Py_CLEAR(self->call);
    Py_CLEAR(self->seq);
    Py_CLEAR(self->iterable);
    Py_CLEAR(self->progress);
    Py_CLEAR(self->bar);
    Py_CLEAR(self->pool);
    return 0;
}

static void Map_dealloc(MapObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    /* An abandoned map (break, an exception in the loop) stops here: the
     * workers are killed and reaped, and the rest is never run. */
    map_finish(self, 0);
    Py_CLEAR(self->call);
    Py_CLEAR(self->seq);
    Py_CLEAR(self->iterable);
    Py_CLEAR(self->progress);
    Py_CLEAR(self->bar);
    Py_CLEAR(self->pool);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Map_methods[] = {
    {"close", (PyCFunction)Map_close, METH_NOARGS,
     "Stop the map: its workers are killed and reaped; the rest is not run."},
    {"__enter__", (PyCFunction)Map_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)Map_exit, METH_VARARGS, NULL},
    {NULL}};

static PyGetSetDef Map_getset[] = {
    {"pulled", (getter)Map_pulled, NULL, "Items read from an iterator input so far.", NULL},
    {"running", (getter)Map_running, NULL, "Whether the map has live workers.", NULL},
    {NULL}};

static PyTypeObject Map_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parmapper._parmapper.Map",
    .tp_basicsize = sizeof(MapObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The results of one map, in order or as they finish; started by the first step.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Map_init,
    .tp_dealloc = (destructor)Map_dealloc,
    .tp_traverse = (traverseproc)Map_traverse,
    .tp_clear = (inquiry)Map_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Map_next,
    .tp_weaklistoffset = offsetof(MapObject, weakrefs),
    .tp_methods = Map_methods,
    .tp_getset = Map_getset,
};

/* ------------------------------------------------------------------------ */
/* Process: one call in a background process (pm_process_start). */

typedef struct {
    PyObject_HEAD
    pm_process *proc;
    work_spec *spec;
    int busy;          /* a thread is in join() (the GIL released) */
    PyObject *outcome; /* what join() returns, kept for later calls */
    PyObject *weakrefs;
} ProcessObject;

static int process_fn(pm_sink *out, void *user_data) {
    work_spec *s = user_data;
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *res = PyObject_CallNoArgs(s->call);
    int rc = -1;
    if (res) {
        rc = encode_to_sink(res, out, TAG_RESULT);
        Py_DECREF(res);
    }
    if (rc < 0) {
        const char *message = NULL, *payload = NULL;
        Py_ssize_t payload_len = 0;
        PyObject *keep = encode_current_failure(WHERE_FUN, s->proc, &message, &payload,
                                                &payload_len);
        char tag = TAG_EXCEPTION;
        rc = keep ? 0 : 1;
        if (keep) {
            pm_sink_write(out, &tag, 1);
            pm_sink_write(out, payload, (size_t)payload_len);
            Py_DECREF(keep);
        } else {
            pm_sink_set_error(out, "the function failed, and its exception could not be encoded");
        }
    }
    flush_stdio();
    PyGILState_Release(gil);
    return rc;
}

static void process_destroy(ProcessObject *self) {
    if (self->proc) {
        pm_process *p = self->proc;
        self->proc = NULL;
        Py_BEGIN_ALLOW_THREADS
        pm_process_destroy(p);
        Py_END_ALLOW_THREADS
    }
    spec_free(self->spec);
    self->spec = NULL;
}

static int Process_init(ProcessObject *self, PyObject *args, PyObject *kw) {
    static char *names[] = {"call", "daemon", "proc", NULL};
    PyObject *call;
    int daemon = 1, proc = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|pp", names, &call, &daemon, &proc))
        return -1;
    if (!have_setup())
        return -1;
    if (self->proc || self->spec) {
        PyErr_SetString(PyExc_RuntimeError, "Process already started");
        return -1;
    }
    self->spec = spec_new(call, NULL, proc);
    if (!self->spec)
        return -1;
    pm_options *o = NULL;
    char errbuf[512] = "";
    if (pm_options_create(&o) != PM_OK) {
        PyErr_NoMemory();
        return -1;
    }
    pm_options_set_daemon(o, daemon);
    pm_options_set_fork_hooks(o, hook_prepare, hook_parent, hook_child, hook_kind(1));
    pm_options_set_error_buffer(o, errbuf, sizeof errbuf);
    flush_stdio();
    fork_lock_acquire();
    int rc = pm_process_start(&self->proc, o, process_fn, self->spec, NULL);
    fork_lock_release();
    pm_options_destroy(o);
    if (rc != PM_OK) {
        self->proc = NULL;
        raise_status(rc, "pm_process_start", errbuf);
        return -1;
    }
    return 0;
}

/* join() -> ('ok', result); ('failure', payload bytes) for an exception of
 * the function; ('error', status, message) when the process died or its
 * outcome could not be read. */
static PyObject *Process_join(ProcessObject *self, PyObject *unused) {
    (void)unused;
    if (self->outcome)
        return Py_NewRef(self->outcome);
    if (!self->proc) {
        PyErr_SetString(PyExc_ValueError, "the process was never started or is closed");
        return NULL;
    }
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "another thread is joining this process");
        return NULL;
    }
    const void *data = NULL;
    size_t len = 0;
    int rc;
    pm_process *p = self->proc;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    rc = pm_process_join(p, &data, &len);
    Py_END_ALLOW_THREADS
    self->busy = 0;
    PyObject *outcome = NULL;
    if (rc == PM_OK && len >= 1 && ((const char *)data)[0] == TAG_RESULT) {
        PyObject *v = decode((const char *)data + 1, len - 1);
        if (v)
            outcome = Py_BuildValue("(sN)", "ok", v);
    } else if (rc == PM_OK && len >= 1 && ((const char *)data)[0] == TAG_EXCEPTION) {
        outcome = Py_BuildValue("(sy#)", "failure", (const char *)data + 1, (Py_ssize_t)(len - 1));
    } else if (rc == PM_OK) {
        decode_error("process result");
    } else if (rc == PM_ESTATE || rc == PM_EINVAL) {
        return raise_status(rc, "pm_process_join", pm_process_error(p));
    } else {
        outcome = Py_BuildValue("(sis)", "error", rc, pm_process_error(p));
    }
    if (!outcome)
        return NULL;
    self->outcome = outcome;
    /* The child is reaped; drop the handle's descriptors now. */
    process_destroy(self);
    return Py_NewRef(outcome);
}

static PyObject *Process_close(ProcessObject *self, PyObject *unused) {
    (void)unused;
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "another thread is joining this process");
        return NULL;
    }
    process_destroy(self);
    Py_RETURN_NONE;
}

static int Process_traverse(ProcessObject *self, visitproc visit, void *arg) {
    Py_VISIT(self->outcome);
    if (self->spec)
        Py_VISIT(self->spec->call);
    return 0;
}

static int Process_clear(ProcessObject *self) {
    process_destroy(self);
    Py_CLEAR(self->outcome);
    return 0;
}

static void Process_dealloc(ProcessObject *self) {
    PyObject_GC_UnTrack(self);
    if (self->weakrefs)
        PyObject_ClearWeakRefs((PyObject *)self);
    process_destroy(self);
    Py_CLEAR(self->outcome);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Process_methods[] = {
    {"join", (PyCFunction)Process_join, METH_NOARGS,
     "Wait for the outcome: ('ok', result), ('failure', payload) or ('error', status, message)."},
    {"close", (PyCFunction)Process_close, METH_NOARGS,
     "Kill (if not joined) and reap the process."},
    {NULL}};

static PyTypeObject Process_Type = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "parmapper._parmapper.Process",
    .tp_basicsize = sizeof(ProcessObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "call() run in a background process (pm_process_start); started at creation.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Process_init,
    .tp_dealloc = (destructor)Process_dealloc,
    .tp_traverse = (traverseproc)Process_traverse,
    .tp_clear = (inquiry)Process_clear,
    .tp_weaklistoffset = offsetof(ProcessObject, weakrefs),
    .tp_methods = Process_methods,
};

/* ------------------------------------------------------------------------ */
/* Module functions. */

static PyObject *mod_setup(PyObject *mod, PyObject *args, PyObject *kw) {
    (void)mod;
    static char *names[] = {"dumps",        "loads",       "protocol", "encode_failure",
                            "decode_failure", "flush_stdio", "child_setup", "error_type", NULL};
    PyObject *o[8];
    if (!PyArg_ParseTupleAndKeywords(args, kw, "OOOOOOOO", names, &o[0], &o[1], &o[2], &o[3],
                                     &o[4], &o[5], &o[6], &o[7]))
        return NULL;
    PyObject **slots[8] = {&g_dumps,          &g_loads,       &g_protocol,    &g_encode_failure,
                           &g_decode_failure, &g_flush_stdio, &g_child_setup, &g_error_type};
    for (int i = 0; i < 8; i++) {
        Py_INCREF(o[i]);
        Py_XSETREF(*slots[i], o[i]);
    }
    Py_RETURN_NONE;
}

/* Round trip through the codec, for the tests. */
static PyObject *mod_codec_roundtrip(PyObject *mod, PyObject *o) {
    (void)mod;
    if (!have_setup())
        return NULL;
    buffer b = {0};
    if (encode_to_buffer(o, &b) < 0) {
        buffer_free(&b);
        return NULL;
    }
    PyObject *r = decode(b.data, b.len);
    PyObject *tag = r ? PyUnicode_FromStringAndSize(b.data, 1) : NULL;
    buffer_free(&b);
    if (!tag) {
        Py_XDECREF(r);
        return NULL;
    }
    return Py_BuildValue("(NN)", r, tag);
}

static PyObject *mod_crossings(PyObject *mod, PyObject *unused) {
    (void)mod, (void)unused;
    return Py_BuildValue("{sKsKsK}", "chunk_calls", g_chunk_calls, "pull_calls", g_pull_calls,
                         "batch_calls", g_batch_calls);
}

static PyObject *mod_library_version(PyObject *mod, PyObject *unused) {
    (void)mod, (void)unused;
    return PyUnicode_FromString(pm_version_string());
}

static PyMethodDef module_methods[] = {
    {"_setup", (PyCFunction)(void (*)(void))mod_setup, METH_VARARGS | METH_KEYWORDS,
     "Hand the Python helpers to the C half (called once by parmapper/__init__.py)."},
    {"_codec_roundtrip", (PyCFunction)mod_codec_roundtrip, METH_O,
     "(decoded copy, tag) of an object through the item/result codec."},
    {"_crossings", (PyCFunction)mod_crossings, METH_NOARGS,
     "Counts of the library's calls into Python in this process, for the tests."},
    {"library_version", (PyCFunction)mod_library_version, METH_NOARGS,
     "The version of the libparmapper that is loaded."},
    {NULL}};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "parmapper._parmapper",
    "The C half of parmapper: fork hooks, the work function, the result iterator.", -1,
    module_methods};

PyMODINIT_FUNC PyInit__parmapper(void) {
    if (pm_version_number() < PM_VERSION_NUMBER) {
        PyErr_Format(PyExc_ImportError,
                     "parmapper was built against libparmapper %s but %s is loaded",
                     PM_VERSION_STRING, pm_version_string());
        return NULL;
    }
    if (!g_fork_lock) {
        g_fork_lock = PyThread_allocate_lock();
        if (!g_fork_lock)
            return PyErr_NoMemory();
        if (pthread_atfork(NULL, NULL, bump_incarnation) != 0) {
            PyErr_SetString(PyExc_ImportError, "pthread_atfork failed");
            return NULL;
        }
    }
    if (PyType_Ready(&Map_Type) < 0 || PyType_Ready(&Pool_Type) < 0 ||
        PyType_Ready(&Process_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (!m)
        return NULL;
    if (PyModule_AddObjectRef(m, "Map", (PyObject *)&Map_Type) < 0 ||
        PyModule_AddObjectRef(m, "Pool", (PyObject *)&Pool_Type) < 0 ||
        PyModule_AddObjectRef(m, "Process", (PyObject *)&Process_Type) < 0 ||
        PyModule_AddIntConstant(m, "PM_EITEM", PM_EITEM) < 0 ||
        PyModule_AddIntConstant(m, "PM_EWORKER", PM_EWORKER) < 0 ||
        PyModule_AddIntConstant(m, "PM_ETIMEOUT", PM_ETIMEOUT) < 0 ||
        PyModule_AddIntConstant(m, "PM_EIO", PM_EIO) < 0 ||
        PyModule_AddIntConstant(m, "PM_EINPUT", PM_EINPUT) < 0 ||
        PyModule_AddIntConstant(m, "PM_ECANCELED", PM_ECANCELED) < 0 ||
        PyModule_AddIntConstant(m, "BATCH_MAX", BATCH_MAX) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
