// pm::pareval: a function of the rows of an array, evaluated in parallel
// over chunks of rows (the Python tool's ParEval). Include <parmapper.hpp>,
// not this file.
#ifndef PARMAPPER_CPP_PAREVAL_HPP
#define PARMAPPER_CPP_PAREVAL_HPP

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/codec.hpp"
#include "../detail/handles.hpp"
#include "../detail/stepper.hpp"
#include "../parmapper.h"
#include "arguments.hpp"
#include "errors.hpp"
#include "map_range.hpp"
#include "options.hpp"

namespace pm {

/* A row-major block of rows of width() values each: rows [first, first +
 * rows()) of an array, as pm::pareval hands them to the function.
 * Since: 0.2 */
template <class T>
class rows_view {
public:
    rows_view(T* data, size_t rows, size_t width) : data_(data), rows_(rows), width_(width) {}
    T* data() const noexcept { return data_; }
    size_t rows() const noexcept { return rows_; }
    size_t width() const noexcept { return width_; }
    T* row(size_t r) const noexcept { return data_ + r * width_; }
    T& operator()(size_t r, size_t c) const noexcept { return data_[r * width_ + c]; }

private:
    T* data_;
    size_t rows_;
    size_t width_;
};

/* How pm::pareval splits n rows into chunks: the Python tool's ParEval
 * keywords, 0 for unset. The number of chunks is n_chunks if set, else
 * ceil(n / n_eval) if n_eval is set, else processes x threads; n_min then
 * lowers it to n / n_min (at least 1) so that no chunk has fewer than n_min
 * rows; there are never more chunks than rows, and chunk sizes differ by at
 * most one, the larger first (numpy.array_split). Setting both n_chunks and
 * n_eval is an error. Since: 0.2 */
struct pareval_split {
    size_t n_chunks = 0;
    size_t n_eval = 0;
    size_t n_min = 0;
};

namespace detail {

struct row_chunk {
    uint64_t first;
    uint64_t rows;
};

// The split rule above (the C library applies the same to double arrays).
inline std::vector<row_chunk> split_rows(size_t n, const pareval_split& s,
                                         size_t default_chunks) {
    if (s.n_chunks && s.n_eval)
        throw pm::error(PM_EINVAL, "pm::pareval: n_chunks and n_eval are both set; give one");
    std::vector<row_chunk> chunks;
    if (n == 0)
        return chunks;
    size_t k = s.n_chunks ? s.n_chunks : s.n_eval ? (n + s.n_eval - 1) / s.n_eval : default_chunks;
    if (s.n_min)
        k = std::min(k, std::max<size_t>(1, n / s.n_min));
    k = std::clamp<size_t>(k, 1, n);
    uint64_t first = 0;
    for (size_t i = 0; i < k; ++i) {
        const uint64_t rows = n / k + (i < n % k ? 1 : 0);
        chunks.push_back({first, rows});
        first += rows;
    }
    return chunks;
}

inline size_t online_cpus() {
    const long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? std::min<size_t>(size_t(n), PM_MAX_PROCESSES) : 1;
}

// The pm_rows_fn's user_data for double arrays (in worker processes, or in
// this one with processes(1)): a thrown exception's type and message become
// the chunk's error text.
template <class F>
struct double_rows_state {
    F& f;

    static int run(const double* x, size_t rows, size_t ndim, double* y, size_t out_width,
                   void* self) noexcept {
        auto* me = static_cast<double_rows_state*>(self);
        try {
            me->f(rows_view<const double>(x, rows, ndim), rows_view<double>(y, rows, out_width));
            return 0;
        } catch (...) {
            try {
                pm_pareval_set_error(failure_text(describe_current_exception()).c_str());
            } catch (...) {  // out of memory: the chunk still fails, with the generic text
            }
            return 1;
        }
    }
};

}  // namespace detail

/* Evaluates f over the n rows of the row-major array x (ndim values a row)
 * in parallel, in chunks of consecutive rows (see pareval_split), and
 * returns the n * out_width output values, row-major, in order: what one
 * call of f over all the rows would give, for a function whose output rows
 * depend only on their own input rows (Python: ParEval(fun)(X)).
 *
 * f(pm::rows_view<const T> in, pm::rows_view<T> out) is called once per
 * chunk, in a worker process (the array is inherited by fork, not copied),
 * and fills out (in.rows() rows of out_width). With threads() > 1 it runs on
 * several threads at once. opts: processes, threads, daemon and on_progress
 * (which counts chunks) are used; errors::inline_ runs every chunk in the
 * calling process, and then an exception f throws propagates unchanged (the
 * automatic mode is raise, as for pm::map, with processes(1) too).
 * T = double calls the C library's pm_pareval() (but for errors::inline_);
 * any other element type (cereal-serializable: float, int64_t,
 * std::complex<double>, ...) maps the chunks with pm::map and returns each
 * chunk's rows as a std::vector<T>.
 * Throws: pm::error when a chunk fails (status() PM_EITEM if f threw,
 * PM_EWORKER if its worker died; what() names the chunk's rows, and the
 * thrown type and message: "pm::pareval: rows 10 to 14 (chunk 3 of 4):
 * std::domain_error: negative input") or the evaluation cannot start
 * (PM_EINVAL, PM_ESYS). When several chunks fail, the lowest-numbered one
 * is reported (inline: its exception propagates), whatever order they
 * finish in; it returns once every chunk before that one is done. Every worker is reaped before it returns or
 * throws. Thread-safety: any thread; blocks until done. Since: 0.2 */
template <class T, class F, class E = errors::automatic_t>
std::vector<T> pareval(F&& f, const T* x, size_t n, size_t ndim, size_t out_width,
                       const pareval_split& split = {}, const basic_options<E>& opts = {}) {
    static_assert(!std::is_same_v<E, errors::return_t> &&
                      !std::is_same_v<E, errors::runtime_t>,
                  "pm::pareval: errors::return_ and errors::runtime() have no meaning here: a "
                  "failed chunk fails the evaluation (use raise or inline_)");
    static_assert(std::is_invocable_v<F&, rows_view<const T>, rows_view<T>>,
                  "pm::pareval: f must be callable as f(pm::rows_view<const T> in, "
                  "pm::rows_view<T> out)");
    const bool inline_mode = detail::c_error_mode<E>(opts.values()) == PM_ERRORS_INLINE;
    std::vector<T> y(n * out_width);
    if constexpr (std::is_same_v<T, double>) {
        if (!inline_mode) {
            detail::double_rows_state<std::remove_reference_t<F>> state{f};
            detail::unique_options o =
                detail::make_c_options(opts.values(), PM_ERRORS_RAISE, PM_TOTAL_UNKNOWN);
            detail::progress_slot progress{opts.values().on_progress, nullptr};
            if (progress.fn)
                detail::check(
                    pm_options_set_progress(o.get(), &detail::progress_slot::call, &progress),
                    "pm_options_set_progress");
            const int status =
                pm_pareval(o.get(), &decltype(state)::run, &state, x, n, ndim,
                           y.empty() ? nullptr : y.data(), out_width, split.n_chunks,
                           split.n_eval, split.n_min);
            if (progress.failure)
                std::rethrow_exception(progress.failure);
            if (status != PM_OK)
                throw pm::error(status, std::string("pm::pareval: ") + pm_last_error());
            return y;
        }
    }
    static_assert(detail::is_encodable_result_v<std::vector<T>>,
                  "pm::pareval: the element type must be cereal-serializable");
    const size_t workers =
        (opts.values().processes ? opts.values().processes : detail::online_cpus()) *
        opts.values().threads;
    const std::vector<detail::row_chunk> chunks = detail::split_rows(n, split, workers);
    auto evaluate = [&f, x, ndim, out_width](const detail::row_chunk& c) {
        std::vector<T> out(size_t(c.rows) * out_width);
        f(rows_view<const T>(x ? x + c.first * ndim : nullptr, size_t(c.rows), ndim),
          rows_view<T>(out.data(), size_t(c.rows), out_width));
        return out;
    };
    // Every chunk comes back, failed or not, in any order, so that the
    // lowest failed one is reported whatever order they finish in. Inline
    // runs in this process (one process), where the failed chunk's own
    // exception is kept in its worker_error.
    auto chunk_opts = options(opts.values()).chunksize(1).ordered(false);
    if (inline_mode)
        chunk_opts.processes(1);
    std::optional<worker_error> lowest;
    std::vector<bool> answered(chunks.size());
    size_t answered_prefix = 0;  // chunks 0 .. answered_prefix - 1 are back
    for (auto& r : pm::map(evaluate, chunks, pm::with_index,
                           chunk_opts.errors(pm::errors::return_))) {
        const detail::row_chunk& c = chunks.at(r.index);
        if (!r.value) {
            if (!lowest || r.index < lowest->index())
                lowest = r.value.error();
        } else {
            if (r.value->size() != c.rows * out_width)
                throw pm::error(PM_EINTERNAL, "pm::pareval: a chunk's output has the wrong size");
            std::copy(r.value->begin(), r.value->end(),
                      y.begin() + ptrdiff_t(c.first * out_width));
        }
        answered[r.index] = true;
        while (answered_prefix < chunks.size() && answered[answered_prefix])
            ++answered_prefix;
        if (lowest && answered_prefix >= lowest->index())
            break;  // no later chunk can replace it
    }
    if (lowest) {
        if (inline_mode)
            lowest->rethrow_original();
        const detail::row_chunk& c = chunks.at(lowest->index());
        std::string what = "pm::pareval: rows " + std::to_string(c.first) + " to " +
                           std::to_string(c.first + c.rows - 1) + " (chunk " +
                           std::to_string(lowest->index() + 1) + " of " +
                           std::to_string(chunks.size()) + "): ";
        if (!lowest->type_name().empty())
            what += lowest->type_name() + ": ";
        throw pm::error(lowest->status(), what + lowest->message());
    }
    return y;
}

/* pm::pareval over a std::vector holding x.size() / ndim rows. */
template <class T, class F, class E = errors::automatic_t>
std::vector<T> pareval(F&& f, const std::vector<T>& x, size_t ndim, size_t out_width,
                       const pareval_split& split = {}, const basic_options<E>& opts = {}) {
    if (ndim == 0 || x.size() % ndim != 0)
        throw pm::error(PM_EINVAL, "pm::pareval: x.size() is not a multiple of ndim");
    return pareval<T>(std::forward<F>(f), x.data(), x.size() / ndim, ndim, out_width, split,
                      opts);
}

}  // namespace pm

#endif
