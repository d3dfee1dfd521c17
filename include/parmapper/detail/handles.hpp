// Internal: move-only owners of the C API's handles, and the translation of
// C status codes into pm::error.
#ifndef PARMAPPER_DETAIL_HANDLES_HPP
#define PARMAPPER_DETAIL_HANDLES_HPP

#include <memory>
#include <string>

#include "../cpp/errors.hpp"
#include "../cpp/options.hpp"
#include "../parmapper.h"

namespace pm::detail {

struct options_deleter {
    void operator()(pm_options* p) const noexcept { pm_options_destroy(p); }
};
struct input_deleter {
    void operator()(pm_input* p) const noexcept { pm_input_destroy(p); }
};
struct map_deleter {
    void operator()(pm_map* p) const noexcept { pm_map_destroy(p); }
};
struct pool_deleter {
    void operator()(pm_pool* p) const noexcept { pm_pool_destroy(p); }
};

using unique_options = std::unique_ptr<pm_options, options_deleter>;
using unique_input = std::unique_ptr<pm_input, input_deleter>;
using unique_map = std::unique_ptr<pm_map, map_deleter>;
using unique_pool = std::unique_ptr<pm_pool, pool_deleter>;

// Throws pm::error for a failed C call, with the thread's detail message.
inline void check(int status, const char* call) {
    if (status != PM_OK)
        throw pm::error(status, std::string(call) + ": " + pm_last_error());
}

// The C options for a map or pool. total_hint is used when the options do
// not set a total (the input's length, or PM_TOTAL_UNKNOWN).
inline unique_options make_c_options(const option_values& v, int error_mode,
                                     uint64_t total_hint) {
    pm_options* raw = nullptr;
    check(pm_options_create(&raw), "pm_options_create");
    unique_options o(raw);
    check(pm_options_set_processes(raw, v.processes), "pm_options_set_processes");
    check(pm_options_set_threads(raw, v.threads), "pm_options_set_threads");
    check(pm_options_set_chunk_size(raw, v.chunk_size), "pm_options_set_chunk_size");
    check(pm_options_set_ordered(raw, v.ordered ? 1 : 0), "pm_options_set_ordered");
    check(pm_options_set_daemon(raw, v.daemon ? 1 : 0), "pm_options_set_daemon");
    check(pm_options_set_total(raw, v.total ? *v.total : total_hint), "pm_options_set_total");
    check(pm_options_set_max_in_flight(raw, v.max_in_flight), "pm_options_set_max_in_flight");
    check(pm_options_set_error_mode(raw, error_mode), "pm_options_set_error_mode");
    check(pm_options_set_item_timeout(raw, v.item_timeout_ms), "pm_options_set_item_timeout");
    check(pm_options_set_retries(raw, v.retries), "pm_options_set_retries");
    check(pm_options_set_max_items_per_worker(raw, v.max_items_per_worker),
          "pm_options_set_max_items_per_worker");
    check(pm_options_set_max_worker_rss(raw, v.max_worker_rss), "pm_options_set_max_worker_rss");
    check(pm_options_set_progress_bar(raw, v.progress_bar ? 1 : 0,
                                      v.progress_label.empty() ? nullptr
                                                               : v.progress_label.c_str()),
          "pm_options_set_progress_bar");
    return o;
}

// The C error mode of a map. automatic is raise whatever the number of
// processes, so that what a loop throws does not depend on it; runtime is
// what errors::runtime() put in the values.
template <class E>
int c_error_mode(const option_values& v) {
    if constexpr (std::is_same_v<E, errors::runtime_t>)
        return v.runtime_error_mode;
    else if constexpr (std::is_same_v<E, errors::return_t>)
        return PM_ERRORS_RETURN;
    else if constexpr (std::is_same_v<E, errors::inline_t>)
        return PM_ERRORS_INLINE;
    else
        return PM_ERRORS_RAISE;
}

}  // namespace pm::detail

#endif
