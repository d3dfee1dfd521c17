// pm::options: the settings of a map or pool, named after the Python tool's
// keywords. Include <parmapper.hpp>, not this file.
#ifndef PARMAPPER_CPP_OPTIONS_HPP
#define PARMAPPER_CPP_OPTIONS_HPP

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "../parmapper.h"

namespace pm {

/* The value `automatic` for processes() (one per online CPU) and chunksize()
 * (sized from the total and the worker count). Since: 0.2 */
struct automatic_t {
    explicit constexpr automatic_t() = default;
};
inline constexpr automatic_t automatic{};

/* Error modes (the Python tool's `exception` keyword), given to
 * options::errors(). The mode is part of the options' type because it
 * decides what a map yields:
 * - errors::raise: the map yields results; the first failed item stops it,
 *   its workers are killed and reaped, and the iteration throws
 *   pm::worker_error (Python 'raise'), with any number of processes; with
 *   processes(1) the item ran in this process and the worker_error also
 *   holds the thrown object (worker_error::original()).
 * - errors::return_: the map yields pm::result<T> for every item, failed or
 *   not, and goes on (Python 'return').
 * - errors::inline_: everything runs in the calling process without fork
 *   (threads() still apply), and an exception thrown by the work function
 *   propagates out of the iteration unchanged: same type, same object
 *   (Python 'proc'). For debugging.
 * - errors::automatic (the default): raise, whatever the number of
 *   processes, so that what a loop throws does not change with the process
 *   count (a change: with processes(1) it used to be inline_, as the Python
 *   tool, which lets the exception itself out with one process).
 * - errors::runtime(m): the mode chosen at run time (from a program's flags,
 *   e.g. --keep-going), m one of errors::mode::raise, return_ or inline_.
 *   The map always yields pm::result<T>; with return_ failed items come in
 *   their place, with raise the first one is thrown as pm::worker_error (so
 *   every result the loop sees is ok), with inline_ the function's own
 *   exception propagates. Its options type, pm::runtime_options, is the same
 *   whatever m is, so it can be assigned at run time.
 * Since: 0.2 */
namespace errors {
struct automatic_t {
    explicit constexpr automatic_t() = default;
};
struct raise_t {
    explicit constexpr raise_t() = default;
};
struct return_t {
    explicit constexpr return_t() = default;
};
struct inline_t {
    explicit constexpr inline_t() = default;
};
inline constexpr automatic_t automatic{};
inline constexpr raise_t raise{};
inline constexpr return_t return_{};
inline constexpr inline_t inline_{};

/* The modes as values, for errors::runtime(). */
enum class mode { raise, return_, inline_ };

struct runtime_t {
    explicit constexpr runtime_t(errors::mode m = errors::mode::raise) : value(m) {}
    errors::mode value;
};
constexpr runtime_t runtime(errors::mode m) { return runtime_t(m); }
}  // namespace errors

namespace detail {

// The plain settings, shared by every error mode's options type.
struct option_values {
    uint32_t processes = 0;  // 0: online CPUs
    uint32_t threads = 1;
    size_t chunk_size = PM_CHUNK_AUTO;
    bool ordered = true;
    bool daemon = true;
    std::optional<uint64_t> total;  // unset: the input's length when it has one
    size_t max_in_flight = 0;       // 0: automatic
    std::function<void(uint64_t, uint64_t)> on_progress;
    uint64_t item_timeout_ms = 0;  // 0: none
    uint32_t retries = 0;
    uint64_t max_items_per_worker = 0;  // 0: never recycle by count
    uint64_t max_worker_rss = 0;        // bytes; 0: never recycle by memory
    std::function<void(uint32_t)> on_worker_start;  // in each worker, before its first item
    std::function<void(uint32_t)> on_worker_exit;   // in each worker, when it stops normally
    bool progress_bar = false;
    std::string progress_label;
    int runtime_error_mode = PM_ERRORS_RAISE;  // the C mode errors::runtime() chose
};

template <class E>
inline constexpr bool is_error_mode_v =
    std::is_same_v<E, errors::automatic_t> || std::is_same_v<E, errors::raise_t> ||
    std::is_same_v<E, errors::return_t> || std::is_same_v<E, errors::inline_t> ||
    std::is_same_v<E, errors::runtime_t>;

template <class>
inline constexpr bool options_dependent_false_v = false;

}  // namespace detail

/* Settings of a map or a pool, built by chaining setters on a value:
 *
 *     auto opts = pm::options{}.processes(4).threads(2).chunksize(pm::automatic)
 *                     .ordered(false).total(n).errors(pm::errors::return_);
 *
 * Every setter but errors() changes the object and returns it; errors()
 * returns options of another type (the error mode decides what a map yields),
 * so keep its result. Values are checked when a map or pool is created
 * (pm::error with PM_EINVAL if out of range). A plain value: copy it, reuse
 * it, destroy it whenever. Thread-safety: like any value type.
 * Since: 0.2 */
template <class ErrorMode = errors::automatic_t>
class basic_options {
    static_assert(detail::is_error_mode_v<ErrorMode>,
                  "pm::basic_options: the error mode must be one of pm::errors::automatic, "
                  "raise, return_, inline_ or runtime(mode)");

public:
    using error_mode = ErrorMode;

    basic_options() = default;
    explicit basic_options(detail::option_values v) : v_(std::move(v)) {}

    /* Options of another error mode do not convert: the mode decides what
     * the loop yields. These only turn the slip into one clear error. */
    template <class Other, std::enable_if_t<!std::is_same_v<Other, ErrorMode>, int> = 0>
    basic_options(const basic_options<Other>&) {
        static_assert(detail::options_dependent_false_v<Other>,
                      "pm::options: the error mode is part of the options' type (it decides "
                      "what the loop yields), so options of another mode cannot be assigned "
                      "or converted: keep errors()'s result in a variable of its own type "
                      "(auto), or choose the mode at run time with "
                      "errors(pm::errors::runtime(mode)), whose loop yields pm::result<T>");
    }
    template <class Other, std::enable_if_t<!std::is_same_v<Other, ErrorMode>, int> = 0>
    basic_options& operator=(const basic_options<Other>&) {
        static_assert(detail::options_dependent_false_v<Other>,
                      "pm::options: the error mode is part of the options' type (it decides "
                      "what the loop yields), so options of another mode cannot be assigned "
                      "or converted: keep errors()'s result in a variable of its own type "
                      "(auto), or choose the mode at run time with "
                      "errors(pm::errors::runtime(mode)), whose loop yields pm::result<T>");
        return *this;
    }

    /* Worker processes (Python N). automatic (default): one per online CPU.
     * 1: no fork, the work runs in the calling process. */
    basic_options& processes(uint32_t n) {
        v_.processes = n;
        return *this;
    }
    basic_options& processes(automatic_t) { return processes(0); }

    /* Threads per worker process (Python Nt), default 1. With more than one,
     * the function is called on several threads at once. */
    basic_options& threads(uint32_t n) {
        v_.threads = n;
        return *this;
    }

    /* Items per message to a worker. automatic (default): from the total and
     * the number of worker threads, or adaptive when the total is unknown. */
    basic_options& chunksize(size_t n) {
        v_.chunk_size = n;
        return *this;
    }
    basic_options& chunksize(automatic_t) { return chunksize(PM_CHUNK_AUTO); }

    /* true (default): results in input order. false: as they finish. */
    basic_options& ordered(bool on) {
        v_.ordered = on;
        return *this;
    }

    /* true (default): workers die with the process (and thread) that made
     * them, even by SIGKILL. */
    basic_options& daemon(bool on) {
        v_.daemon = on;
        return *this;
    }

    /* The number of items when the input cannot tell (a generator): used for
     * chunking and progress. Inputs with a size() give it themselves. */
    basic_options& total(uint64_t n) {
        v_.total = n;
        return *this;
    }

    /* Bound on items read from the input but not yet yielded; 0 (default) is
     * automatic. Keeps memory flat however long the input is. */
    basic_options& max_in_flight(size_t n) {
        v_.max_in_flight = n;
        return *this;
    }

    /* The built-in progress bar on stderr (Python progress=True): label,
     * done/total, percentage, rate, elapsed and remaining time, redrawn in
     * place on a terminal, occasional plain lines otherwise, a running count
     * when the total is unknown. progress(true) draws it without a label,
     * progress("label") with one, progress(false) (default) not at all. It
     * is drawn by the iterating thread, next to any on_progress function. */
    basic_options& progress(bool on) {
        v_.progress_bar = on;
        v_.progress_label.clear();
        return *this;
    }
    basic_options& progress(const char* label) { return progress(std::string(label)); }
    basic_options& progress(std::string label) {
        v_.progress_bar = true;
        v_.progress_label = std::move(label);
        return *this;
    }

    /* Called as fn(done, total) on the iterating thread after each yielded
     * item; total is PM_TOTAL_UNKNOWN when not known. An exception it throws
     * stops the map and propagates out of the iteration. */
    basic_options& on_progress(std::function<void(uint64_t done, uint64_t total)> fn) {
        v_.on_progress = std::move(fn);
        return *this;
    }

    /* An item that runs longer fails (pm::failure::timed_out) and its worker
     * is killed and replaced; 0 (default): no limit. Only for maps on worker
     * processes: an in-process map cannot interrupt its function. */
    basic_options& item_timeout(std::chrono::milliseconds limit) {
        v_.item_timeout_ms = limit.count() > 0 ? static_cast<uint64_t>(limit.count()) : 0;
        return *this;
    }

    /* Runs an item again, on a replacement worker, when its worker died or it
     * timed out, up to n more times (default 0). An item whose function
     * threw is never retried. */
    basic_options& retries(uint32_t n) {
        v_.retries = n;
        return *this;
    }

    /* Recycling (for leaky work functions): a worker is replaced by a fresh
     * one once it has run at least n items (0, default: never), at a chunk
     * boundary; nothing is lost or run twice. */
    basic_options& max_items_per_worker(uint64_t n) {
        v_.max_items_per_worker = n;
        return *this;
    }

    /* Recycling: a worker is replaced once its resident memory exceeds bytes
     * (0, default: never), checked after the chunks it returns. */
    basic_options& max_worker_rss(uint64_t bytes) {
        v_.max_worker_rss = bytes;
        return *this;
    }

    /* Worker hooks: fn(worker_id) runs in each worker process once, before
     * its first item (start) or when it stops normally (exit; not after a
     * crash or a kill); worker ids go from 0 to processes - 1, and a
     * replacement worker takes the id of the one it replaces. Use them to
     * open per-worker resources (a connection, a non-thread-safe library
     * handle) in globals of the worker process, which the work function then
     * reads. An exception from the start hook makes that worker exit: its
     * items fail as pm::failure::worker_died, and a worker that keeps failing
     * to start is given up after three replacements. In-process maps run
     * each hook once, with id 0. For a pool they are fixed at
     * pm::make_pool(); a pool map's own options do not change them. */
    basic_options& on_worker_start(std::function<void(uint32_t worker_id)> fn) {
        v_.on_worker_start = std::move(fn);
        return *this;
    }
    basic_options& on_worker_exit(std::function<void(uint32_t worker_id)> fn) {
        v_.on_worker_exit = std::move(fn);
        return *this;
    }

    /* The same settings with another error mode (see pm::errors). */
    template <class NewMode>
    [[nodiscard]] basic_options<NewMode> errors(NewMode m) const {
        detail::option_values v = v_;
        if constexpr (std::is_same_v<NewMode, pm::errors::runtime_t>)
            v.runtime_error_mode = m.value == pm::errors::mode::return_   ? PM_ERRORS_RETURN
                                   : m.value == pm::errors::mode::inline_ ? PM_ERRORS_INLINE
                                                                          : PM_ERRORS_RAISE;
        else
            (void)m;
        return basic_options<NewMode>(std::move(v));
    }

    /* The settings, for reading. */
    const detail::option_values& values() const noexcept { return v_; }

private:
    detail::option_values v_;
};

/* Options in the default (automatic) error mode. Since: 0.2 */
using options = basic_options<>;

/* Options whose error mode is chosen at run time (errors::runtime(m)):
 *     pm::runtime_options opts = pm::options{}.processes(n).errors(
 *         pm::errors::runtime(keep_going ? pm::errors::mode::return_
 *                                        : pm::errors::mode::raise));
 *     for (pm::result<Row>& r : pm::map(f, items, opts)) ...
 * Default-constructed: mode raise. Since: 0.2 */
using runtime_options = basic_options<errors::runtime_t>;

}  // namespace pm

#endif
