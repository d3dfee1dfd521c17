/*
 * libparmapper: map a function over a sequence of items on a pool of fork()ed
 * worker processes, and get the results back in input order or as they finish.
 *
 * The model in one paragraph. A *work function* (pm_work_fn) is called in a
 * worker process once per item with the item's bytes, and writes the item's
 * result bytes into a pm_sink. Items come from a pm_input: a pull callback
 * (a generator), an in-memory array of fixed-size records, or an array of
 * variable-size records. A pm_map is the running map; the caller steps it with
 * pm_map_next(), which yields one item's index, status and result at a time.
 * Workers are forked, so the work function and everything it points at are
 * inherited: only items and results cross the process boundary. So are the
 * program's open descriptors, except the library's own for other maps,
 * pools and background processes (their pipes, sockets and exit watches),
 * which every process the library forks closes first.
 *
 *     pm_input *in;  pm_map *map;  uint64_t i;  const void *res;  size_t n;
 *     pm_input_create_array(&in, values, sizeof values[0], count);
 *     if (pm_map_create(&map, NULL, in, square, NULL, NULL) == PM_OK) {
 *         while (pm_map_next(map, &i, &res, &n) == PM_OK)
 *             use(i, res, n);
 *         pm_map_destroy(map);
 *     }
 *
 * What a worker sees. A worker is a fork() of the calling process taken at a
 * precise moment: pm_map_create() forks when it is called, so its work function
 * sees the program's memory exactly as it is at that call; pm_pool_create()
 * forks once, so every map run on that pool sees memory as it was when the
 * pool was created, plus the bytes of each item. Writes a worker makes (to
 * globals, to user_data, to the heap) stay in the worker and never reach the
 * caller; only result bytes travel back. Only the thread that forked exists in
 * a worker: threads of the caller are not copied, so the work function must
 * not wait on locks that other caller threads may have held at fork time. The
 * library flushes stdio before forking so buffered output is not printed twice.
 * With one process, or PM_ERRORS_INLINE, nothing is forked: the work function
 * runs in the calling process and sees (and changes) its live memory.
 *
 * Bytes and alignment. Items and results are byte strings with no alignment
 * promise: read multi-byte values from them with memcpy.
 *
 * Conventions. Fallible functions return PM_OK (0) or a negative PM_E* code
 * and record a detail message for the calling thread (pm_last_error()). Every
 * _destroy function accepts NULL. No struct layout is part of the ABI: handles
 * are opaque and options have setters. Nothing here installs a signal handler,
 * and a dead worker never delivers SIGPIPE to the caller. A map, pool or
 * background-process handle that a worker inherited by fork belongs to the
 * parent: in the worker, pm_map_next(), pm_map_cancel(), pm_pool_map() and
 * pm_process_join() refuse it with PM_ESTATE and the _destroy functions leave
 * it alone (since 0.2; process handles since 0.3, also in a fork the program
 * makes itself). No descriptor of the library is ever 0, 1 or 2: in a host
 * that closed its stdio (a daemon) a work function's printf cannot reach the
 * library's pipes (since 0.3).
 *
 * Linux only (fork, pipe2, prctl, pidfd). Since: 0.1 for everything in this
 * file that does not name another version.
 */
#ifndef PARMAPPER_H
#define PARMAPPER_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Status codes. Values are pinned: new codes are appended, never renumbered. */

enum {
    PM_OK = 0,          /* success */
    PM_DONE = 1,        /* pm_map_next: every result has been delivered */
    PM_EINVAL = -1,     /* an argument is NULL, out of range or inconsistent */
    PM_ENOMEM = -2,     /* memory allocation failed */
    PM_ESTATE = -3,     /* call not allowed in the object's current state */
    PM_EIO = -4,        /* transport failure: a bad or truncated frame from a worker */
    PM_EWORKER = -5,    /* a worker process died (signal or exit) holding items */
    PM_ECANCELED = -6,  /* the map was cancelled (pm_map_cancel; since 0.2) */
    PM_EINTERNAL = -7,  /* a bug in libparmapper; the message says where */
    PM_EITEM = -8,      /* the work function reported failure for an item */
    PM_EINPUT = -9,     /* the input callback reported failure */
    PM_ESYS = -10,      /* a system call failed (fork, pipe, thread creation) */
    PM_ETIMEOUT = -11,  /* an item ran past the item timeout (since 0.2) */
    PM_EAGAIN = -12     /* pm_map_next_batch: nothing yet, the wait timed out (since 0.3) */
};

/* Error modes: what a failed item does to the map (pm_options_set_error_mode). */
enum {
    /* The map stops at the first failure and pm_map_next() returns its code
     * with the item's index. In ordered mode every result before it is
     * delivered first, so the failure reported is the one with the lowest
     * index. A one-shot map's workers are then killed and reaped; a pool
     * map's workers finish the chunks they hold (their results are dropped)
     * and stay in the pool. Once a failure is known nothing past it runs
     * again, and the items before it that must run again (their worker died
     * or was stuck) go first, lowest index first; each of them either
     * delivers or fails itself, becoming the failure reported. So after its
     * first failure an ordered map waits only for the items before it, each
     * bounded by the item timeout when one is set (since 0.3). */
    PM_ERRORS_RAISE = 0,
    /* A failed item comes back in its place with a negative pm_map_next()
     * code (PM_EITEM or PM_EWORKER) and the map goes on; it counts as
     * delivered for the progress callback. */
    PM_ERRORS_RETURN = 1,
    /* Run in the calling process and thread, without fork, stopping at the
     * first failure like PM_ERRORS_RAISE: for debugging, a debugger and
     * sanitizers see the real stack. A crash takes the caller with it. */
    PM_ERRORS_INLINE = 2
};

/* How workers start (pm_options_set_start_method(); since 0.3). */
enum {
    /* fork() (the default): a worker is a copy of the caller, and inherits
     * the work function and everything it points at (see the top). */
    PM_START_FORK = 0,
    /* exec: a worker is a fresh run of this program (/proc/self/exe, with
     * its arguments), whose main calls pm_worker_serve() first; see
     * "Workers that start by exec" below. */
    PM_START_EXEC = 1
};

/* Values for pm_options_set_total() and pm_options_set_chunk_size(). */
#define PM_TOTAL_UNKNOWN UINT64_MAX
#define PM_CHUNK_AUTO 0u

/* Limits that setters enforce (PM_EINVAL beyond them). */
#define PM_MAX_PROCESSES 1024u
#define PM_MAX_THREADS 1024u
#define PM_MAX_CHUNK_SIZE ((size_t)1 << 24)
#define PM_MAX_IN_FLIGHT ((size_t)1 << 30)

/* ------------------------------------------------------------------------ */
/* Opaque handles. */

typedef struct pm_options pm_options; /* map and pool settings */
typedef struct pm_input pm_input;     /* where items come from */
typedef struct pm_feed pm_feed;       /* given to a pm_input_fn to push items */
typedef struct pm_sink pm_sink;       /* given to a pm_work_fn to write a result */
typedef struct pm_pool pm_pool;       /* forked workers reused by several maps */
typedef struct pm_map pm_map;         /* one running map, stepped by pm_map_next */

/* ------------------------------------------------------------------------ */
/* Callbacks. Every callback takes an opaque user_data as its last argument. */

/* Releases a user_data once the library no longer needs it. Runs exactly
 * once, in the calling process, even when the call that registered it fails. */
typedef void (*pm_destroy_fn)(void *user_data);

/* The work function. Runs in a worker process (in the caller's process for
 * one process or PM_ERRORS_INLINE), possibly on several threads at once when
 * threads > 1. item/len: the item's bytes, valid during the call. index: the
 * item's position in the input, from 0. Write the result with pm_sink_write()
 * or pm_sink_reserve() (0 bytes is a valid result). Return 0 for success; any
 * other value fails the item, with the message given to pm_sink_set_error() or
 * a generic one. In a worker, user_data is the fork-time copy. */
typedef int (*pm_work_fn)(const void *item, size_t len, uint64_t index,
                          pm_sink *out, void *user_data);

/* A pull input (a generator). Runs on the library's feeder thread (on the
 * thread calling pm_map_next() when the map runs in-process with one
 * thread), never two calls at once. Push zero or more items with
 * pm_feed_push() (one or a few per call keeps the in-flight bound tight, see
 * also pm_feed_wanted()), then return PM_OK to be called again, PM_DONE when
 * the input is exhausted (items pushed in that call count), PM_EAGAIN when
 * no item is ready now (since 0.3: what it pushed goes to the workers, and
 * it is called again soon; it should wait a little, a few milliseconds,
 * before returning PM_EAGAIN, or it is called in a busy loop), or another
 * negative value for an error, with a message from pm_feed_set_error(). The
 * items pushed up to a PM_EAGAIN are sent before the next call, so a
 * generator may wait for the results of the items it gave, returning
 * PM_EAGAIN while it waits (since 0.3); after PM_OK the feeder may call it
 * again first, to fill its chunk, but a full chunk is sent before the next
 * call, so a generator that blocks for its next item delays nothing it
 * gave before the chunk was full. */
typedef int (*pm_input_fn)(pm_feed *feed, void *user_data);

/* Progress: called on the thread calling pm_map_next() after each delivered
 * result, with the number delivered so far and the total (the input's length
 * when known, else the total hint, else PM_TOTAL_UNKNOWN). */
typedef void (*pm_progress_fn)(uint64_t done, uint64_t total, void *user_data);

/* Worker hooks (since 0.2), see pm_options_set_worker_hooks(). init runs once
 * in each worker before its first item, with the worker's id (0 to
 * processes - 1; a replacement worker takes the id of the one it replaces);
 * it may set *state (initially NULL), which the work function reads with
 * pm_sink_worker_state(). Return 0, or nonzero to make the worker exit: its
 * items then fail like those of a worker that died. exit runs once when the
 * worker stops normally (not when it crashes or is killed), with the state. */
typedef int (*pm_worker_init_fn)(uint32_t worker_id, void **state, void *user_data);
typedef void (*pm_worker_exit_fn)(uint32_t worker_id, void *state, void *user_data);

/* A chunk work function (since 0.3), for pm_map_create_chunked() and
 * pm_pool_create_chunked(): called once per chunk with all its items, so a
 * work function written in another language crosses into it once per chunk,
 * not once per item. items[i] (lens[i] bytes, valid during the call) is item
 * first_index + i, for i below count. It writes the results in order: for
 * each item, its bytes with pm_sink_write() or pm_sink_reserve(), then
 * pm_sink_end_item(out, 0); or a failure: pm_sink_set_error() (and perhaps
 * pm_sink_set_error_payload()), then pm_sink_end_item(out, 1). Return 0
 * once every item is ended; items it did not end fail ("the chunk function
 * returned before ending item N"), and a nonzero return fails them with the
 * message of the last pm_sink_set_error(). Runs where a pm_work_fn would (a
 * worker, or the caller in-process); for timeouts and crashes the item
 * running is the first one not yet ended. */
typedef int (*pm_chunk_fn)(uint64_t first_index, size_t count, const void *const *items,
                           const size_t *lens, pm_sink *out, void *user_data);

/* Fork hooks (since 0.3), see pm_options_set_fork_hooks(). */
typedef void (*pm_fork_fn)(void *user_data);

/* Worker-thread hooks (since 0.3), see pm_options_set_thread_hooks().
 * thread: 0 to threads - 1 within the worker. */
typedef void (*pm_thread_fn)(uint32_t worker_id, uint32_t thread, void *user_data);

/* ------------------------------------------------------------------------ */
/* Version and errors. All of these: any thread, never fail. */

/* The library's version as "MAJOR.MINOR.PATCH" (static string). */
PM_API const char *pm_version_string(void);
/* MAJOR*10000 + MINOR*100 + PATCH, to compare with PM_VERSION_NUMBER. */
PM_API uint32_t pm_version_number(void);
/* Static text for a status code; unknown codes get a generic text. Never NULL. */
PM_API const char *pm_status_str(int status);
/* Detail message of the last failing pm_ call on this thread ("" if none).
 * Valid until the next failing pm_ call on this thread. Never NULL. */
PM_API const char *pm_last_error(void);

/* ------------------------------------------------------------------------ */
/* Options. Copied by pm_map_create() / pm_pool_create() / pm_pool_map(), so
 * they may be changed or destroyed right after. Thread-safety: one options
 * object must not be used by two threads at once; distinct ones are
 * independent. Setters return PM_OK, or PM_EINVAL (NULL opts or a value out
 * of range; the option keeps its value). */

/* Create options with the defaults given for each setter below.
 * @return PM_OK, PM_EINVAL (out is NULL), PM_ENOMEM. */
PM_API int pm_options_create(pm_options **out);
/* Free the options. NULL: no-op. */
PM_API void pm_options_destroy(pm_options *opts);

/* Number of worker processes; 0 (default) = the number of online CPUs.
 * 1 runs the map in the calling process without fork (the serial fallback).
 * At most PM_MAX_PROCESSES. */
PM_API int pm_options_set_processes(pm_options *opts, uint32_t n);
/* Threads per worker process, each running whole chunks (default 1, at most
 * PM_MAX_THREADS, 0 is PM_EINVAL). With one process, a thread pool in the
 * calling process. The work function must then be thread-safe. */
PM_API int pm_options_set_threads(pm_options *opts, uint32_t n);
/* Items per chunk, the unit sent to a worker (at most PM_MAX_CHUNK_SIZE).
 * PM_CHUNK_AUTO (default): ceil(total / (processes * threads)) when the total
 * is known, capped so that two chunks per worker thread fit in the in-flight
 * bound; when it is not, chunks start at 1 item, double while no timing is
 * known, then aim at about 20 ms of work each from measured item times.
 * Every chunk is also cut to the room the in-flight bound leaves. */
PM_API int pm_options_set_chunk_size(pm_options *opts, size_t n);
/* Nonzero (default): results in input order, held back in a sort buffer until
 * their turn. 0: results as they finish. */
PM_API int pm_options_set_ordered(pm_options *opts, int ordered);
/* Hint for the number of items when the input's length is unknown (a pull
 * input): used for automatic chunking and reported to the progress callback.
 * PM_TOTAL_UNKNOWN (default) for none. Array inputs know their length. */
PM_API int pm_options_set_total(pm_options *opts, uint64_t total);
/* PM_ERRORS_RAISE (default), PM_ERRORS_RETURN or PM_ERRORS_INLINE. */
PM_API int pm_options_set_error_mode(pm_options *opts, int mode);
/* Bound on items read from the input but not yet delivered by pm_map_next()
 * (held by workers, in transit, or in the sort buffer). The feeder never
 * reads past it: it waits for room, and cuts a chunk to the room left, so at
 * most this many items are read and undelivered at any time, whatever the
 * chunk size (since 0.3; before, up to a chunk more). A pull callback that
 * pushes several items in one call can pass it by the rest of that call.
 * The caller's memory thus does not grow with the input's length. 0
 * (default) = automatic: max(65536, 2 * processes * threads * chunk size) for
 * a fixed chunk size, else 65536, lowered once results are seen to be large
 * so that about 6 MiB of them are in flight (at least two items per worker
 * thread). At most PM_MAX_IN_FLIGHT. */
PM_API int pm_options_set_max_in_flight(pm_options *opts, size_t n);
/* Nonzero (default): workers are killed when the creating process dies, even
 * by SIGKILL (Linux PR_SET_PDEATHSIG, plus a parent check after it). Note that
 * Linux ties this to the creating *thread*: if the thread that created a map
 * or pool exits while it is in use, its workers die and the map reports
 * PM_EWORKER. 0: a worker that loses its parent finishes its current chunk and
 * exits when it next reads from its (then closed) pipe. */
PM_API int pm_options_set_daemon(pm_options *opts, int daemon);
/* Progress callback (NULL to remove). user_data must stay valid as long as a
 * map created with these options exists. From the callback, pm_map_next() on
 * the map it reports on returns PM_ESTATE, and pm_map_destroy() on it is
 * deferred until the step that called the callback returns (that step then
 * returns PM_ECANCELED and its result must not be used). */
PM_API int pm_options_set_progress(pm_options *opts, pm_progress_fn fn,
                                   void *user_data);
/* Built-in progress bar on stderr for maps made with these options: enable
 * nonzero to draw it, 0 to remove it. label: shown first on each line
 * (copied; control characters become spaces); NULL or "" for none. It works
 * alongside a callback set with pm_options_set_progress(): both run.
 * A line shows the label, done/total, the percentage, a bar, the rate
 * (results per second), the elapsed time and the estimated time left; with
 * an unknown total (PM_TOTAL_UNKNOWN), the running count, rate and elapsed
 * time. It is drawn by pm_map_next() on the calling thread when a result is
 * delivered (never by a worker, and not while pm_map_next() waits), and
 * written to file descriptor 2 directly, not through stdio:
 * - stderr a terminal (checked when the map is created): one line redrawn in
 *   place with '\r', at most 10 times a second, fitted to the terminal width;
 * - otherwise (a file or pipe): a plain line each time another tenth of the
 *   total is done, at most one a second, and one at least every 10 seconds
 *   while results keep coming (the only lines an unknown total gets).
 * When the map ends a last line is drawn, ending in a newline, that says
 * "done" (PM_DONE), "failed" (a final failure) or "stopped" (pm_map_destroy()
 * part-way). Whether a line is due is checked with a coarse clock, read for
 * every result while results are slow and for every 32nd in a fast burst,
 * so that a map of trivial items is not slowed (a line may thus come up to
 * 32 results late after a burst). A failed write (stderr closed, a full
 * nonblocking pipe) silently stops the bar; it never raises SIGPIPE.
 * @return PM_OK, PM_EINVAL (opts NULL), PM_ENOMEM.
 * Thread-safety: as the other setters. Since: 0.2. */
PM_API int pm_options_set_progress_bar(pm_options *opts, int enable,
                                       const char *label);

/* Faults and recycling (since 0.2). These apply to maps that run on worker
 * processes; an in-process map (one process, or PM_ERRORS_INLINE) cannot
 * kill or replace its work function and ignores them. See "Failure
 * semantics" in the README for the whole story. */

/* Item timeout in milliseconds (0, the default: none). An item that runs
 * longer fails with PM_ETIMEOUT and its worker is killed (and replaced when
 * the map goes on). Checked about every timeout/4 (at least every 100 ms,
 * at most every 10 ms), so an item is stopped within about 1.25 x timeout.
 * A worker that holds items but runs none of them for as long (stopped, or
 * stuck in the program's code outside the work function; its init hook does
 * not count) is killed and replaced too, and its items run again uncharged.
 * In PM_ERRORS_RAISE the map then ends within a few timeouts of its first
 * failure, whatever replacement workers do (see pm_map_next()).
 * At most 2^32 - 1 ms. */
PM_API int pm_options_set_item_timeout(pm_options *opts, uint64_t ms);
/* Retries for items whose worker died or timed out (default 0, at most
 * 1000). An item that was running when its worker crashed or timed out is
 * charged one attempt; it is run again, alone in a chunk, on a replacement
 * worker until it succeeds or has failed retries + 1 times, and its error
 * then says how many attempts were made. Items of the dead worker's chunks
 * that were not running (not started, or done but not yet sent) are run
 * again without being charged, with or without retries (since 0.3). Items
 * whose work function *returned* a failure are never retried. Works in every
 * error mode: in PM_ERRORS_RAISE only an item out of attempts ends the map. */
PM_API int pm_options_set_retries(pm_options *opts, uint32_t n);
/* Recycling: replace a worker once it has run at least n items (0, the
 * default: never). The worker is retired at a chunk boundary, so it may run
 * up to about two chunks more before it stops; nothing is lost or repeated. */
PM_API int pm_options_set_max_items_per_worker(pm_options *opts, uint64_t n);
/* Recycling: replace a worker once its resident memory exceeds bytes (0, the
 * default: never), checked after each chunk it returns (at most every 10 ms
 * per worker) from /proc. Like the count above, at a chunk boundary. */
PM_API int pm_options_set_max_worker_rss(pm_options *opts, uint64_t bytes);
/* Hooks run in each worker: init before its first item, exit when it stops
 * normally (see pm_worker_init_fn). NULL for either to skip it. user_data is
 * the fork-time copy in a worker, like the work function's. For a pool they
 * are taken from pm_pool_create()'s options, and pm_pool_map() ignores them.
 * In-process maps run init and exit once, on the thread that runs the items
 * (worker id 0). */
PM_API int pm_options_set_worker_hooks(pm_options *opts, pm_worker_init_fn init,
                                       pm_worker_exit_fn exit, void *user_data);

/* For runtimes and bindings (since 0.3 for everything to the end of this
 * section). */

/* Hooks around every fork the library makes for maps, pools, background
 * processes and pm_pareval(): prepare(user_data) just before fork() and
 * parent(user_data) just after it, in the forking thread; child(user_data)
 * first thing in the new process. The library forks from the caller's
 * thread (a pool's or map's template process, a background process's
 * watcher) and from those processes (each worker; the background process),
 * so the hooks also run in a template (prepare and parent, around each
 * worker it forks) and in a watcher. A runtime takes its locks and flushes
 * its buffers in prepare, and re-initialises itself in child, as Python's
 * PyOS_BeforeFork(), PyOS_AfterFork_Parent() and PyOS_AfterFork_Child() do.
 * NULL for any of them to skip it. user_data must stay valid while maps,
 * pools or processes made with these options live. In-process maps do not
 * fork and run no hook. @return PM_OK, PM_EINVAL. */
PM_API int pm_options_set_fork_hooks(pm_options *opts, pm_fork_fn prepare, pm_fork_fn parent,
                                     pm_fork_fn child, void *user_data);
/* Hooks on each worker thread the library starts to run items (threads > 1:
 * in worker processes, and in the calling process for an in-process map):
 * start(worker_id, thread, user_data) before the thread's first item, stop
 * after its last, on that thread, so a runtime can attach and detach it.
 * With one thread per worker items run on the worker's main thread and the
 * hooks do not run. NULL to skip either. user_data is a fork-time copy in a
 * worker. @return PM_OK, PM_EINVAL. */
PM_API int pm_options_set_thread_hooks(pm_options *opts, pm_thread_fn start, pm_thread_fn stop,
                                       void *user_data);
/* An error message buffer for the calls that take these options and can
 * fail: pm_map_create(), pm_map_create_chunked(), pm_pool_create(),
 * pm_pool_create_chunked(), pm_pool_map(), pm_process_start() and
 * pm_pareval(). When such a call fails, its message is also written to buf
 * (NUL-terminated, cut to len - 1 bytes), whatever thread makes the call:
 * for runtimes whose code moves between OS threads (Go), where the
 * thread-local pm_last_error() may belong to another call. buf must stay
 * valid while calls use these options, and two calls must not use the same
 * buffer at once; a pool made with these options keeps the buffer for the
 * pm_pool_map() calls that pass no options of their own, so it must then
 * stay valid as long as the pool. NULL or len 0: none (the default).
 * @return PM_OK, PM_EINVAL. */
PM_API int pm_options_set_error_buffer(pm_options *opts, char *buf, size_t len);
/* Nonzero: in each worker process, before its init hook, the signals that
 * end a process on a crash (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT,
 * SIGTRAP, SIGSYS) get their default action back, so that a crash in a work
 * function is seen as that signal even in a host whose runtime installs
 * handlers for them (Go's turns a SIGSEGV into exit status 2). 0 (default):
 * workers keep the handlers they inherit. @return PM_OK, PM_EINVAL. */
PM_API int pm_options_set_reset_crash_signals(pm_options *opts, int reset);

/* ------------------------------------------------------------------------ */
/* Inputs. An input is consumed by the pm_map_create()/pm_pool_map() call it
 * is passed to, whether that call succeeds or fails: do not use or destroy it
 * afterwards. An input that is never passed on is freed with pm_input_destroy().
 * Thread-safety: an input belongs to one thread until it is passed on. */

/* Pull input: the feeder calls fn until it returns PM_DONE or an error.
 * destroy(user_data) runs once when the input is freed (also when this call
 * fails). @return PM_OK, PM_EINVAL (out or fn NULL), PM_ENOMEM. */
PM_API int pm_input_create_pull(pm_input **out, pm_input_fn fn,
                                void *user_data, pm_destroy_fn destroy);
/* Fixed-size records: count records of record_size bytes at base. The memory
 * is not copied: it must stay valid and unchanged until the map is destroyed.
 * base may be NULL only when count or record_size is 0.
 * @return PM_OK, PM_EINVAL, PM_ENOMEM. */
PM_API int pm_input_create_array(pm_input **out, const void *base,
                                 size_t record_size, size_t count);
/* Variable-size records: item i is lens[i] bytes at items[i] (which may be
 * NULL when lens[i] is 0). The two arrays are copied; the bytes they point
 * at are not, and must stay valid and unchanged until the map is destroyed.
 * @return PM_OK, PM_EINVAL, PM_ENOMEM. */
PM_API int pm_input_create_records(pm_input **out, const void *const *items,
                                   const size_t *lens, size_t count);
/* Free an input that was not passed to a map. NULL: no-op. */
PM_API void pm_input_destroy(pm_input *input);

/* Inside a pm_input_fn: push one item; its bytes are copied before return.
 * @return PM_OK, PM_EINVAL (feed NULL, or data NULL with len > 0), PM_ENOMEM. */
PM_API int pm_feed_push(pm_feed *feed, const void *data, size_t len);
/* Inside a pm_input_fn: message for the error it is about to return (copied).
 * @return PM_OK, PM_EINVAL. */
PM_API int pm_feed_set_error(pm_feed *feed, const char *message);
/* Inside a pm_input_fn: push count items at once, item i being lens[i]
 * bytes, all back to back from data (copied before return; data may be
 * NULL when they are all empty). Since 0.3. @return PM_OK, PM_EINVAL,
 * PM_ENOMEM. */
PM_API int pm_feed_push_packed(pm_feed *feed, const void *data, const size_t *lens,
                               size_t count);
/* Inside a pm_input_fn: how many more items the feeder asks for now. At
 * least 1 when the call starts; each item pushed since (in this call or an
 * earlier call of the same request) counts against it, and it is 0 once
 * that many are pushed. A callback that pushes at most this many per call
 * keeps the in-flight bound exact. NULL: 0. Since 0.3. */
PM_API size_t pm_feed_wanted(const pm_feed *feed);

/* ------------------------------------------------------------------------ */
/* Inside a work function: the result. Only valid during that call, on the
 * thread that received it. */

/* Append len bytes to the item's result (data may be NULL when len is 0).
 * @return PM_OK, PM_EINVAL, PM_ENOMEM. */
PM_API int pm_sink_write(pm_sink *out, const void *data, size_t len);
/* Append len uninitialized bytes and set *buf to them, to be filled in place.
 * *buf is valid until the next pm_sink_* call. @return PM_OK, PM_EINVAL,
 * PM_ENOMEM. */
PM_API int pm_sink_reserve(pm_sink *out, size_t len, void **buf);
/* Message reported with the item if the work function returns nonzero
 * (copied; the result bytes are then discarded). @return PM_OK, PM_EINVAL. */
PM_API int pm_sink_set_error(pm_sink *out, const char *message);
/* Bytes carried by the item's failure besides its message (copied), for a
 * caller that re-raises it: a pickled exception, a panic payload, an error
 * value. Only used if the item fails; returned by pm_map_error_payload()
 * and as a failed entry's bytes by pm_map_next_batch(). The last call wins.
 * Since 0.3. @return PM_OK, PM_EINVAL, PM_ENOMEM. */
PM_API int pm_sink_set_error_payload(pm_sink *out, const void *data, size_t len);
/* In a pm_chunk_fn: ends the current item; failed 0: its result is what was
 * written since the last call, else it fails with the message (and payload)
 * set since then. The next item starts. Since 0.3. @return PM_OK,
 * PM_EINVAL (NULL, not in a chunk function, or every item ended already). */
PM_API int pm_sink_end_item(pm_sink *out, int failed);
/* The id of the worker running this item (0 to processes - 1; 0 in-process).
 * NULL: 0. Since 0.2. */
PM_API uint32_t pm_sink_worker_id(const pm_sink *out);
/* The state the worker's init hook set, or NULL. Shared by the worker's
 * threads. NULL out: NULL. Since 0.2. */
PM_API void *pm_sink_worker_state(const pm_sink *out);

/* ------------------------------------------------------------------------ */
/* One-shot maps. */

/* Start a map of work over input. Forks: with processes > 1 (and an error
 * mode other than PM_ERRORS_INLINE) this forks the workers at this call, then
 * starts the feeder thread; the map owns them, and pm_map_destroy() reaps them.
 * opts: NULL for defaults. input: consumed (see Inputs). destroy(user_data)
 * runs once in this process when the map is destroyed, or before this
 * returns if it fails.
 * @return PM_OK, PM_EINVAL (NULL out/input/work), PM_ENOMEM, PM_ESYS.
 * Thread-safety: any thread. Workers die if this thread exits (see daemon). */
PM_API int pm_map_create(pm_map **out, const pm_options *opts, pm_input *input,
                         pm_work_fn work, void *user_data,
                         pm_destroy_fn destroy);

/* Step the map. On PM_OK, *index is the item's index and *data and *len its
 * result, valid until the next pm_map_next() or pm_map_destroy() on this map.
 * On PM_DONE every result has been delivered. A negative code is a failure:
 * - PM_EITEM (the work function failed the item), PM_EWORKER (the worker
 *   running it died: pm_map_error() names the signal or exit status and the
 *   item; since 0.3 only the item(s) the worker was running fail, with
 *   several threads each one it was running, and the rest of what it held
 *   runs again on another worker),
 *   PM_ETIMEOUT (it ran past the item timeout; since 0.2) or PM_EIO (its
 *   worker sent a corrupt frame and was stopped: the message names the
 *   worker and what was wrong; since 0.2, before which this was PM_EWORKER):
 *   *index is the item. In PM_ERRORS_RETURN mode the map goes on; in the
 *   other modes it is over.
 * - PM_ECANCELED (since 0.2): pm_map_cancel() was called; the map is over.
 * - PM_EINPUT (the input callback failed; *index is the position it was
 *   filling), PM_ESYS, PM_ENOMEM, PM_EINTERNAL: the map is over.
 * On PM_DONE and on failures *data is NULL and *len 0. Any output pointer
 * may be NULL. Once the map is over (after PM_DONE or a
 * final failure), further calls return PM_ESTATE.
 * The message of a failure is in pm_map_error() and pm_last_error().
 * Thread-safety: one thread at a time per map (a second call while one runs
 * returns PM_ESTATE; no result is lost or given twice). A map may move to
 * another thread between calls; that thread's first call costs one
 * membarrier(2). Blocks until a result is ready.
 * Runs the progress callback on the calling thread, and, for a map in the
 * calling process with one thread, the input and work callbacks too. */
PM_API int pm_map_next(pm_map *map, uint64_t *index, const void **data,
                       size_t *len);

/* Message for the last pm_map_next() step ("" after PM_OK or PM_DONE), valid
 * until the next step or destroy. NULL map: "". Never NULL. */
PM_API const char *pm_map_error(const pm_map *map);

/* Stop and free the map. Part-way is allowed: the feeder stops (after the
 * input callback call in progress, if any, returns), a one-shot map's workers
 * are killed and reaped at once without processing the rest, and a pool map
 * waits only for the chunks its workers already hold (at most the in-flight
 * bound) and discards them. No callback runs after this returns. NULL: no-op.
 * Thread-safety: not concurrently with pm_map_next() on the same map. */
PM_API void pm_map_destroy(pm_map *map);

/* Cancel the map from any thread, including while another thread is blocked
 * in pm_map_next() on it (since 0.2). The feeder stops, and the workers are
 * killed and reaped (a pool map's workers that hold chunks are killed and
 * replaced, so the pool stays whole); pm_map_next() then returns PM_ECANCELED
 * (a call blocked in it returns within about a second, even if a work
 * function never returns), and so do later calls. Results already delivered
 * stay valid until the next step. The map must still be destroyed, by one
 * thread, once no pm_map_next() call is running on it. A map running in the
 * calling process (one process and one thread, or PM_ERRORS_INLINE) stops
 * at the next item boundary: a work function that never returns cannot be
 * interrupted there. Idempotent. @return PM_OK, PM_EINVAL (NULL map). */
PM_API int pm_map_cancel(pm_map *map);

/* ------------------------------------------------------------------------ */
/* Workers that start by exec (since 0.3 for everything in this section).
 *
 * Forking copies the caller, which is the library's strength, and a trap for
 * a program whose runtime runs threads of its own (Go, Julia, a JVM, CUDA, a
 * library with hidden threads): in the forked child those threads are gone,
 * and their locks stay taken. In exec mode (pm_options_set_start_method(opts,
 * PM_START_EXEC)) a worker is instead a fresh run of the same program: the
 * library starts /proc/self/exe with the program's own arguments, by
 * posix_spawn (never forking the caller), with exactly the descriptors the
 * worker needs (its channel and activity board at 3, 4 and 5; 0 to 2 are
 * the program's stdio; every other one is closed) and signals at their
 * default actions. A pool's template process starts that way too, and starts
 * the workers (and their replacements) the same way. The program calls
 *
 *     int main(int argc, char **argv)
 *     {
 *         pm_register_work("square", square, NULL);   (or in a constructor)
 *         pm_worker_serve(argc, argv);                 (first thing)
 *         ... the program ...
 *     }
 *
 * In the caller pm_worker_serve() returns at once; in a worker it serves
 * items with the function registered under the map's name and never
 * returns. What a worker sees: nothing is inherited but what the program
 * rebuilds before pm_worker_serve() (its registry, and whatever its static
 * initializers and that code set up) and what travels as items; user_data
 * is the one given to pm_register_work() in the worker's own run; globals
 * have their values of a new run; the caller's other state (what it computed
 * before the map, its open files) is not there. Array inputs are sent as
 * bytes (fork mode sends index ranges). Everything else is as in fork mode:
 * order, chunking, threads, timeouts, retries, recycling, crash reports,
 * cancellation, progress, pools, the in-flight bound, and workers that die
 * with their parent. Background processes (pm_process_start()) and
 * pm_pareval() always fork.
 * A worker that cannot find its work function by name exits with status 68,
 * and the map reports that status with a message that says so. A program
 * whose main does not call pm_worker_serve() first: its runs leave with
 * status 69 at their first map or pool, and the caller's pm_map_create() or
 * pm_pool_create() fails (PM_ESYS) with a message that says so. An
 * exec-mode worker starts with every signal unblocked and at its default
 * action, whatever the caller's mask. */

/* Register a work function under name (1 to 255 printable ASCII bytes, no
 * spaces; a name registered again is replaced). Call it in every run of the
 * program, before pm_worker_serve(), with the same names, so that a worker
 * finds it. Also usable in fork mode (pm_map_create_named()).
 * @return PM_OK, PM_EINVAL (bad name, NULL work), PM_ENOMEM.
 * Thread-safety: any thread. */
PM_API int pm_register_work(const char *name, pm_work_fn work, void *user_data);
/* The same for a chunk work function (see pm_chunk_fn). */
PM_API int pm_register_chunk_work(const char *name, pm_chunk_fn work, void *user_data);
/* Register worker hooks under name: init and exit as for
 * pm_options_set_worker_hooks(), thread_start and thread_stop as for
 * pm_options_set_thread_hooks() (any may be NULL), all with user_data.
 * @return PM_OK, PM_EINVAL, PM_ENOMEM. */
PM_API int pm_register_worker_hooks(const char *name, pm_worker_init_fn init,
                                    pm_worker_exit_fn exit, pm_thread_fn thread_start,
                                    pm_thread_fn thread_stop, void *user_data);
/* Serve items if this process was started as a worker (or a pool's
 * template) by exec mode: then it never returns, and the process leaves with
 * _exit. Under mpirun, in a program linked with libparmapper-mpi, it starts
 * MPI and serves items on ranks 1.. (see parmapper_mpi.h). Otherwise
 * returns 0 at once. Call it first thing in main, after the
 * registrations. argc and argv are main's (the library reads its role from
 * the environment, which it then removes, and passes the program's own
 * arguments to the runs it starts). */
PM_API int pm_worker_serve(int argc, char **argv);
/* PM_START_FORK (default) or PM_START_EXEC, for maps and pools made with
 * these options; in-process maps (one process, PM_ERRORS_INLINE) are not
 * started at all and ignore it. With no call, the environment variable
 * PARMAPPER_START=exec (or fork) chooses. In exec mode pm_map_create() and
 * pm_pool_create() with a function pointer find the function's registered
 * name; a function that is not registered but lies in the program's own
 * executable (not in a shared library, not made at run time) is found by its
 * place there, which the same executable run again shares, and gets
 * user_data NULL in the worker (the caller's pointer means nothing there;
 * its destroy still runs in the caller). The same holds for worker hooks
 * set with pm_options_set_worker_hooks() and pm_options_set_thread_hooks().
 * A function found neither way is PM_EINVAL. @return PM_OK, PM_EINVAL (opts
 * NULL, unknown method). */
PM_API int pm_options_set_start_method(pm_options *opts, int method);
/* The worker hooks to use, by their registered name (NULL or "": none, or
 * those of pm_options_set_worker_hooks()). @return PM_OK, PM_EINVAL,
 * PM_ENOMEM. */
PM_API int pm_options_set_worker_hooks_name(pm_options *opts, const char *name);
/* pm_map_create() / pm_pool_create() with the work function registered
 * under work_name (a pm_work_fn or a pm_chunk_fn), in either start method.
 * @return as they, and PM_EINVAL when the name is not registered. */
PM_API int pm_map_create_named(pm_map **out, const pm_options *opts, pm_input *input,
                               const char *work_name);
PM_API int pm_pool_create_named(pm_pool **out, const pm_options *opts, const char *work_name);

/* Batched steps (since 0.3 for everything to the end of this section). */

/* pm_map_create() with a chunk work function (see pm_chunk_fn); otherwise
 * the same in every respect. */
PM_API int pm_map_create_chunked(pm_map **out, const pm_options *opts, pm_input *input,
                                 pm_chunk_fn work, void *user_data, pm_destroy_fn destroy);

/* Step the map several results at a time: waits until at least one result
 * is ready (or the map ends, or timeout_ms passes; -1: no timeout), then
 * hands over up to max of the results that are ready, without waiting for
 * more. Entry i is item indices[i] with status statuses[i]: PM_OK with its
 * result in data[i], lens[i]; or, in PM_ERRORS_RETURN mode, a failure code
 * with its payload in data[i], lens[i] (NULL, 0 if none) and its message in
 * pm_map_entry_error(map, i). Pointers stay valid until the next step or
 * destroy of this map. The return value says what follows:
 * - PM_OK: *count (>= 1) entries; the map goes on;
 * - PM_DONE: the map is over: every result has been delivered (*count, 0
 *   or more, are the last ones);
 * - PM_EAGAIN: timeout_ms passed with no result (*count 0); call again;
 * - a final failure (the codes of pm_map_next()): the map is over; its last
 *   entry is the failure (its status and index; for PM_ECANCELED, PM_ESYS,
 *   PM_ENOMEM and PM_EINTERNAL index 0), the entries before it are results;
 * - PM_EINVAL (max 0, or a NULL array or count) and PM_ESTATE (as
 *   pm_map_next()): nothing happened, *count 0.
 * The progress callback and bar run once per call, with every result
 * delivered by it counted. In-process maps with one thread run the items in
 * this call, at least one and at most max, until timeout_ms has passed (it
 * does not cut a running item short). Thread-safety: as pm_map_next(); the
 * two may be mixed on one map. */
PM_API int pm_map_next_batch(pm_map *map, size_t max, int timeout_ms, uint64_t *indices,
                             int *statuses, const void **data, size_t *lens, size_t *count);

/* The message of entry i of the last pm_map_next_batch() on map ("" for
 * PM_OK entries, and for i past the last entry or a NULL map). Valid until
 * the next step or destroy. Never NULL. */
PM_API const char *pm_map_entry_error(const pm_map *map, size_t i);

/* The payload of the last pm_map_next() failure (set with
 * pm_sink_set_error_payload()): *data and *len, NULL and 0 if none. Valid
 * until the next step or destroy. @return PM_OK, PM_EINVAL (NULL map). */
PM_API int pm_map_error_payload(const pm_map *map, const void **data, size_t *len);

/* ------------------------------------------------------------------------ */
/* Pools: workers forked once and reused by several maps, one map at a time. */

/* Fork the pool's workers now, with work as their work function. Forks: every
 * map on this pool sees memory as it was at this call. processes, threads and
 * daemon come from opts (NULL: defaults) and are fixed for the pool's life;
 * with one process or PM_ERRORS_INLINE nothing is forked and maps run in the
 * calling process. destroy(user_data) runs when the pool is destroyed (or
 * before this returns if it fails).
 * @return PM_OK, PM_EINVAL, PM_ENOMEM, PM_ESYS.
 * Thread-safety: any thread. Workers die if this thread exits (see daemon). */
PM_API int pm_pool_create(pm_pool **out, const pm_options *opts,
                          pm_work_fn work, void *user_data,
                          pm_destroy_fn destroy);
/* pm_pool_create() with a chunk work function (see pm_chunk_fn). Since 0.3. */
PM_API int pm_pool_create_chunked(pm_pool **out, const pm_options *opts, pm_chunk_fn work,
                                  void *user_data, pm_destroy_fn destroy);

/* Start a map over input on the pool's workers. opts (NULL: the pool's)
 * gives the per-map settings: chunk size, ordered, total, error mode
 * (PM_ERRORS_RAISE or PM_ERRORS_RETURN; INLINE only on an in-process pool),
 * in-flight bound, progress; its processes, threads and daemon are ignored.
 * input: consumed. Does not fork.
 * @return PM_OK, PM_EINVAL, PM_ENOMEM, PM_ESYS, PM_ESTATE (another map of
 * this pool is still alive), PM_EWORKER (every worker of the pool has died).
 * Thread-safety: one thread at a time per pool. */
PM_API int pm_pool_map(pm_map **out, pm_pool *pool, const pm_options *opts,
                       pm_input *input);

/* Number of worker processes the pool has now (0 for an in-process pool;
 * workers that died are not counted). NULL: 0. Thread-safety: as pm_pool_map. */
PM_API uint32_t pm_pool_processes(const pm_pool *pool);

/* Stop the workers (they finish the chunk they are running, then exit; after
 * one second they are killed) and reap them, then free the pool. If a map of
 * the pool is still alive, it stays usable, and the workers are stopped when
 * that map is destroyed. NULL: no-op. Thread-safety: as pm_pool_map. */
PM_API void pm_pool_destroy(pm_pool *pool);

/* Stream workers (since 0.3): a pool whose workers are the far ends of
 * byte streams, say pipes to another program, sockets to another machine,
 * or MPI ranks (libparmapper-mpi is built on these). Stream i is the pair
 * task_fds[i] (the pool writes task frames there) and result_fds[i] (it
 * reads result frames there); at the far end, pm_stream_serve() answers
 * them. The descriptors belong to the pool from this call on, also when it
 * fails: it makes them close-on-exec, moves them above 2 and makes them
 * nonblocking (on their open file description). Each stream is given up to
 * processes x threads of opts items at once (what the far end's pool runs);
 * opts' other settings are the pool's maps' defaults as for pm_pool_create().
 * Maps on the pool (pm_pool_map()) are ordinary pool maps in every respect
 * (order, chunking, the in-flight bound, progress, error modes) but these:
 * item timeouts, retries and recycling are the far end's (its options); a
 * crash, abort or timeout there fails that one item with the far end's
 * message (a PM_EWORKER, PM_ETIMEOUT or PM_EIO entry); a stream that ends
 * while holding items fails them (PM_EWORKER, "which could not run again")
 * and is not replaced; array inputs travel as bytes. destroy(user_data) runs
 * when the pool is freed, after its streams are closed (pm_pool_destroy():
 * a stop frame, then up to one second for the far end to close its side).
 * @return PM_OK, PM_EINVAL (out or an array NULL, count 0 or above
 * PM_MAX_PROCESSES, a negative or closed descriptor), PM_ENOMEM. */
PM_API int pm_pool_create_streams(pm_pool **out, const pm_options *opts, size_t count,
                                  const int *task_fds, const int *result_fds,
                                  pm_destroy_fn destroy, void *user_data);

/* The far end of a stream worker: reads task frames from task_fd and runs
 * their items with the function registered as work_name
 * (pm_register_work() or pm_register_chunk_work()) on a local pool made
 * with opts (processes, threads, start method, item timeout, retries,
 * recycling, hooks; NULL: defaults), writing their results to result_fd,
 * each chunk's in order and streamed as they come. Returns once the stream
 * brings a stop frame or ends and every item it brought is answered; the
 * two descriptors belong to the call and are closed when it returns. A
 * crash or timeout of an item in the local pool fails that item only; the
 * failure's message names the item by the caller's index and starts with
 * where (NULL or "": nothing), e.g. "rank 3 on node7". SIGPIPE is blocked
 * on the calling thread while it serves. Thread-safety: any thread; one
 * call per pair of descriptors.
 * @return PM_OK; PM_EINVAL (bad descriptors, NULL work_name or a name not
 * registered), PM_ENOMEM, PM_ESYS (the local pool could not start); PM_EIO
 * when the stream brought a bad frame or the result stream closed early;
 * a final failure of the local pool (the items it held are answered with
 * it first). */
PM_API int pm_stream_serve(int task_fd, int result_fd, const pm_options *opts,
                           const char *work_name, const char *where);

/* ------------------------------------------------------------------------ */
/* Background processes (the Python tool's ReturnProcess): one function run
 * in a forked process, its result bytes read back on join. Several may run
 * at once. Since: 0.2 for everything in this section. */

typedef struct pm_process pm_process; /* one function in a background process */

/* The function a pm_process runs, in the forked child. Write the result with
 * pm_sink_write() or pm_sink_reserve() (0 bytes is a valid result) and
 * return 0; any other value fails it, with the message given to
 * pm_sink_set_error() or "the process function returned N". A C++ exception
 * escaping it fails it too, with its text. user_data is the fork-time copy:
 * writes to it stay in the child. */
typedef int (*pm_process_fn)(pm_sink *out, void *user_data);

/* Start fn(out, user_data) in a new background process. Forks at this call:
 * the child sees the program's memory as it is now (as a map's workers do),
 * inherits its descriptors as any fork does (but for the library's own of
 * other maps, pools and processes, see the top), runs fn, sends its result back
 * through a pipe and leaves with _exit. The child is forked by a small watcher
 * process (forked from this one), which reaps it and reports its exit status
 * (since 0.3): so a host that ignores SIGCHLD or reaps every child in a
 * handler still gets the real status. While it runs the handle holds three
 * descriptors (CLOEXEC), and the watcher and the child are two processes. opts: only daemon is used (NULL: the
 * defaults, daemon on: the child is killed if this process dies; see
 * pm_options_set_daemon() for the creating thread). destroy(user_data) runs
 * once in this process when the handle is destroyed, or before this returns
 * if it fails.
 * @return PM_OK, PM_EINVAL (out or fn NULL), PM_ENOMEM, PM_ESYS (pipe or
 * fork failed). Thread-safety: any thread; starts are serialized. Since: 0.2. */
PM_API int pm_process_start(pm_process **out, const pm_options *opts,
                            pm_process_fn fn, void *user_data,
                            pm_destroy_fn destroy);

/* Wait for the process's outcome. Blocks until fn has returned and its
 * result has been read (the child writes while this reads, so a result of
 * any size passes), then reaps the child. On PM_OK, *data and *len are the
 * result bytes, valid until pm_process_destroy() (no alignment promise).
 * Otherwise *data is NULL, *len 0, and the message is in pm_process_error()
 * and pm_last_error():
 * - PM_EITEM: fn returned nonzero (its pm_sink_set_error() message);
 * - PM_EWORKER: the process died before its result was complete (a signal,
 *   exit() or _exit() inside fn, killed from outside): the message names the
 *   pid and the signal or exit status;
 * - PM_EIO: its result frame was malformed or cut short without the process
 *   failing;
 * - PM_ENOMEM: the result does not fit in memory (the child is killed).
 * Joining again returns the same outcome and bytes at once. Any output
 * pointer may be NULL.
 * @return as above, or PM_EINVAL (proc NULL).
 * Thread-safety: one thread at a time per process; distinct processes are
 * independent. Since: 0.2. */
PM_API int pm_process_join(pm_process *proc, const void **data, size_t *len);

/* Message of the joined outcome: "" before pm_process_join(), after PM_OK,
 * and for NULL. Valid until pm_process_destroy(). Never NULL.
 * Thread-safety: as pm_process_join. Since: 0.2. */
PM_API const char *pm_process_error(const pm_process *proc);

/* Free the process handle. If it was not joined, the child is killed with
 * SIGKILL at once, whatever it is doing, and reaped; then destroy(user_data)
 * runs. Nothing of it is left: no child, no descriptor. NULL: no-op. A copy
 * of the handle inherited by a fork is left alone (see the top).
 * Thread-safety: not concurrently with pm_process_join() on the same
 * process. Since: 0.2. */
PM_API void pm_process_destroy(pm_process *proc);

/* ------------------------------------------------------------------------ */
/* Parallel evaluation over the rows of an array (the Python tool's ParEval).
 * Since: 0.2 for everything in this section. */

/* A function of rows: reads rows x[0 .. rows*ndim) (row-major, ndim values
 * a row) and writes rows*out_width values to y (row-major, out_width a
 * row), output row i for input row i. Return 0 for success; any other value
 * fails the chunk. Runs in a worker process (in the calling process with one
 * process or PM_ERRORS_INLINE), on several threads at once when threads > 1
 * (then it must be thread-safe). x points into the caller's array as it was
 * at the fork (NULL if the caller passed NULL, when ndim is 0); y is a
 * buffer of the library, aligned for double and valid during the call (it
 * may be NULL when out_width is 0). user_data is the fork-time copy. */
typedef int (*pm_rows_fn)(const double *x, size_t rows, size_t ndim, double *y,
                          size_t out_width, void *user_data);

/* From inside a pm_rows_fn, before it returns nonzero: the message its
 * chunk's failure carries (copied), instead of "the row function returned
 * N". The last call wins. @return PM_OK; PM_EINVAL (message NULL);
 * PM_ESTATE (not called from a row function that pm_pareval() is running
 * on this thread). Since: 0.2. */
PM_API int pm_pareval_set_error(const char *message);

/* Evaluate fn over the n rows of x in parallel, in chunks of consecutive
 * rows, and gather the output rows into y in order: for a function whose
 * output rows depend only on their own input rows, y ends up as one call
 * fn(x, n, ndim, y, out_width, user_data) would leave it.
 * x: n*ndim doubles, row-major (NULL allowed when n*ndim is 0). y: room for
 * n*out_width doubles, row-major (NULL allowed when n*out_width is 0). y is
 * fully written only on PM_OK; after a failure it may be partly written.
 * The split (0 means unset for n_chunks, n_eval and n_min):
 * - the number of chunks k is n_chunks if set; else ceil(n / n_eval) if
 *   n_eval (rows per chunk) is set; else processes x threads of opts, one
 *   chunk per worker thread (one per process with the default one thread).
 *   Setting both n_chunks and n_eval is PM_EINVAL;
 * - n_min (minimum rows per chunk), if set, lowers k to n / n_min (rounded
 *   down, at least 1), so that no chunk has fewer than n_min rows unless n
 *   itself is smaller (then there is one chunk of all rows). It wins over
 *   n_chunks and n_eval;
 * - k is at most n (no empty chunk); for n = 0 fn is not called at all;
 * - chunk sizes differ by at most one: the first n mod k chunks have
 *   n / k + 1 rows, the others n / k (as numpy.array_split). So with n_eval
 *   no chunk has more than n_eval rows, unless n_min lowered k.
 * E.g. n = 10: n_eval 4 gives 4, 3, 3 rows; n_chunks 4 gives 3, 3, 2, 2;
 * n_chunks 4 with n_min 3 gives 4, 3, 3.
 * opts (NULL: defaults): processes, threads, daemon, and the progress
 * callback and bar (which count chunks) are used; chunk size, order, total
 * and in-flight bound are not. PM_ERRORS_INLINE runs every chunk in the
 * calling process, like one process does. When several chunks fail, in any
 * mode, the one reported is the lowest-numbered, whatever order they
 * finished in (a change: it used to be the first to finish), and
 * pm_pareval() returns once every chunk before it is done.
 * Forks, unless with one process or PM_ERRORS_INLINE: the workers see memory,
 * x included, as it is at this call, and are reaped before this returns.
 * @return PM_OK; PM_EINVAL (fn NULL, x or y NULL with a size, both n_chunks
 * and n_eval set, or n*ndim or n*out_width doubles overflowing size_t);
 * PM_EITEM (fn returned nonzero for a chunk); PM_EWORKER (a worker died);
 * PM_ENOMEM, PM_ESYS, PM_EIO. After PM_EITEM, PM_EWORKER or a chunk's PM_EIO
 * (its worker sent a bad frame) pm_last_error() names the chunk's rows and
 * what went wrong ("rows 10 to 19 (chunk 2 of 4): the row function returned
 * 1", or the pm_pareval_set_error() message).
 * Thread-safety: any thread; blocks until every chunk is done. Since: 0.2. */
PM_API int pm_pareval(const pm_options *opts, pm_rows_fn fn, void *user_data,
                      const double *x, size_t n, size_t ndim,
                      double *y, size_t out_width,
                      size_t n_chunks, size_t n_eval, size_t n_min);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PARMAPPER_H */
