// The C boundary: handle types, argument checks, status codes and the
// exception barrier. Every exported function either returns a status or
// cannot fail; no C++ exception crosses this file.
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <utility>

#include "asymmetric_fence.hpp"
#include "child_process.hpp"
#include "registry.hpp"
#include "worker_serve.hpp"
#include "capi_internal.hpp"
#include "errors.hpp"
#include "input_source.hpp"
#include "item_runner.hpp"
#include "logging.hpp"
#include "map_engine.hpp"
#include "parmapper.h"
#include "progress_bar.hpp"
#include "settings.hpp"
#include "sys_io.hpp"
#include "worker_pool.hpp"

namespace {

using pm::core::error;
using pm::core::map_settings;
using pm::core::work_spec;

thread_local std::string last_error_message;

int fail(int status, const char* message) noexcept {
    try {
        last_error_message = message;
    } catch (...) {
        last_error_message.clear();
    }
    PM_LOG(debug, "{}: {}", pm_status_str(status), message);
    return status;
}

// Runs body, turning any exception into a status and a recorded message.
template <class F>
int guard(F&& body) noexcept {
    try {
        return body();
    } catch (const error& e) {
        return fail(e.status(), e.what());
    } catch (const std::bad_alloc&) {
        return fail(PM_ENOMEM, "out of memory");
    } catch (const std::exception& e) {
        return fail(PM_EINTERNAL, e.what());
    } catch (...) {
        return fail(PM_EINTERNAL, "unknown exception");
    }
}

// Calls destroy(user_data) exactly once, when the last owner lets go.
struct user_data_owner {
    user_data_owner(void* ud, pm_destroy_fn fn) noexcept : user_data(ud), destroy(fn) {}
    user_data_owner(const user_data_owner&) = delete;
    user_data_owner& operator=(const user_data_owner&) = delete;
    void* user_data;
    pm_destroy_fn destroy;
    ~user_data_owner() {
        if (destroy)
            destroy(user_data);
    }
};

// Takes charge of a (user_data, destroy) pair at once, so that it is released
// even when the call that registered it fails before it gets further.
std::shared_ptr<user_data_owner> own_user_data(void* user_data, pm_destroy_fn destroy) {
    try {
        return std::make_shared<user_data_owner>(user_data, destroy);
    } catch (...) {
        if (destroy)
            destroy(user_data);
        throw;
    }
}

bool runs_in_process(const map_settings& s) {
    return s.processes == 1 || s.error_mode == PM_ERRORS_INLINE;
}

map_settings resolved(const map_settings& s) {
    map_settings r = s;
    if (r.processes == 0)
        r.processes = std::min(pm::core::online_cpus(), PM_MAX_PROCESSES);
    if (r.start_method < 0) {
        const char* start = std::getenv("PARMAPPER_START");
        r.start_method = start && std::strcmp(start, "exec") == 0 ? PM_START_EXEC : PM_START_FORK;
    }
    return r;
}

}  // namespace

struct pm_input {
    explicit pm_input(pm::core::input_source&& s) : source(std::move(s)) {}
    pm::core::input_source source;
};

// What a pool's maps share; kept alive by the pool handle and by its map.
struct pool_core {
    map_settings settings;
    work_spec work;
    std::shared_ptr<user_data_owner> owner;
    std::shared_ptr<pm::core::worker_pool> workers;  // null: maps run in-process
    bool in_use = false;
    uint64_t incarnation = pm::core::process_incarnation();
};

struct pm_pool {
    std::shared_ptr<pool_core> core;
};

struct pm_map {
    // Declared before engine so they outlive it: the engine's workers and
    // threads may still use user_data while it shuts down.
    std::shared_ptr<user_data_owner> owner;
    std::shared_ptr<pool_core> pool;
    pm_progress_fn progress = nullptr;
    void* progress_user_data = nullptr;
    uint64_t delivered = 0;
    bool over = false;
    std::string message;
    // The last step's failure payload (pm_map_next) and the last batch's
    // entries' messages (pm_map_next_batch).
    std::string payload;
    std::vector<std::string> entry_messages;
    std::vector<pm::core::map_entry> entries;  // reused from step to step
    // entries[cached_next, cached_end): results pm_map_next() took ahead
    // from the chunk of its last step, handed out one per call.
    size_t cached_next = 0;
    size_t cached_end = 0;
    std::unique_ptr<pm::core::map_engine> engine;
    // pm_map_cancel() may come from another thread while one is in
    // pm_map_next(); pm_map_destroy() waits for that call to return. A step
    // runs once per result, so it takes no lock unless a destroyer waits:
    // in_next is claimed with one compare-exchange and released with a
    // plain store (see pm_map_next() and pm_map_destroy()).
    std::atomic<bool> cancelled{false};
    std::atomic<bool> in_next{false};
    // The thread in pm_map_next(), while in_next; cleared before in_next is,
    // so a thread that stepped before never mistakes a new step for its own.
    std::atomic<pthread_t> stepper{};
    std::atomic<bool> destroyer_waits{false};
    // next_cached()'s claim, for fast_thread (the thread that claimed the
    // last full step; at first the creating one): a plain store of fast_in,
    // no locked instruction, as it runs once per result. Any other thread
    // that claims a step, or destroys the map, first raises intruders and
    // runs heavy_fence() (asymmetric_fence.hpp), then looks at fast_in: so
    // either it sees the fast step and keeps off, or the fast step sees it
    // and takes the full path, whose claim is in_next's compare-exchange.
    // Without heavy_fence() (fast_claims false) next_cached() claims in_next.
    const bool fast_claims = pm::core::heavy_fence_ready();
    std::atomic<bool> fast_in{false};
    std::atomic<uint32_t> intruders{0};
    std::atomic<pthread_t> fast_thread{pthread_self()};
    std::mutex gate;
    std::condition_variable left;
    std::atomic<bool> destroy_deferred{false};  // destroyed by a callback of its own step
    uint64_t incarnation = pm::core::process_incarnation();
    std::unique_ptr<pm::core::progress_bar> bar;  // null unless asked for

    ~pm_map() {
        // The bar's last line comes after the workers are gone, so it is last.
        const uint64_t total = bar && engine ? engine->total() : 0;
        engine.reset();
        if (bar)
            bar->finish(delivered, total, pm::core::progress_end::stopped);
        if (pool)
            pool->in_use = false;
    }
};

namespace {

std::unique_ptr<pm::core::map_engine> start_engine(const map_settings& s, const work_spec& work,
                                                   pm::core::input_source&& source,
                                                   const std::shared_ptr<pool_core>& pool) {
    if (pool && pool->workers)
        return pm::core::start_pool_map(pool->workers, false, s, std::move(source));
    if (runs_in_process(s) && s.threads == 1)
        return pm::core::start_direct_map(s, work, std::move(source));
    // A one-shot map's workers are forked (or, in-process, run) with the
    // input in their memory: an array input then travels as index ranges.
    auto workers = std::make_shared<pm::core::worker_pool>(s, work, runs_in_process(s),
                                                           source.inherited());
    return pm::core::start_pool_map(std::move(workers), true, s, std::move(source));
}

std::unique_ptr<pm::core::progress_bar> make_bar(const map_settings& s) {
    if (!s.progress_bar)
        return nullptr;
    return std::make_unique<pm::core::progress_bar>(s.progress_label, STDERR_FILENO);
}

}  // namespace

/* ---- version and errors ------------------------------------------------ */

const char* pm_version_string(void) { return PM_VERSION_STRING; }

uint32_t pm_version_number(void) { return PM_VERSION_NUMBER; }

const char* pm_status_str(int status) {
    switch (status) {
    case PM_OK: return "success";
    case PM_DONE: return "no more results";
    case PM_EINVAL: return "invalid argument";
    case PM_ENOMEM: return "out of memory";
    case PM_ESTATE: return "call not allowed in the current state";
    case PM_EIO: return "bad data on a worker channel";
    case PM_EWORKER: return "a worker process died";
    case PM_ECANCELED: return "cancelled";
    case PM_EINTERNAL: return "internal error in libparmapper";
    case PM_EITEM: return "the work function failed an item";
    case PM_EINPUT: return "the input callback failed";
    case PM_ESYS: return "a system call failed";
    case PM_ETIMEOUT: return "an item ran past the item timeout";
    case PM_EAGAIN: return "nothing yet: the wait timed out";
    default: return "unknown status code";
    }
}

const char* pm_last_error(void) { return last_error_message.c_str(); }

/* ---- options ----------------------------------------------------------- */

int pm_options_create(pm_options** out) {
    if (!out)
        return fail(PM_EINVAL, "pm_options_create: out is NULL");
    *out = nullptr;
    return guard([&]() -> int {
        *out = new pm_options();
        return PM_OK;
    });
}

void pm_options_destroy(pm_options* opts) { delete opts; }

#define PM_CHECK_OPTS(fn)                                                      \
    if (!opts)                                                                 \
        return fail(PM_EINVAL, fn ": opts is NULL");

int pm_options_set_processes(pm_options* opts, uint32_t n) {
    PM_CHECK_OPTS("pm_options_set_processes");
    if (n > PM_MAX_PROCESSES)
        return fail(PM_EINVAL, "pm_options_set_processes: more than PM_MAX_PROCESSES");
    opts->settings.processes = n;
    return PM_OK;
}

int pm_options_set_threads(pm_options* opts, uint32_t n) {
    PM_CHECK_OPTS("pm_options_set_threads");
    if (n == 0 || n > PM_MAX_THREADS)
        return fail(PM_EINVAL, "pm_options_set_threads: need 1 to PM_MAX_THREADS threads");
    opts->settings.threads = n;
    return PM_OK;
}

int pm_options_set_chunk_size(pm_options* opts, size_t n) {
    PM_CHECK_OPTS("pm_options_set_chunk_size");
    if (n > PM_MAX_CHUNK_SIZE)
        return fail(PM_EINVAL, "pm_options_set_chunk_size: more than PM_MAX_CHUNK_SIZE");
    opts->settings.chunk_size = n;
    return PM_OK;
}

int pm_options_set_ordered(pm_options* opts, int ordered) {
    PM_CHECK_OPTS("pm_options_set_ordered");
    opts->settings.ordered = ordered != 0;
    return PM_OK;
}

int pm_options_set_total(pm_options* opts, uint64_t total) {
    PM_CHECK_OPTS("pm_options_set_total");
    opts->settings.total_hint = total;
    return PM_OK;
}

int pm_options_set_error_mode(pm_options* opts, int mode) {
    PM_CHECK_OPTS("pm_options_set_error_mode");
    if (mode != PM_ERRORS_RAISE && mode != PM_ERRORS_RETURN && mode != PM_ERRORS_INLINE)
        return fail(PM_EINVAL, "pm_options_set_error_mode: unknown mode");
    opts->settings.error_mode = mode;
    return PM_OK;
}

int pm_options_set_max_in_flight(pm_options* opts, size_t n) {
    PM_CHECK_OPTS("pm_options_set_max_in_flight");
    if (n > PM_MAX_IN_FLIGHT)
        return fail(PM_EINVAL, "pm_options_set_max_in_flight: more than PM_MAX_IN_FLIGHT");
    opts->settings.max_in_flight = n;
    return PM_OK;
}

int pm_options_set_daemon(pm_options* opts, int daemon) {
    PM_CHECK_OPTS("pm_options_set_daemon");
    opts->settings.daemon = daemon != 0;
    return PM_OK;
}

int pm_options_set_progress(pm_options* opts, pm_progress_fn fn, void* user_data) {
    PM_CHECK_OPTS("pm_options_set_progress");
    opts->settings.progress = fn;
    opts->settings.progress_user_data = user_data;
    return PM_OK;
}

int pm_options_set_item_timeout(pm_options* opts, uint64_t ms) {
    PM_CHECK_OPTS("pm_options_set_item_timeout");
    if (ms > UINT32_MAX)
        return fail(PM_EINVAL, "pm_options_set_item_timeout: more than 2^32 - 1 ms");
    opts->settings.item_timeout_ms = ms;
    return PM_OK;
}

int pm_options_set_retries(pm_options* opts, uint32_t n) {
    PM_CHECK_OPTS("pm_options_set_retries");
    if (n > 1000)
        return fail(PM_EINVAL, "pm_options_set_retries: more than 1000");
    opts->settings.retries = n;
    return PM_OK;
}

int pm_options_set_max_items_per_worker(pm_options* opts, uint64_t n) {
    PM_CHECK_OPTS("pm_options_set_max_items_per_worker");
    opts->settings.max_items_per_worker = n;
    return PM_OK;
}

int pm_options_set_max_worker_rss(pm_options* opts, uint64_t bytes) {
    PM_CHECK_OPTS("pm_options_set_max_worker_rss");
    opts->settings.max_worker_rss = bytes;
    return PM_OK;
}

int pm_options_set_worker_hooks(pm_options* opts, pm_worker_init_fn init, pm_worker_exit_fn exit,
                                void* user_data) {
    PM_CHECK_OPTS("pm_options_set_worker_hooks");
    opts->settings.worker_init = init;
    opts->settings.worker_exit = exit;
    opts->settings.hooks_user_data = user_data;
    return PM_OK;
}

int pm_options_set_fork_hooks(pm_options* opts, pm_fork_fn prepare, pm_fork_fn parent,
                              pm_fork_fn child, void* user_data) {
    PM_CHECK_OPTS("pm_options_set_fork_hooks");
    opts->settings.fork_prepare = prepare;
    opts->settings.fork_parent = parent;
    opts->settings.fork_child = child;
    opts->settings.fork_user_data = user_data;
    return PM_OK;
}

int pm_options_set_thread_hooks(pm_options* opts, pm_thread_fn start, pm_thread_fn stop,
                                void* user_data) {
    PM_CHECK_OPTS("pm_options_set_thread_hooks");
    opts->settings.thread_start = start;
    opts->settings.thread_stop = stop;
    opts->settings.thread_user_data = user_data;
    return PM_OK;
}

int pm_options_set_error_buffer(pm_options* opts, char* buf, size_t len) {
    PM_CHECK_OPTS("pm_options_set_error_buffer");
    opts->settings.error_buffer = len ? buf : nullptr;
    opts->settings.error_buffer_len = buf ? len : 0;
    if (buf && len)
        buf[0] = '\0';
    return PM_OK;
}

int pm_options_set_start_method(pm_options* opts, int method) {
    PM_CHECK_OPTS("pm_options_set_start_method");
    if (method != PM_START_FORK && method != PM_START_EXEC)
        return fail(PM_EINVAL, "pm_options_set_start_method: unknown method");
    opts->settings.start_method = method;
    return PM_OK;
}

int pm_options_set_worker_hooks_name(pm_options* opts, const char* name) {
    PM_CHECK_OPTS("pm_options_set_worker_hooks_name");
    return guard([&]() -> int {
        std::string n = name ? name : "";
        if (!n.empty()) {
            const std::string problem = pm::core::check_name(n);
            if (!problem.empty())
                return fail(PM_EINVAL, ("pm_options_set_worker_hooks_name: " + problem).c_str());
        }
        opts->settings.hooks_name = std::move(n);
        return PM_OK;
    });
}

int pm_options_set_reset_crash_signals(pm_options* opts, int reset) {
    PM_CHECK_OPTS("pm_options_set_reset_crash_signals");
    opts->settings.reset_crash_signals = reset != 0;
    return PM_OK;
}

int pm_options_set_progress_bar(pm_options* opts, int enable, const char* label) {
    PM_CHECK_OPTS("pm_options_set_progress_bar");
    return guard([&]() -> int {
        std::string copy = enable ? pm::core::sanitize_label(label) : std::string();
        opts->settings.progress_bar = enable != 0;
        opts->settings.progress_label = std::move(copy);
        return PM_OK;
    });
}

/* ---- inputs ------------------------------------------------------------ */

int pm_input_create_pull(pm_input** out, pm_input_fn fn, void* user_data,
                         pm_destroy_fn destroy) {
    if (out)
        *out = nullptr;
    if (!out || !fn) {
        if (destroy)
            destroy(user_data);
        return fail(PM_EINVAL, "pm_input_create_pull: out or fn is NULL");
    }
    // The source owns destroy from here on, and runs it if new fails.
    auto source = pm::core::input_source::pull(fn, user_data, destroy);
    return guard([&]() -> int {
        *out = new pm_input(std::move(source));
        return PM_OK;
    });
}

int pm_input_create_array(pm_input** out, const void* base, size_t record_size, size_t count) {
    if (out)
        *out = nullptr;
    if (!out)
        return fail(PM_EINVAL, "pm_input_create_array: out is NULL");
    if (!base && record_size && count)
        return fail(PM_EINVAL, "pm_input_create_array: base is NULL");
    if (record_size && count > SIZE_MAX / record_size)
        return fail(PM_EINVAL, "pm_input_create_array: record_size * count overflows");
    return guard([&]() -> int {
        *out = new pm_input(pm::core::input_source::array(base, record_size, count));
        return PM_OK;
    });
}

int pm_input_create_records(pm_input** out, const void* const* items, const size_t* lens,
                            size_t count) {
    if (out)
        *out = nullptr;
    if (!out)
        return fail(PM_EINVAL, "pm_input_create_records: out is NULL");
    if (count && (!items || !lens))
        return fail(PM_EINVAL, "pm_input_create_records: items or lens is NULL");
    for (size_t i = 0; i < count; ++i)
        if (!items[i] && lens[i])
            return fail(PM_EINVAL, "pm_input_create_records: an item is NULL with a length");
    return guard([&]() -> int {
        *out = new pm_input(pm::core::input_source::records(items, lens, count));
        return PM_OK;
    });
}

void pm_input_destroy(pm_input* input) { delete input; }

int pm_feed_push(pm_feed* feed, const void* data, size_t len) {
    if (!feed || !feed->builder)
        return fail(PM_EINVAL, "pm_feed_push: feed is NULL");
    if (!data && len)
        return fail(PM_EINVAL, "pm_feed_push: data is NULL with a length");
    return guard([&]() -> int {
        feed->builder->push(data, len);
        return PM_OK;
    });
}

int pm_feed_push_packed(pm_feed* feed, const void* data, const size_t* lens, size_t count) {
    if (!feed || !feed->builder || (count && !lens))
        return fail(PM_EINVAL, "pm_feed_push_packed: feed or lens is NULL");
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
        if (lens[i] > SIZE_MAX - total)
            return fail(PM_EINVAL, "pm_feed_push_packed: the lengths overflow");
        total += lens[i];
    }
    if (!data && total)
        return fail(PM_EINVAL, "pm_feed_push_packed: data is NULL with a length");
    return guard([&]() -> int {
        const char* p = static_cast<const char*>(data);
        for (size_t i = 0; i < count; ++i) {
            feed->builder->push(p, lens[i]);
            p += lens[i];
        }
        return PM_OK;
    });
}

size_t pm_feed_wanted(const pm_feed* feed) {
    if (!feed || !feed->builder)
        return 0;
    // What is still wanted: a callback called again in the same fill, or
    // pushing in several steps, must not count its earlier pushes twice.
    const size_t pushed = feed->builder->count();
    return feed->wanted > pushed ? feed->wanted - pushed : 0;
}

int pm_feed_set_error(pm_feed* feed, const char* message) {
    if (!feed || !message)
        return fail(PM_EINVAL, "pm_feed_set_error: feed or message is NULL");
    return guard([&]() -> int {
        feed->error = message;
        return PM_OK;
    });
}

/* ---- sinks ------------------------------------------------------------- */

namespace {

// pm_sink_write() when the bytes do not fit the frame as it is, or an
// argument is wrong.
[[gnu::noinline]] int sink_write_growing(pm_sink* out, const void* data, size_t len) {
    if (!out || !out->builder)
        return fail(PM_EINVAL, "pm_sink_write: sink is NULL");
    if (!data && len)
        return fail(PM_EINVAL, "pm_sink_write: data is NULL with a length");
    return guard([&]() -> int {
        char* to = out->builder->append(len);
        if (len)
            std::memcpy(to, data, len);
        return PM_OK;
    });
}

}  // namespace

int pm_sink_write(pm_sink* out, const void* data, size_t len) {
    // Once per item: the common case (room in the frame) is a few
    // instructions, with no frame of its own and, for the most common sizes,
    // no call to memcpy.
    if (out && out->builder && data) {
        if (char* to = out->builder->append_if_room(len)) {
            if (len == 8)
                std::memcpy(to, data, 8);
            else if (len == 4)
                std::memcpy(to, data, 4);
            else
                std::memcpy(to, data, len);
            return PM_OK;
        }
    }
    return sink_write_growing(out, data, len);
}

int pm_sink_reserve(pm_sink* out, size_t len, void** buf) {
    if (buf)
        *buf = nullptr;
    if (!out || !out->builder || !buf)
        return fail(PM_EINVAL, "pm_sink_reserve: sink or buf is NULL");
    return guard([&]() -> int {
        *buf = out->builder->append(len);
        return PM_OK;
    });
}

int pm_sink_set_error(pm_sink* out, const char* message) {
    if (!out || !message)
        return fail(PM_EINVAL, "pm_sink_set_error: sink or message is NULL");
    return guard([&]() -> int {
        out->error = message;
        out->error_set = true;
        return PM_OK;
    });
}

int pm_sink_set_error_payload(pm_sink* out, const void* data, size_t len) {
    if (!out || (!data && len))
        return fail(PM_EINVAL, "pm_sink_set_error_payload: sink is NULL, or data with a length");
    return guard([&]() -> int {
        out->payload.assign(static_cast<const char*>(data), len);
        return PM_OK;
    });
}

int pm_sink_end_item(pm_sink* out, int failed) {
    if (!out || !out->builder)
        return fail(PM_EINVAL, "pm_sink_end_item: sink is NULL");
    return guard([&]() -> int {
        if (!pm::core::end_chunk_item(out, failed != 0))
            return fail(PM_EINVAL, "pm_sink_end_item: not in a chunk function, or every item "
                                   "of the chunk is ended already");
        return PM_OK;
    });
}

uint32_t pm_sink_worker_id(const pm_sink* out) {
    return out && out->context ? out->context->worker_id : 0;
}

void* pm_sink_worker_state(const pm_sink* out) {
    return out && out->context ? out->context->state : nullptr;
}

/* ---- maps -------------------------------------------------------------- */

namespace {

// The work function and hooks as the workers call them: given, or found by
// name in the registry; in exec mode with the names the workers find them
// by. Throws PM_EINVAL for what cannot be found.
work_spec make_work_spec(const map_settings& s, pm_work_fn work, pm_chunk_fn chunk,
                         void* user_data, const char* work_name) {
    const bool exec = s.start_method == PM_START_EXEC && !runs_in_process(s);
    work_spec spec;
    spec.fn = work;
    spec.user_data = user_data;
    spec.init = s.worker_init;
    spec.exit = s.worker_exit;
    spec.hooks_user_data = s.hooks_user_data;
    spec.chunk_fn = chunk;
    spec.thread_start = s.thread_start;
    spec.thread_stop = s.thread_stop;
    spec.thread_user_data = s.thread_user_data;
    if (work_name) {
        pm::core::registered_work w;
        if (!pm::core::find_work(work_name, &w))
            throw error(PM_EINVAL, std::string("no work function is registered as \"") +
                                       work_name + "\" (pm_register_work())");
        spec.fn = w.fn;
        spec.chunk_fn = w.chunk_fn;
        spec.user_data = w.user_data;
        spec.name = work_name;
    } else if (exec) {
        // Registered, or found where it lies in the executable.
        // (A function found by its address gets user_data NULL in the
        // worker: the caller's pointer means nothing there.)
        spec.name = pm::core::name_of_work(work, chunk);
        if (spec.name.empty())
            spec.name = pm::core::executable_work_name(work, chunk);
        if (spec.name.empty())
            throw error(PM_EINVAL, "in exec mode a worker finds its work function by name: "
                                   "register it with pm_register_work() (in every run of the "
                                   "program, before pm_worker_serve()); only functions of the "
                                   "program's executable are found without");
    }
    if (!s.hooks_name.empty()) {
        pm::core::registered_hooks h;
        if (!pm::core::find_hooks(s.hooks_name, &h))
            throw error(PM_EINVAL, "no worker hooks are registered as \"" + s.hooks_name +
                                       "\" (pm_register_worker_hooks())");
        spec.init = h.init;
        spec.exit = h.exit;
        spec.hooks_user_data = h.user_data;
        spec.thread_start = h.thread_start;
        spec.thread_stop = h.thread_stop;
        spec.thread_user_data = h.user_data;
        spec.hooks_name = s.hooks_name;
    } else if (exec && (s.worker_init || s.worker_exit || s.thread_start || s.thread_stop)) {
        spec.hooks_name = pm::core::name_of_hooks(s.worker_init, s.worker_exit);
        if (spec.hooks_name.empty())
            spec.hooks_name = pm::core::executable_hooks_name(s.worker_init, s.worker_exit,
                                                              s.thread_start, s.thread_stop);
        if (spec.hooks_name.empty())
            throw error(PM_EINVAL, "in exec mode worker hooks must be registered with "
                                   "pm_register_worker_hooks() (only functions of the "
                                   "program's executable are found without)");
    }
    return spec;
}

}  // namespace

// A creating call with these options failed: its message goes to the
// options' error buffer too (pm_options_set_error_buffer()).
int pm::capi::report_to_buffer(const pm_options* opts, int status) noexcept {
    if (status != PM_OK && opts && opts->settings.error_buffer) {
        const std::string& m = last_error_message;
        const size_t n = std::min(m.size(), opts->settings.error_buffer_len - 1);
        std::memcpy(opts->settings.error_buffer, m.data(), n);
        opts->settings.error_buffer[n] = '\0';
    }
    return status;
}

namespace {

using pm::capi::report_to_buffer;

int create_map(pm_map** out, const pm_options* opts, pm_input* input, pm_work_fn work,
               pm_chunk_fn chunk, void* user_data, pm_destroy_fn destroy, const char* fn,
               const char* work_name = nullptr) {
    pm::core::refuse_if_started_as_worker();
    // Both the input and user_data are ours from here, whatever happens.
    std::unique_ptr<pm_input> in(input);
    if (out)
        *out = nullptr;
    return report_to_buffer(opts, guard([&]() -> int {
        auto owner = own_user_data(user_data, destroy);
        if (!out || !input || (!work && !chunk && !work_name))
            return fail(PM_EINVAL, (std::string(fn) + ": out, input or work is NULL").c_str());
        map_settings s = resolved(opts ? opts->settings : map_settings{});
        work_spec spec = make_work_spec(s, work, chunk, user_data, work_name);
        auto map = std::make_unique<pm_map>();
        map->owner = std::move(owner);
        map->progress = s.progress;
        map->progress_user_data = s.progress_user_data;
        map->engine = start_engine(s, spec, std::move(in->source), nullptr);
        map->bar = make_bar(s);
        *out = map.release();
        return PM_OK;
    }));
}

}  // namespace

int pm_map_create(pm_map** out, const pm_options* opts, pm_input* input, pm_work_fn work,
                  void* user_data, pm_destroy_fn destroy) {
    return create_map(out, opts, input, work, nullptr, user_data, destroy, "pm_map_create");
}

int pm_map_create_chunked(pm_map** out, const pm_options* opts, pm_input* input,
                          pm_chunk_fn work, void* user_data, pm_destroy_fn destroy) {
    return create_map(out, opts, input, nullptr, work, user_data, destroy,
                      "pm_map_create_chunked");
}

int pm_map_create_named(pm_map** out, const pm_options* opts, pm_input* input,
                        const char* work_name) {
    if (!work_name) {
        delete input;
        if (out)
            *out = nullptr;
        return report_to_buffer(opts, fail(PM_EINVAL, "pm_map_create_named: work_name is NULL"));
    }
    return create_map(out, opts, input, nullptr, nullptr, nullptr, nullptr,
                      "pm_map_create_named", work_name);
}

namespace {

// A handle inherited by a worker process: its threads and descriptors belong
// to the parent.
bool inherited(uint64_t incarnation) {
    return incarnation != pm::core::process_incarnation();
}

// Is this thread inside pm_map_next() on map (a progress callback of its
// step, perhaps nested in a step of another map)?
bool stepped_by_this_thread(const pm_map* map) {
    return map->in_next.load(std::memory_order_acquire) &&
           pthread_equal(map->stepper.load(std::memory_order_relaxed), pthread_self());
}

// Counts n results as delivered; runs the progress callback and bar once.
void note_delivered(pm_map* map, size_t n) noexcept {
    if (!n)
        return;
    map->delivered += n;
    if (map->progress)
        map->progress(map->delivered, map->engine->total(), map->progress_user_data);
    if (map->bar) {
        try {
            map->bar->update(map->delivered, [map] { return map->engine->total(); });
        } catch (...) {
            // A bar that cannot draw (out of memory) loses its line, not a result.
        }
    }
}

// How many results pm_map_next() takes ahead from its step's chunk: they
// cost neither credit nor memory (see map_engine::take_more_of_chunk()).
constexpr size_t cached_results = 64;

// Hands out up to max results taken ahead (none if the map was cancelled:
// the next step says so). Returns how many; *first is the first of them.
size_t take_cached(pm_map* map, size_t max, const pm::core::map_entry** first) noexcept {
    if (map->cached_next >= map->cached_end || map->cancelled.load())
        return 0;
    const size_t n = std::min(max, map->cached_end - map->cached_next);
    *first = &map->entries[map->cached_next];
    map->cached_next += n;
    note_delivered(map, n);
    return n;
}

// Steps the engine for up to max entries (into map->entries); deadline_ns
// as for map_engine::next_batch(). Returns its status; *count entries.
// Counts the delivered results, runs the progress callback and bar once,
// and marks the map over when it is.
int step_map(pm_map* map, size_t max, uint64_t deadline_ns, size_t* count) {
    *count = 0;
    if (map->cancelled.load()) {
        // Cancelled from another thread: the end, as the engine would say it.
        map->over = true;
        map->message = "the map was cancelled";
        if (map->entries.empty())
            map->entries.resize(1);
        map->entries[0] = pm::core::map_entry{};
        map->entries[0].status = PM_ECANCELED;
        map->entries[0].message = map->message.data();
        map->entries[0].message_len = map->message.size();
        *count = 1;
        return fail(PM_ECANCELED, map->message.c_str());
    }
    if (map->over) {
        map->message = "the map is over: every result was delivered or it failed";
        return fail(PM_ESTATE, map->message.c_str());
    }
    bool stepped = false;  // else the engine threw, and the map cannot go on
    int status = guard([&]() -> int {
        map->message.clear();
        if (map->entries.size() < max)
            map->entries.resize(max);
        const int rc = map->engine->next_batch(map->entries.data(), max, deadline_ns, count,
                                               map->message);
        stepped = true;
        const bool final = rc != PM_OK && rc != PM_EAGAIN;
        if (final)
            map->over = true;
        // Every entry but a final failure counts as delivered.
        const size_t results = *count - (rc < 0 && rc != PM_EAGAIN && *count ? 1 : 0);
        note_delivered(map, results);
        if (rc < 0 && rc != PM_EAGAIN)
            fail(rc, map->message.c_str());
        return rc;
    });
    if (status < 0 && status != PM_EAGAIN && !stepped)
        map->over = true;  // the engine threw: the map cannot go on
    if (map->over && map->bar)
        map->bar->finish(map->delivered, map->engine->total(),
                         status == PM_DONE ? pm::core::progress_end::done
                                           : pm::core::progress_end::failed);
    return status;
}

// Does this thread have to keep off fast_thread's fast steps? If so, raises
// intruders (the caller lowers it, or not) and makes sure that every fast
// step from now on sees it; a fast step already running shows in fast_in.
bool announce_intruder(pm_map* map) noexcept {
    if (!map->fast_claims ||
        pthread_equal(map->fast_thread.load(std::memory_order_relaxed), pthread_self()))
        return false;
    map->intruders.fetch_add(1);
    if (!pm::core::heavy_fence()) {
        // Not seen after heavy_fence_ready() said yes: a fast step of
        // ~10 ns, if one runs, is over after this much.
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// Makes sure that no fast step (next_cached()) of another thread runs on
// map, or begins, while this thread steps it: false if one runs
// now. On true, this thread is fast_thread. Cheap for fast_thread itself.
bool keep_off_fast_steps(pm_map* map) noexcept {
    if (!announce_intruder(map))
        return true;
    const pthread_t self = pthread_self();
    const bool clear = !map->fast_in.load(std::memory_order_acquire);
    if (clear)
        map->fast_thread.store(self, std::memory_order_relaxed);
    // Release: a fast step that reads intruders back at 0 sees fast_thread.
    map->intruders.fetch_sub(1, std::memory_order_release);
    return clear;
}

// For pm_map_destroy() on a thread other than fast_thread: returns once no
// fast step runs, and none can begin (intruders stays raised: the map goes).
void wait_out_fast_steps(pm_map* map) noexcept {
    if (!announce_intruder(map))
        return;
    while (map->fast_in.load(std::memory_order_acquire))
        std::this_thread::yield();
}

void end_claim(pm_map* map);

// Claims a map for one step on this thread (PM_OK), or says why not.
int claim_step(pm_map* map, const char* fn) {
    if (inherited(map->incarnation))
        return fail(PM_ESTATE, (std::string(fn) + ": this map belongs to the parent process; "
                                                  "a worker cannot step it")
                                   .c_str());
    bool idle = false;
    const bool claimed = map->in_next.compare_exchange_strong(idle, true, std::memory_order_acquire);
    if (!claimed || !keep_off_fast_steps(map)) {
        if (claimed)
            end_claim(map);  // ours, but another thread's fast step runs
        return fail(PM_ESTATE, (std::string(fn) + ": another step of this map is running "
                                                  "(from a callback, or another thread)")
                                   .c_str());
    }
    map->stepper.store(pthread_self(), std::memory_order_relaxed);
    return PM_OK;
}

// Lets go of a step's claim. Once in_next is false a destroyer may free the
// map: it is the last thing we touch. A destroyer that announced itself is
// woken under the gate (it cannot free the map before we let the gate go);
// one that comes after this check polls in_next (pm_map_destroy()).
void end_claim(pm_map* map) {
    if (map->destroyer_waits.load(std::memory_order_acquire)) {
        std::lock_guard<std::mutex> hold(map->gate);
        map->in_next.store(false, std::memory_order_release);
        map->left.notify_all();
    } else {
        map->in_next.store(false, std::memory_order_release);
    }
}

// Ends a step: true if the map is still there (false: a progress callback
// destroyed it, and it is gone now).
bool release_step(pm_map* map) {
    if (map->destroy_deferred.load(std::memory_order_relaxed)) {
        // The progress callback destroyed the map: the step it reported on is
        // the last, and nothing it returned may be used.
        delete map;
        return false;
    }
    map->stepper.store(pthread_t{}, std::memory_order_relaxed);
    end_claim(map);
    return true;
}

// The next result taken ahead, to the caller (next_cached()'s claim held).
void hand_out_cached(pm_map* map, uint64_t* index, const void** data, size_t* len) noexcept {
    // No callback runs here, so stepper (which only a callback of this step
    // would look at) stays clear, and destroy_deferred cannot be set.
    const pm::core::map_entry& e = map->entries[map->cached_next++];
    ++map->delivered;
    if (index)
        *index = e.index;
    if (data)
        *data = e.data;
    if (len)
        *len = e.len;
    map->payload.clear();
}

// next_cached() without heavy_fence(): it claims in_next as a full step does.
bool next_cached_locked(pm_map* map, uint64_t* index, const void** data, size_t* len) {
    if (inherited(map->incarnation))
        return false;
    bool idle = false;
    if (!map->in_next.compare_exchange_strong(idle, true, std::memory_order_acquire))
        return false;
    // Only now, claimed: a step of another thread (a misuse, but one to
    // survive) may be changing these.
    if (map->cached_next >= map->cached_end || map->progress || map->bar ||
        map->cancelled.load(std::memory_order_relaxed)) {
        end_claim(map);
        return false;
    }
    hand_out_cached(map, index, data, len);
    end_claim(map);  // release_step() but its deferred destroy, which needs a callback
    return true;
}

// pm_map_next()'s common step: a result taken ahead from the chunk of an
// earlier step, on a map with no progress callback or bar to run. On
// fast_thread its claim is fast_in (see pm_map); a concurrent step still gets
// PM_ESTATE from the full path. Returns false, having changed nothing, when
// the full path must run.
bool next_cached(pm_map* map, uint64_t* index, const void** data, size_t* len) {
    if (!map->fast_claims)
        return next_cached_locked(map, index, data, len);
    const pthread_t self = pthread_self();
    if (!pthread_equal(map->fast_thread.load(std::memory_order_relaxed), self))
        return false;
    map->fast_in.store(true, std::memory_order_relaxed);
    pm::core::light_fence();
    // Acquire, and fast_thread read after it: an intruder that came and went
    // since the check above has made another thread fast_thread. in_next
    // held: a full step runs, perhaps this thread's own (a callback of an
    // in-process map calling back in). Its window is empty while it steps,
    // so this is a second guard, kept because it costs one plain load: the
    // full path then answers PM_ESTATE.
    if (map->intruders.load(std::memory_order_acquire) != 0 ||
        !pthread_equal(map->fast_thread.load(std::memory_order_relaxed), self) ||
        map->in_next.load(std::memory_order_relaxed) || map->cached_next >= map->cached_end ||
        map->progress || map->bar || inherited(map->incarnation) ||
        map->cancelled.load(std::memory_order_relaxed)) {
        map->fast_in.store(false, std::memory_order_release);
        return false;
    }
    hand_out_cached(map, index, data, len);
    map->fast_in.store(false, std::memory_order_release);
    return true;
}

// pm_map_next() when next_cached() cannot serve: a step of the engine.
// Out of line so that the common step stays small.
__attribute__((noinline)) int map_next_step(pm_map* map, uint64_t* index, const void** data,
                                            size_t* len);

}  // namespace

int pm_map_next(pm_map* map, uint64_t* index, const void** data, size_t* len) {
    if (map && next_cached(map, index, data, len))
        return PM_OK;
    return map_next_step(map, index, data, len);
}

namespace {

int map_next_step(pm_map* map, uint64_t* index, const void** data, size_t* len) {
    if (index)
        *index = 0;
    if (data)
        *data = nullptr;
    if (len)
        *len = 0;
    if (!map)
        return fail(PM_EINVAL, "pm_map_next: map is NULL");
    if (int rc = claim_step(map, "pm_map_next"); rc != PM_OK)
        return rc;
    size_t count = 0;
    int status = PM_OK;
    const pm::core::map_entry* cached = nullptr;
    if (take_cached(map, 1, &cached)) {
        count = 1;
    } else {
        map->cached_next = map->cached_end = 0;
        try {
            if (map->entries.size() < cached_results)
                map->entries.resize(cached_results);
        } catch (...) {
        }
        status = step_map(map, 1, UINT64_MAX, &count);
        if (status == PM_OK && count == 1 && map->entries[0].status == PM_OK &&
            map->entries.size() > 1) {
            map->cached_next = 1;
            map->cached_end = 1 + map->engine->take_more_of_chunk(map->entries.data() + 1,
                                                                  map->entries.size() - 1);
        }
        cached = map->entries.data();
    }
    if (count == 1) {
        const pm::core::map_entry& e = *cached;
        if (index)
            *index = e.index;
        if (e.status == PM_OK) {
            if (data)
                *data = e.data;
            if (len)
                *len = e.len;
        } else {
            // A failure in its place (return mode) or the final one (whose
            // message may be map->message itself).
            try {
                if (e.message != map->message.data())
                    map->message.assign(e.message ? e.message : "", e.message_len);
                map->payload.assign(static_cast<const char*>(e.data), e.len);
            } catch (...) {
                map->payload.clear();
            }
            status = fail(e.status, map->message.c_str());
        }
    } else if (status >= 0) {
        map->payload.clear();
    }
    if (status == PM_OK && count == 1 && cached->status == PM_OK)
        map->payload.clear();
    if (!release_step(map)) {
        if (data)
            *data = nullptr;
        if (len)
            *len = 0;
        return fail(PM_ECANCELED, "the map was destroyed by its own progress callback");
    }
    return status;
}

}  // namespace

int pm_map_next_batch(pm_map* map, size_t max, int timeout_ms, uint64_t* indices, int* statuses,
                      const void** data, size_t* lens, size_t* count) {
    if (count)
        *count = 0;
    if (!map || !count || !indices || !statuses || !data || !lens || max == 0)
        return fail(PM_EINVAL, "pm_map_next_batch: map, an array or count is NULL, or max is 0");
    if (int rc = claim_step(map, "pm_map_next_batch"); rc != PM_OK)
        return rc;
    const uint64_t deadline =
        timeout_ms < 0 ? UINT64_MAX
                       : pm::core::monotonic_ns() + static_cast<uint64_t>(timeout_ms) * 1'000'000;
    size_t n = 0;
    int status = PM_OK;
    const pm::core::map_entry* first = nullptr;
    // Results pm_map_next() took ahead come first.
    n = take_cached(map, max, &first);
    if (!n) {
        map->cached_next = map->cached_end = 0;
        status = step_map(map, max, deadline, &n);
        first = map->entries.data();
    }
    map->entry_messages.clear();
    int failed = 0;
    for (size_t i = 0; i < n; ++i) {
        const pm::core::map_entry& e = first[i];
        indices[i] = e.index;
        statuses[i] = e.status;
        data[i] = e.status == PM_OK || e.len ? e.data : nullptr;
        lens[i] = e.len;
        if (e.status != PM_OK) {
            failed = e.status;
            try {
                map->entry_messages.resize(i + 1);
                map->entry_messages[i].assign(e.message ? e.message : "", e.message_len);
            } catch (...) {
            }
        }
    }
    if (failed && status == PM_OK && !map->entry_messages.empty())
        fail(failed, map->entry_messages.back().c_str());
    *count = n;
    if (!release_step(map)) {
        *count = 0;
        return fail(PM_ECANCELED, "the map was destroyed by its own progress callback");
    }
    return status;
}

const char* pm_map_entry_error(const pm_map* map, size_t i) {
    if (!map || i >= map->entry_messages.size())
        return "";
    return map->entry_messages[i].c_str();
}

int pm_map_error_payload(const pm_map* map, const void** data, size_t* len) {
    if (data)
        *data = nullptr;
    if (len)
        *len = 0;
    if (!map)
        return fail(PM_EINVAL, "pm_map_error_payload: map is NULL");
    if (!map->payload.empty()) {
        if (data)
            *data = map->payload.data();
        if (len)
            *len = map->payload.size();
    }
    return PM_OK;
}

const char* pm_map_error(const pm_map* map) { return map ? map->message.c_str() : ""; }

void pm_map_destroy(pm_map* map) {
    if (!map)
        return;
    if (inherited(map->incarnation)) {
        // Joining threads that do not exist here would hang: leave the copy.
        PM_LOG(err, "pm_map_destroy: this map belongs to the parent process; ignored in a "
                    "worker");
        return;
    }
    if (stepped_by_this_thread(map)) {
        // From a callback of the map's own step: finish when it returns.
        map->destroy_deferred.store(true, std::memory_order_relaxed);
        map->cancelled.store(true);
        map->engine->cancel();
        return;
    }
    map->destroyer_waits.store(true);
    wait_out_fast_steps(map);
    if (map->in_next.load()) {
        // Another thread blocked in pm_map_next(): make it return first. It
        // wakes us if it saw destroyer_waits; if it left just before, the
        // 1 ms poll sees it.
        map->cancelled.store(true);
        map->engine->cancel();
        std::unique_lock<std::mutex> hold(map->gate);
        while (map->in_next.load(std::memory_order_acquire))
            map->left.wait_for(hold, std::chrono::milliseconds(1));
    }
    delete map;
}

int pm_map_cancel(pm_map* map) {
    if (!map)
        return fail(PM_EINVAL, "pm_map_cancel: map is NULL");
    if (inherited(map->incarnation))
        return fail(PM_ESTATE, "pm_map_cancel: this map belongs to the parent process");
    map->cancelled.store(true);
    map->engine->cancel();
    return PM_OK;
}

/* ---- pools ------------------------------------------------------------- */

namespace {

int create_pool(pm_pool** out, const pm_options* opts, pm_work_fn work, pm_chunk_fn chunk,
                void* user_data, pm_destroy_fn destroy, const char* fn,
                const char* work_name = nullptr) {
    pm::core::refuse_if_started_as_worker();
    if (out)
        *out = nullptr;
    return report_to_buffer(opts, guard([&]() -> int {
        auto owner = own_user_data(user_data, destroy);
        if (!out || (!work && !chunk && !work_name))
            return fail(PM_EINVAL, (std::string(fn) + ": out or work is NULL").c_str());
        auto core = std::make_shared<pool_core>();
        core->settings = resolved(opts ? opts->settings : map_settings{});
        core->work = make_work_spec(core->settings, work, chunk, user_data, work_name);
        core->owner = std::move(owner);
        if (!runs_in_process(core->settings))
            core->workers =
                std::make_shared<pm::core::worker_pool>(core->settings, core->work, false);
        *out = new pm_pool{std::move(core)};
        return PM_OK;
    }));
}

}  // namespace

int pm_pool_create(pm_pool** out, const pm_options* opts, pm_work_fn work, void* user_data,
                   pm_destroy_fn destroy) {
    return create_pool(out, opts, work, nullptr, user_data, destroy, "pm_pool_create");
}

int pm_pool_create_chunked(pm_pool** out, const pm_options* opts, pm_chunk_fn work,
                           void* user_data, pm_destroy_fn destroy) {
    return create_pool(out, opts, nullptr, work, user_data, destroy, "pm_pool_create_chunked");
}

int pm_pool_create_named(pm_pool** out, const pm_options* opts, const char* work_name) {
    if (!work_name) {
        if (out)
            *out = nullptr;
        return report_to_buffer(opts, fail(PM_EINVAL, "pm_pool_create_named: work_name is NULL"));
    }
    return create_pool(out, opts, nullptr, nullptr, nullptr, nullptr, "pm_pool_create_named",
                       work_name);
}

int pm_pool_create_streams(pm_pool** out, const pm_options* opts, size_t count,
                           const int* task_fds, const int* result_fds, pm_destroy_fn destroy,
                           void* user_data) {
    if (out)
        *out = nullptr;
    // The descriptors are ours from here on, whatever happens.
    std::vector<pm::core::unique_fd> tasks, results;
    for (size_t i = 0; task_fds && result_fds && i < count; ++i) {
        tasks.emplace_back(task_fds[i]);
        results.emplace_back(result_fds[i]);
    }
    return report_to_buffer(opts, guard([&]() -> int {
        auto owner = own_user_data(user_data, destroy);
        if (!out || !task_fds || !result_fds || count == 0)
            return fail(PM_EINVAL, "pm_pool_create_streams: out or a descriptor array is NULL, "
                                   "or count is 0");
        if (count > PM_MAX_PROCESSES)
            return fail(PM_EINVAL, "pm_pool_create_streams: more than PM_MAX_PROCESSES streams");
        for (size_t i = 0; i < count; ++i) {
            if (task_fds[i] < 0 || result_fds[i] < 0 || task_fds[i] == result_fds[i])
                return fail(PM_EINVAL, ("pm_pool_create_streams: stream " + std::to_string(i) +
                                        " has a bad pair of descriptors")
                                           .c_str());
            tasks[i].reset(pm::core::above_stdio(tasks[i].release()));
            results[i].reset(pm::core::above_stdio(results[i].release()));
            for (int fd : {tasks[i].get(), results[i].get()})
                if (::fcntl(fd, F_SETFD, FD_CLOEXEC) != 0)
                    return fail(PM_EINVAL, ("pm_pool_create_streams: descriptor " +
                                            std::to_string(fd) + " is not open")
                                               .c_str());
        }
        auto core = std::make_shared<pool_core>();
        core->settings = resolved(opts ? opts->settings : map_settings{});
        // Each stream runs processes x threads items at once at its far end:
        // that is the credit the feeder gives it.
        const uint64_t far =
            uint64_t(core->settings.processes) * std::max(core->settings.threads, 1u);
        core->settings.threads = static_cast<uint32_t>(std::min<uint64_t>(far, PM_MAX_THREADS));
        core->settings.processes = static_cast<uint32_t>(count);
        if (core->settings.error_mode == PM_ERRORS_INLINE)
            core->settings.error_mode = PM_ERRORS_RAISE;
        core->owner = std::move(owner);
        core->workers = std::make_shared<pm::core::worker_pool>(core->settings, std::move(tasks),
                                                                std::move(results));
        *out = new pm_pool{std::move(core)};
        return PM_OK;
    }));
}

/* ---- exec mode ---------------------------------------------------------- */

int pm_register_work(const char* name, pm_work_fn work, void* user_data) {
    if (!name || !work)
        return fail(PM_EINVAL, "pm_register_work: name or work is NULL");
    return guard([&]() -> int {
        pm::core::registered_work w;
        w.fn = work;
        w.user_data = user_data;
        pm::core::register_work(name, w);
        return PM_OK;
    });
}

int pm_register_chunk_work(const char* name, pm_chunk_fn work, void* user_data) {
    if (!name || !work)
        return fail(PM_EINVAL, "pm_register_chunk_work: name or work is NULL");
    return guard([&]() -> int {
        pm::core::registered_work w;
        w.chunk_fn = work;
        w.user_data = user_data;
        pm::core::register_work(name, w);
        return PM_OK;
    });
}

int pm_register_worker_hooks(const char* name, pm_worker_init_fn init, pm_worker_exit_fn exit,
                             pm_thread_fn thread_start, pm_thread_fn thread_stop,
                             void* user_data) {
    if (!name)
        return fail(PM_EINVAL, "pm_register_worker_hooks: name is NULL");
    return guard([&]() -> int {
        pm::core::register_hooks(name, {init, exit, thread_start, thread_stop, user_data});
        return PM_OK;
    });
}

namespace {

// Under an MPI launcher (Open MPI's or a PMIx one's environment), the MPI
// backend, when the program links it, serves on ranks 1.. (parmapper_mpi.h).
// Looked up at run time so that libparmapper itself never links MPI.
bool launched_by_mpi() {
    return std::getenv("OMPI_COMM_WORLD_SIZE") || std::getenv("PMIX_RANK") ||
           std::getenv("PMI_RANK");
}

}  // namespace

int pm_worker_serve(int argc, char** argv) {
    pm::core::serve_if_started_as_worker();  // never returns in an exec-mode worker
    if (launched_by_mpi()) {
        using serve_fn = int (*)(int, char**);
        if (auto serve = reinterpret_cast<serve_fn>(::dlsym(RTLD_DEFAULT, "pm_mpi_serve_ranks")))
            return serve(argc, argv);  // never returns on ranks 1..
    }
    return 0;
}

namespace {

int pool_map(pm_map** out, pm_pool* pool, const pm_options* opts, pm_input* input) {
    std::unique_ptr<pm_input> in(input);
    if (out)
        *out = nullptr;
    if (!out || !pool || !input)
        return fail(PM_EINVAL, "pm_pool_map: out, pool or input is NULL");
    pool_core& core = *pool->core;
    if (inherited(core.incarnation))
        return fail(PM_ESTATE, "pm_pool_map: this pool belongs to the parent process; a "
                               "worker cannot use it (start a map of its own instead)");
    if (core.in_use)
        return fail(PM_ESTATE, "pm_pool_map: another map of this pool is still alive");
    return guard([&]() -> int {
        map_settings s = opts ? opts->settings : core.settings;
        s.processes = core.settings.processes;
        s.threads = core.settings.threads;
        s.daemon = core.settings.daemon;
        if (core.workers && s.error_mode == PM_ERRORS_INLINE)
            return fail(PM_EINVAL,
                        "pm_pool_map: PM_ERRORS_INLINE needs a pool created in-process");
        if (!core.workers && core.settings.error_mode == PM_ERRORS_INLINE)
            s.error_mode = PM_ERRORS_INLINE;  // an inline pool stays inline
        auto map = std::make_unique<pm_map>();
        map->owner = core.owner;
        map->progress = s.progress;
        map->progress_user_data = s.progress_user_data;
        map->engine = start_engine(s, core.work, std::move(in->source), pool->core);
        map->bar = make_bar(s);
        map->pool = pool->core;
        core.in_use = true;
        *out = map.release();
        return PM_OK;
    });
}

}  // namespace

int pm_pool_map(pm_map** out, pm_pool* pool, const pm_options* opts, pm_input* input) {
    const int status = pool_map(out, pool, opts, input);
    if (status != PM_OK && !opts && pool && pool->core->settings.error_buffer) {
        pm_options fallback;
        fallback.settings = pool->core->settings;
        return report_to_buffer(&fallback, status);
    }
    return report_to_buffer(opts, status);
}

uint32_t pm_pool_processes(const pm_pool* pool) {
    if (!pool || !pool->core->workers)
        return 0;
    return pool->core->workers->live_count();
}

void pm_pool_destroy(pm_pool* pool) {
    if (pool && inherited(pool->core->incarnation)) {
        PM_LOG(err, "pm_pool_destroy: this pool belongs to the parent process; ignored in a "
                    "worker");
        return;
    }
    delete pool;
}

/* ---- shared with the other capi/ files (capi_internal.hpp) ------------- */

int pm::capi::fail(int status, const char* message) noexcept { return ::fail(status, message); }

int pm::capi::fail_current_exception() noexcept {
    // Rethrown into the one barrier, so that every capi/ file maps
    // exceptions to statuses the same way.
    return ::guard([]() -> int { throw; });
}

map_settings pm::capi::resolved_settings(const pm_options* opts) {
    return resolved(opts ? opts->settings : map_settings{});
}
