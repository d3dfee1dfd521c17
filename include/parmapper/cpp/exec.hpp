// Registered functions and workers that start by exec (pm::register_work,
// pm::work, pm::serve). Include <parmapper.hpp>, not this file.
#ifndef PARMAPPER_CPP_EXEC_HPP
#define PARMAPPER_CPP_EXEC_HPP

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "../detail/call.hpp"
#include "../detail/codec.hpp"
#include "../detail/handles.hpp"
#include "../detail/pieces.hpp"
#include "../detail/registry.hpp"
#include "../detail/start.hpp"
#include "../detail/work.hpp"
#include "../parmapper.h"
#include "arguments.hpp"
#include "options.hpp"
#include "pool.hpp"
#include "ranges.hpp"

/* Workers that start by exec. A fork()ed worker inherits the mapped
 * callable; a worker started by exec (options::start(pm::start::exec), or
 * PARMAPPER_START=exec in the environment) is a fresh run of the program
 * (/proc/self/exe, with the same arguments) and inherits nothing: use it
 * when the program runs threads that fork would lose (a runtime, a GPU
 * driver, a library with hidden threads). It finds its function by name, so
 * the program registers the function in every run, before pm::serve(),
 * and maps over the registration:
 *
 *     static const auto square = pm::register_work("square", [](int x) { return x * x; });
 *
 *     int main(int argc, char** argv) {
 *         pm::serve(argc, argv);  // first: in a worker, serves and never returns
 *         std::vector<int> v = {1, 2, 3};
 *         for (int r : pm::map(square, v, pm::options{}.processes(4).start(pm::start::exec)))
 *             ...
 *     }
 *
 * In every run, the caller's and the workers', the registration constructs
 * the callable and keeps it for the life of the program; a worker calls its
 * own run's copy, so what the callable captures must be rebuilt by every run
 * (constants, globals set up before pm::serve()), never the caller's later
 * state. A registered function maps in either start method, and the same in
 * both: items, results (serialized as for pm::map), argument modes (given to
 * register_work), error modes, order, threads, pools, timeouts, retries,
 * crash and exit reports. An exception thrown in a worker comes back as
 * pm::worker_error with its type and text, as in fork mode.
 *
 * Worker hooks likewise: pm::register_worker_hooks(name, start, exit) in every
 * run, and options::worker_hooks(name) on the map or pool.
 *
 * Refused at creation with pm::error (PM_EINVAL), not in the worker: in exec
 * mode, pm::map and pm::make_pool given a plain (unregistered) callable, and
 * options with on_worker_start or on_worker_exit (std::functions a fresh
 * run cannot reach; use worker_hooks(name)); a pm::work whose name is not
 * registered, or registered with other item or result types. In-process
 * maps (processes(1), errors::inline_) start no worker: there the start
 * method does not apply. pm::process always forks. pm::pareval does not
 * take a registration: run it in fork mode. Since: 0.3 */

namespace pm {

/* A handle on a registered function: its name, and the item and result
 * types it was registered with. pm::register_work returns one; another
 * translation unit can name the same registration with
 * pm::work<Item, Result>("name"). A plain value; the registration itself
 * lives as long as the program. pm::map(w, items, pieces...) and
 * pm::make_pool(w, pieces...) check, when they start, that the name is
 * registered with these types. Since: 0.3 */
template <class Item, class Result>
class work {
public:
    using item_type = Item;
    using result_type = Result;

    explicit work(std::string name) : name_(std::move(name)) {}

    const std::string& name() const noexcept { return name_; }

private:
    std::string name_;
};

namespace detail {

template <class T>
struct is_work : std::false_type {};
template <class I, class R>
struct is_work<work<I, R>> : std::true_type {};

struct deduce_item {};

// The item type of a callable whose first parameter is the item: a
// function (pointer) or a class with one non-template operator().
template <class Sig>
struct first_parameter {
    using type = void;
};
template <class R, class A, class... Rest>
struct first_parameter<R(A, Rest...)> {
    using type = remove_cvref_t<A>;
};
template <class R, class... A>
struct first_parameter<R(A...) noexcept> : first_parameter<R(A...)> {};

template <class M>
struct member_signature {
    using type = void;
};
#define PM_DETAIL_MEMBER_SIGNATURE(quals)                      \
    template <class C, class R, class... A>                    \
    struct member_signature<R (C::*)(A...) quals> {            \
        using type = R(A...);                                  \
    };
PM_DETAIL_MEMBER_SIGNATURE()
PM_DETAIL_MEMBER_SIGNATURE(const)
PM_DETAIL_MEMBER_SIGNATURE(noexcept)
PM_DETAIL_MEMBER_SIGNATURE(const noexcept)
PM_DETAIL_MEMBER_SIGNATURE(&)
PM_DETAIL_MEMBER_SIGNATURE(const&)
#undef PM_DETAIL_MEMBER_SIGNATURE

template <class F, class = void>
struct callable_item {
    using type = void;
};
template <class F>
struct callable_item<F, std::enable_if_t<std::is_function_v<std::remove_pointer_t<F>>>> {
    using type = typename first_parameter<std::remove_pointer_t<F>>::type;
};
template <class F>
struct callable_item<F, std::void_t<decltype(&F::operator())>> {
    using type =
        typename first_parameter<typename member_signature<decltype(&F::operator())>::type>::type;
};

template <class Item, class F, class... Pieces>
struct registered_item {
    using type = Item;
};
template <class F, class... Pieces>
struct registered_item<deduce_item, F, Pieces...> {
    static constexpr bool plain = count_v<is_shape, Pieces...> == 0 &&
                                  count_v<is_kwstar, Pieces...> == 0;
    using type = std::conditional_t<plain, typename callable_item<std::decay_t<F>>::type, void>;
};

}  // namespace detail

/* Registers f under name, for maps and pools in either start method, and
 * returns a pm::work handle on it. Call it in every run of the program with
 * the same names, before pm::serve(): at namespace scope (a static
 * initializer) or first thing in main.
 *
 * name: 1 to 255 printable ASCII bytes, no spaces; a name registered again
 *   is replaced (maps already running keep the function they started with).
 * f: any callable, copied (moved from an rvalue) into a copy kept for the
 *   life of the program; with threads(n > 1) it is called on several
 *   threads at once. Its item and result are as for pm::map.
 * pieces: the argument mode, fixed here since a worker constructs the call
 *   itself: pm::args(a...), pm::kwargs(k), pm::star or pm::star_none,
 *   pm::kwstar(merge), in any order (options and pm::with_index go to
 *   pm::map and pm::make_pool).
 * Item: the item type; deduced from f's first parameter for a function or
 *   a lambda that is not generic, in the plain argument mode (not star,
 *   star_none or kwstar). Otherwise give it: pm::register_work<Item>(...).
 * Returns: pm::work<Item, R>, R f's (decayed) result type.
 * Throws: pm::error, PM_EINVAL for a bad name (thrown from a static
 *   initializer, that ends the program, with the message).
 * Thread-safety: any thread. Since: 0.3 */
template <class Item = detail::deduce_item, class F, class... Pieces>
auto register_work(std::string name, F&& f, const Pieces&... pieces) {
    static_assert(((detail::is_args<Pieces>::value || detail::is_kwargs<Pieces>::value ||
                    detail::is_kwstar<Pieces>::value || detail::is_shape<Pieces>::value) &&
                   ...),
                  "pm::register_work: after the function, expected only its argument mode: "
                  "pm::args(...), pm::kwargs(...), pm::star, pm::star_none, pm::kwstar(...) "
                  "(pm::options and pm::with_index go to pm::map or pm::make_pool)");
    detail::check_call_pieces<Pieces...>();
    using item_t = typename detail::registered_item<Item, F, Pieces...>::type;
    static_assert(!std::is_void_v<item_t>,
                  "pm::register_work: the item type cannot be deduced from the function (it "
                  "is generic or overloaded, or the argument mode is star, star_none or "
                  "kwstar): give it, pm::register_work<Item>(name, f, ...)");
    if constexpr (std::is_void_v<item_t>) {
        return detail::invalid_call{};  // a compile error was given
    } else {
        constexpr bool item_ok = detail::check_item_type<item_t>();
        auto call = detail::make_call(std::forward<F>(f), pieces...);
        using call_t = decltype(call);
        using state_t = detail::work_state<item_t, detail::shared_call<call_t>>;
        using result_t = typename state_t::result_type;
        constexpr bool result_ok = detail::check_result_type<result_t>();
        if constexpr (!item_ok || !result_ok) {
            return detail::invalid_call{};  // a compile error was given
        } else {
            auto kept = std::make_unique<call_t>(std::move(call));
            auto shared = std::make_unique<state_t>(detail::shared_call<call_t>(kept.get()));
            detail::check(pm_register_work(name.c_str(), &state_t::run, shared.get()),
                          "pm_register_work");
            // From here the C registry holds the state: both live for good.
            detail::registered_entry e;
            e.name = name;
            e.item = &typeid(item_t);
            e.result = &typeid(result_t);
            e.shared = shared.release();
            e.run = &state_t::run;
            e.destroy = &state_t::destroy;
            e.make = &detail::make_registered_state<state_t, call_t>;
            e.call = kept.release();
            detail::work_registry::instance().add(std::move(e));
            return work<item_t, result_t>(std::move(name));
        }
    }
}

/* Registers worker hooks under name (pm_register_worker_hooks), for maps
 * and pools whose options name them with options::worker_hooks(name), in
 * either start method: on_start(worker_id) runs in each worker once before
 * its first item, on_exit(worker_id) when it stops normally, exactly as
 * options::on_worker_start and on_worker_exit (an exception from on_start
 * makes the worker exit; in-process maps run each once with id 0). Either
 * may be empty. Like pm::register_work: in every run, before pm::serve();
 * kept for the life of the program; a name registered again is replaced.
 * Throws pm::error (PM_EINVAL for a bad name). Since: 0.3 */
inline void register_worker_hooks(std::string name, std::function<void(uint32_t)> on_start,
                                  std::function<void(uint32_t)> on_exit = {}) {
    struct hooks {
        std::function<void(uint32_t)> on_start, on_exit;
        static int start(uint32_t id, void**, void* self) noexcept {
            try {
                static_cast<hooks*>(self)->on_start(id);
                return 0;
            } catch (...) {
                return 1;  // the worker exits; its items fail as a dead worker's
            }
        }
        static void exit(uint32_t id, void*, void* self) noexcept {
            try {
                static_cast<hooks*>(self)->on_exit(id);
            } catch (...) {  // nothing to report it to: the worker is leaving
            }
        }
    };
    const bool has_start = bool(on_start), has_exit = bool(on_exit);
    // Never freed: the C registry holds it (a replaced one may still be in
    // use), and it stays reachable through this list.
    static std::mutex lock;
    static std::vector<std::unique_ptr<hooks>>* all = new std::vector<std::unique_ptr<hooks>>;
    auto h = std::make_unique<hooks>(hooks{std::move(on_start), std::move(on_exit)});
    std::lock_guard<std::mutex> hold(lock);
    detail::check(pm_register_worker_hooks(name.c_str(), has_start ? &hooks::start : nullptr,
                                           has_exit ? &hooks::exit : nullptr, nullptr, nullptr,
                                           h.get()),
                  "pm_register_worker_hooks");
    all->push_back(std::move(h));
}

/* Call first thing in main, after the registrations (pm_worker_serve): in a
 * run of the program that exec mode started as a worker (or as a pool's
 * template) it serves items and never returns (the process leaves with
 * _exit); in any other run it returns at once. argc and argv are main's.
 * Throws pm::error if the C library refuses. Since: 0.3 */
inline void serve(int argc, char** argv) {
    detail::check(pm_worker_serve(argc, argv), "pm_worker_serve");
}

/* pm::map over a registered function: as pm::map(f, items, ...), in either
 * start method. items: a range whose values convert to Item. pieces:
 * pm::options and pm::with_index (the argument mode was fixed by
 * pm::register_work). Throws pm::error as pm::map does, and PM_EINVAL when
 * w's name is not registered with its types. Since: 0.3 */
template <class Item, class Result, class Items, class... Pieces>
auto map(const work<Item, Result>& w, Items&& items, const Pieces&... pieces) {
    using range_t = std::remove_reference_t<Items>;
    static_assert(detail::is_range<range_t>::value,
                  "pm::map: the items must be a range (begin/end): a container, "
                  "pm::subrange(first, last), pm::generate(fn), another map's results...");
    static_assert(std::is_convertible_v<detail::range_value_t<range_t>, Item>,
                  "pm::map(pm::work<Item, Result>, items): the items must convert to the "
                  "registered item type");
    static_assert(((detail::is_options<Pieces>::value ||
                    detail::is_with_index<Pieces>::value) &&
                   ...),
                  "pm::map(pm::work, items, ...): only pm::options and pm::with_index can be "
                  "given; the argument mode of a registered function is fixed by "
                  "pm::register_work");
    detail::check_call_pieces<Pieces...>();
    auto opts = detail::pick<detail::is_options>(options{}, pieces...);
    using mode = typename decltype(opts)::error_mode;
    constexpr bool return_mode =
        std::is_same_v<mode, errors::return_t> || std::is_same_v<mode, errors::runtime_t>;
    constexpr bool indexed = detail::count_v<detail::is_with_index, Pieces...> > 0;
    const detail::registered_entry e = detail::find_registered<Item, Result>(w.name(), "pm::map");
    return detail::start_registered<Item, Result, return_mode, indexed>(
        e, std::forward<Items>(items), opts.values(), detail::c_error_mode<mode>(opts.values()));
}

/* pm::make_pool over a registered function: as pm::make_pool<Item>(f, ...),
 * in either start method (exec mode: the pool's template process and its
 * workers are fresh runs of the program). pieces: pm::options only. Throws
 * pm::error as make_pool does, and PM_EINVAL when w's name is not
 * registered with its types. Since: 0.3 */
template <class Item, class Result, class... Pieces>
auto make_pool(const work<Item, Result>& w, const Pieces&... pieces) {
    static_assert((detail::is_options<Pieces>::value && ...),
                  "pm::make_pool(pm::work, ...): only pm::options can be given; the argument "
                  "mode of a registered function is fixed by pm::register_work");
    detail::check_call_pieces<Pieces...>();
    auto opts = detail::pick<detail::is_options>(options{}, pieces...);
    const detail::registered_entry e =
        detail::find_registered<Item, Result>(w.name(), "pm::make_pool");
    return pool<Item, detail::registered_call<Result>, typename decltype(opts)::error_mode>(
        e, std::move(opts));
}

}  // namespace pm

#endif
