// pm_pareval: the rows of an array split into chunks (row_split.hpp), one map
// item per chunk, built on the public map API like any caller would; each
// chunk's output rows are copied into place as they arrive.
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "capi_internal.hpp"
#include "errors.hpp"
#include "parmapper.h"
#include "row_split.hpp"

namespace {

using pm::core::row_chunk;

// What a worker needs to evaluate a chunk; the fork copies it with x.
struct rows_job {
    pm_rows_fn fn;
    void* user_data;
    const double* x;
    size_t ndim;
    size_t out_width;
};

// The chunk this thread's row function is running, for pm_pareval_set_error().
struct running_chunk {
    pm_sink* sink = nullptr;
    bool message_set = false;
};
thread_local running_chunk* current_chunk = nullptr;

// The work function: the item is a row_chunk, the result its output rows.
int evaluate_chunk(const void* item, size_t len, uint64_t, pm_sink* out, void* user_data) {
    const rows_job* job = static_cast<const rows_job*>(user_data);
    row_chunk chunk;
    if (len != sizeof chunk) {
        pm_sink_set_error(out, "pm_pareval: bad chunk item");
        return 1;
    }
    std::memcpy(&chunk, item, sizeof chunk);
    // A buffer of our own: the sink's bytes carry no alignment promise.
    std::vector<double> y(chunk.rows * job->out_width);
    const double* x = job->x ? job->x + chunk.first * job->ndim : nullptr;
    running_chunk running{out, false};
    running_chunk* const outer = current_chunk;  // a row function may run a pm_pareval too
    current_chunk = &running;
    const int rc = job->fn(x, chunk.rows, job->ndim, y.empty() ? nullptr : y.data(),
                           job->out_width, job->user_data);
    current_chunk = outer;
    if (rc != 0) {
        if (!running.message_set)
            pm_sink_set_error(out, ("the row function returned " + std::to_string(rc)).c_str());
        return rc;
    }
    return pm_sink_write(out, y.data(), y.size() * sizeof(double)) == PM_OK ? 0 : 1;
}

struct options_deleter {
    void operator()(pm_options* o) const { pm_options_destroy(o); }
};
struct map_deleter {
    void operator()(pm_map* m) const { pm_map_destroy(m); }
};

void check(int status) {
    if (status != PM_OK)
        throw pm::core::error(status, pm_last_error());
}

// The caller's options as far as they matter here: one chunk per item,
// results in any order, and every failed chunk in its place (return mode),
// so that the lowest one can be reported whatever order they finish in.
// PM_ERRORS_INLINE runs in this process, which one process does as well.
std::unique_ptr<pm_options, options_deleter> map_options(const pm::core::map_settings& s) {
    pm_options* raw = nullptr;
    check(pm_options_create(&raw));
    std::unique_ptr<pm_options, options_deleter> o(raw);
    check(pm_options_set_processes(o.get(), s.error_mode == PM_ERRORS_INLINE ? 1 : s.processes));
    check(pm_options_set_threads(o.get(), s.threads));
    check(pm_options_set_daemon(o.get(), s.daemon));
    check(pm_options_set_chunk_size(o.get(), 1));
    check(pm_options_set_ordered(o.get(), 0));
    check(pm_options_set_error_mode(o.get(), PM_ERRORS_RETURN));
    check(pm_options_set_progress(o.get(), s.progress, s.progress_user_data));
    check(pm_options_set_progress_bar(o.get(), s.progress_bar, s.progress_label.c_str()));
    return o;
}

bool fits(size_t n, size_t width) {
    size_t bytes;
    return !__builtin_mul_overflow(n, width, &bytes) &&
           !__builtin_mul_overflow(bytes, sizeof(double), &bytes);
}

}  // namespace

int pm_pareval(const pm_options* opts, pm_rows_fn fn, void* user_data, const double* x,
               size_t n, size_t ndim, double* y, size_t out_width, size_t n_chunks,
               size_t n_eval, size_t n_min) {
    using pm::capi::fail;
    if (!fn)
        return fail(PM_EINVAL, "pm_pareval: fn is NULL");
    if (n_chunks && n_eval)
        return fail(PM_EINVAL, "pm_pareval: n_chunks and n_eval are both set; give one");
    if (!fits(n, ndim) || !fits(n, out_width))
        return fail(PM_EINVAL, "pm_pareval: the array sizes overflow size_t");
    if (!x && n && ndim)
        return fail(PM_EINVAL, "pm_pareval: x is NULL");
    if (!y && n && out_width)
        return fail(PM_EINVAL, "pm_pareval: y is NULL");
    if (n == 0)
        return PM_OK;
    return pm::capi::guard([&]() -> int {
        const pm::core::map_settings s = pm::capi::resolved_settings(opts);
        const std::vector<row_chunk> chunks =
            pm::core::split_rows(n, n_chunks, n_eval, n_min, size_t{s.processes} * s.threads);
        auto o = map_options(s);
        pm_input* in = nullptr;
        check(pm_input_create_array(&in, chunks.data(), sizeof(row_chunk), chunks.size()));
        rows_job job{fn, user_data, x, ndim, out_width};
        pm_map* raw = nullptr;
        check(pm_map_create(&raw, o.get(), in, evaluate_chunk, &job, nullptr));
        std::unique_ptr<pm_map, map_deleter> map(raw);
        // The lowest failed chunk so far. Once every chunk before it has come
        // back, no other can replace it: the map is stopped there.
        bool failed = false;
        uint64_t failed_index = 0;
        int failed_status = PM_OK;
        std::string failed_message;
        std::vector<bool> answered(chunks.size());
        uint64_t answered_prefix = 0;  // chunks 0 .. answered_prefix - 1 are back
        for (;;) {
            uint64_t index = 0;
            const void* data = nullptr;
            size_t len = 0;
            const int status = pm_map_next(map.get(), &index, &data, &len);
            if (status == PM_DONE)
                break;
            const bool chunk_failed = status == PM_EITEM || status == PM_EWORKER ||
                                      status == PM_ETIMEOUT || status == PM_EIO;
            if (status != PM_OK && !chunk_failed) {
                if (failed)  // the map ended early (no worker left): what we know
                    break;
                return fail(status, pm_map_error(map.get()));
            }
            if (index >= chunks.size())
                return fail(PM_EINTERNAL, "pm_pareval: a result for no chunk");
            const row_chunk& c = chunks[index];
            if (status != PM_OK) {
                if (!failed || index < failed_index) {
                    failed = true;
                    failed_index = index;
                    failed_status = status;
                    failed_message = "rows " + std::to_string(c.first) + " to " +
                                     std::to_string(c.first + c.rows - 1) + " (chunk " +
                                     std::to_string(index + 1) + " of " +
                                     std::to_string(chunks.size()) +
                                     "): " + pm_map_error(map.get());
                }
            } else {
                if (len != c.rows * out_width * sizeof(double))
                    return fail(PM_EINTERNAL, "pm_pareval: a chunk's output has the wrong size");
                if (len)
                    std::memcpy(y + c.first * out_width, data, len);
            }
            answered[index] = true;
            while (answered_prefix < chunks.size() && answered[answered_prefix])
                ++answered_prefix;
            if (failed && answered_prefix >= failed_index)
                break;
        }
        if (failed)
            return fail(failed_status, failed_message.c_str());
        return PM_OK;
    });
}

int pm_pareval_set_error(const char* message) {
    using pm::capi::fail;
    if (!message)
        return fail(PM_EINVAL, "pm_pareval_set_error: message is NULL");
    if (!current_chunk)
        return fail(PM_ESTATE, "pm_pareval_set_error: not called from a row function of "
                               "pm_pareval() on this thread");
    const int status = pm_sink_set_error(current_chunk->sink, message);
    if (status == PM_OK)
        current_chunk->message_set = true;
    return status;
}
