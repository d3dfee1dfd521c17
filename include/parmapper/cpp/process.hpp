// pm::process: one function run in a background process, its result
// returned by join() (the Python tool's ReturnProcess), over pm_process.
// Include <parmapper.hpp>, not this file.
#ifndef PARMAPPER_CPP_PROCESS_HPP
#define PARMAPPER_CPP_PROCESS_HPP

#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../detail/codec.hpp"
#include "../detail/handles.hpp"
#include "../detail/pieces.hpp"
#include "../parmapper.h"
#include "errors.hpp"
#include "options.hpp"

namespace pm {

namespace detail {

struct process_deleter {
    void operator()(pm_process* p) const noexcept { pm_process_destroy(p); }
};
using unique_process = std::unique_ptr<pm_process, process_deleter>;

// The pm_process_fn's user_data: the function and its arguments, copied into
// the child by the fork.
template <class F, class Args>
struct process_state {
    using result_type =
        std::decay_t<decltype(std::apply(std::declval<F&>(), std::declval<Args&>()))>;

    F f;
    Args args;

    static int run(pm_sink* out, void* self) noexcept {
        auto* me = static_cast<process_state*>(self);
        try {
            const result_type r = std::apply(me->f, me->args);
            encode_result<result_type>(r, out);
            return 0;
        } catch (...) {
            try {
                pm_sink_set_error(out, failure_text(describe_current_exception()).c_str());
            } catch (...) {
                pm_sink_set_error(out, "std::bad_alloc: out of memory describing a failure");
            }
            return 1;
        }
    }

    static void destroy(void* self) noexcept { delete static_cast<process_state*>(self); }
};

}  // namespace detail

/* A function running in a forked background process, made by pm::process.
 * T is its (decayed) return type.
 * Ownership: move-only; destroying a return_process that was never joined
 * kills its process (SIGKILL) at once and reaps it; after join() there is
 * nothing left to stop. Several may run at once.
 * Thread-safety: one thread at a time per object. Since: 0.2 */
template <class T>
class return_process {
public:
    using value_type = T;

    explicit return_process(detail::unique_process p) : proc_(std::move(p)) {}

    /* Waits until the function has returned in its process (which is then
     * reaped) and returns its result, decoded in this process. Throws
     * pm::worker_error (index() is 0, and what() begins "pm::process: ",
     * not with an item) if the function threw (kind
     * failure::exception, with the thrown type_name() and message()), if
     * the process died (failure::worker_died), or if the result did not
     * decode (failure::bad_result); pm::error for a broken result channel
     * (PM_EIO) or memory exhaustion. May be called again: it returns the same
     * result (decoded anew) or throws the same error. */
    T join() {
        const void* data = nullptr;
        size_t len = 0;
        const int status = pm_process_join(proc_.get(), &data, &len);
        if (status == PM_OK) {
            T value{};
            std::string problem = detail::decode_result<T>(data, len, value);
            if (!problem.empty())
                throw worker_error(detail::process_failure_t{}, failure::bad_result, std::string(),
                                   std::move(problem));
            return value;
        }
        std::string message = pm_process_error(proc_.get());
        if (status == PM_EITEM) {
            detail::exception_description d = detail::parse_failure_text(message);
            throw worker_error(detail::process_failure_t{}, failure::exception,
                               std::move(d.type_name), std::move(d.message));
        }
        if (status == PM_EWORKER)
            throw worker_error(detail::process_failure_t{}, failure::worker_died, std::string(),
                               std::move(message));
        throw pm::error(status, std::string(pm_status_str(status)) + ": " + message);
    }

private:
    detail::unique_process proc_;
};

/* Runs f(args...) in a background process, forked at this call (the Python
 * tool's ReturnProcess(f, args=..., kwargs=...).start(); keyword arguments
 * are a struct among args). f and args are copied (decayed) and the child
 * calls f with its copies as lvalues; f may be any callable, a member
 * function with its object pointer included. Neither is serialized: the
 * child inherits them, and sees the program's memory as it is now. The
 * result type must be able to travel as for pm::map (checked at compile time).
 * An options object may come first; only daemon() is used.
 *     auto p1 = pm::process(slow, arg1, slow_kw{arg2});
 *     auto p2 = pm::process(slower, arg3);
 *     auto r1 = p1.join(), r2 = p2.join();
 * Throws pm::error if the process cannot start (PM_ESYS, PM_ENOMEM).
 * Thread-safety: any thread. Since: 0.2 */
template <class E, class F, class... Args>
auto process(const basic_options<E>& opts, F&& f, Args&&... args) {
    using args_t = std::tuple<std::decay_t<Args>...>;
    constexpr bool callable = std::is_invocable_v<std::decay_t<F>&, std::decay_t<Args>&...>;
    static_assert(callable,
                  "pm::process: f cannot be called with these arguments (the child calls it "
                  "with its copies of them, as lvalues)");
    if constexpr (callable) {
        using state_t = detail::process_state<std::decay_t<F>, args_t>;
        using result_t = typename state_t::result_type;
        constexpr bool ok = detail::check_result_type<result_t>();
        if constexpr (ok) {
            auto state = std::unique_ptr<state_t>(
                new state_t{std::forward<F>(f), args_t(std::forward<Args>(args)...)});
            detail::unique_options o =
                detail::make_c_options(opts.values(), PM_ERRORS_RAISE, PM_TOTAL_UNKNOWN);
            pm_process* raw = nullptr;
            // pm_process_start owns the state from here, even when it fails.
            detail::check(pm_process_start(&raw, o.get(), &state_t::run, state.release(),
                                           &state_t::destroy),
                          "pm_process_start");
            return return_process<result_t>(detail::unique_process(raw));
        } else {
            return detail::invalid_call{};  // a compile error was given
        }
    } else {
        return detail::invalid_call{};
    }
}

template <class F, class... Args,
          std::enable_if_t<!detail::is_options<detail::remove_cvref_t<F>>::value, int> = 0>
auto process(F&& f, Args&&... args) {
    return pm::process(options{}, std::forward<F>(f), std::forward<Args>(args)...);
}

}  // namespace pm

#endif
