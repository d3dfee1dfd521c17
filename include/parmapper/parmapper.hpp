/*
 * libparmapper's C++ layer: a header-only, RAII layer over the C API
 * (parmapper.h) for C++17 and later, with items and results serialized by
 * cereal (https://uscilab.github.io/cereal/; its headers are needed to
 * compile, nothing to link).
 *
 *     #include <parmapper.hpp>
 *
 *     std::vector<std::string> words = ...;
 *     std::map<std::string, int> weights = ...;          // big: inherited, never copied
 *     for (auto& n : pm::map([&](const std::string& w) { return weights.at(w) * w.size(); },
 *                            words, pm::options{}.processes(4)))
 *         total += n;                                    // results in input order
 *
 * What it is. pm::map(f, items, ...) starts a pm_map and returns a lazy range
 * of its results (pm::map_range); pm::make_pool makes a pm_pool for several
 * maps; pm::process runs one function in a background process (pm_process,
 * the Python tool's ReturnProcess); pm::pareval evaluates a function of the
 * rows of an array in parallel (pm_pareval, the Python tool's ParEval). The function f is never serialized: the C work callback reaches it
 * through its user_data, which the forked workers inherit, so f may be any
 * callable (a lambda capturing locals by reference, a function object, a
 * member function with its object). Items and results cross the process
 * boundary as bytes: trivially copyable items as themselves (a contiguous
 * range of them is handed to the workers in place, zero copy), std::pair,
 * std::tuple and std::optional member by member, other types through a
 * cereal binary archive (results: a type's own cereal serialization when it
 * has one, else its bytes when it is trivially copyable).
 *
 * Everything here is Since: 0.2. Linux only, like the C library.
 */
#ifndef PARMAPPER_HPP
#define PARMAPPER_HPP

#include <functional>
#include <type_traits>
#include <utility>

#include "cpp/arguments.hpp"
#include "cpp/errors.hpp"
#include "cpp/map_range.hpp"
#include "cpp/options.hpp"
#include "cpp/pool.hpp"
#include "cpp/ranges.hpp"
#include "detail/codec.hpp"
#include "detail/input.hpp"
#include "detail/pieces.hpp"
#include "detail/start.hpp"
#include "detail/work.hpp"
#include "parmapper.h"

namespace pm {

namespace detail {

// pm::map once its item type is known to be usable.
template <class Item, class F, class Items, class... Pieces>
auto start_map(F&& f, Items&& items, const Pieces&... pieces) {
    using item_t = Item;
    auto call = detail::make_call(std::forward<F>(f), pieces...);
    using call_t = decltype(call);
    using result_t = typename detail::work_state<item_t, call_t>::result_type;
    constexpr bool result_ok = detail::check_result_type<result_t>();

    if constexpr (result_ok) {
        auto opts = detail::pick<detail::is_options>(options{}, pieces...);
        using mode = typename decltype(opts)::error_mode;
        // runtime: a result<T> for every item, whatever mode was chosen.
        constexpr bool return_mode =
            std::is_same_v<mode, errors::return_t> || std::is_same_v<mode, errors::runtime_t>;
        constexpr bool indexed = detail::count_v<detail::is_with_index, Pieces...> > 0;
        return detail::start_one_shot<item_t, return_mode, indexed>(
            std::move(call), std::forward<Items>(items), opts.values(),
            detail::c_error_mode<mode>(opts.values()));
    } else {
        return map_range<detail::invalid_call>(nullptr);  // a compile error was given
    }
}

}  // namespace detail

/* Maps f over items on fork()ed worker processes and returns the results as
 * a lazy pm::map_range, the Python tool's parmap(f, items, ...).
 *
 * f: any callable, stored by value (a decayed copy; pass std::ref(f) to keep
 *   a reference). It runs in the workers, which are forked by this call and
 *   see the program's memory as it is now; its writes stay in the worker.
 *   With processes(1) or errors::inline_ it runs in this process. With
 *   threads(n > 1) it is called on several threads at once. Each call gets
 *   its own copy of the item, as an lvalue: f may take it by value, by
 *   const reference, or by reference to change it.
 * items: any range (begin/end; pm::subrange for an iterator pair,
 *   pm::generate for a generator). An lvalue range is referenced and must
 *   outlive the returned range, unchanged; an rvalue range is moved in. A
 *   contiguous range (std::data/std::size) of trivially copyable items is
 *   read in place; any other range, single-pass included, is read lazily, one
 *   item at a time, on the library's feeder thread (on the iterating thread
 *   for an in-process map with one thread), up to the in-flight bound ahead
 *   of the iteration. Its size, when it has one, is the total. Items that are
 *   trivially copyable travel as their bytes, so a pointer in one is only
 *   good in a worker if it points into memory that existed at this call;
 *   std::pair, std::tuple and std::optional travel member by member (each
 *   member by these rules: a pair of plain structs needs no user code);
 *   other items must be cereal-serializable.
 * pieces, in any order, each at most once:
 *   pm::options (or basic_options<Mode> from options::errors()): settings;
 *   pm::args(a...), pm::kwargs(k), pm::star, pm::star_none, pm::kwstar(merge):
 *     the argument mode (see cpp/arguments.hpp; by default f(item));
 *   pm::with_index: yield pm::indexed<T>{index, value}.
 * Returns: a map_range of f's (decayed) result type T, of pm::result<T> in
 *   the errors::return_ and errors::runtime(...) modes. The result type must
 *   be default-constructible and cereal-serializable or trivially copyable
 *   (pairs, tuples and optionals member by member), and not a pointer (a
 *   compile-time error says so otherwise, naming the type).
 * Throws: pm::error when the map cannot start (PM_EINVAL for an option out of
 *   range, PM_ESYS if fork fails, PM_ENOMEM); nothing is left running then.
 * Thread-safety: any thread; see options::daemon() for the thread that
 *   creates the workers. Since: 0.2 */
template <class F, class Items, class... Pieces,
          std::enable_if_t<!std::is_member_function_pointer_v<std::decay_t<F>>, int> = 0>
auto map(F&& f, Items&& items, const Pieces&... pieces) {
    using range_t = std::remove_reference_t<Items>;
    static_assert(detail::is_range<range_t>::value,
                  "pm::map: the items must be a range (begin/end): a container, "
                  "pm::subrange(first, last), pm::generate(fn), another map's results...");
    detail::check_map_pieces<Pieces...>();
    using item_t = detail::range_value_t<range_t>;
    constexpr bool item_ok = detail::check_item_type<item_t>();
    if constexpr (!item_ok) {
        return map_range<detail::invalid_call>(nullptr);  // a compile error was given
    } else {
        return detail::start_map<item_t>(std::forward<F>(f), std::forward<Items>(items),
                                         pieces...);
    }
}

/* pm::map over a member function called on an object, the Python tool's
 * parmap(obj.method, items): pm::map(&Scorer::score, scorer, items, ...)
 * calls scorer.score(item, ...). obj is a reference or a pointer; it is
 * used, not copied, so it must outlive the map (workers use their fork-time
 * copy). Since: 0.2 */
template <class Method, class Class, class Object, class Items, class... Pieces,
          std::enable_if_t<std::is_function_v<Method>, int> = 0>
auto map(Method Class::*method, Object&& obj, Items&& items, const Pieces&... pieces) {
    static_assert(std::is_lvalue_reference_v<Object> || std::is_pointer_v<std::decay_t<Object>>,
                  "pm::map(&Class::method, obj, ...): pass obj as an lvalue or a pointer; it "
                  "is used in place, not copied, and must outlive the map");
    auto* target = [&] {
        if constexpr (std::is_pointer_v<std::decay_t<Object>>)
            return obj;
        else
            return &obj;
    }();
    auto bound = [method, target](auto&&... a)
        -> decltype(std::invoke(method, *target, std::forward<decltype(a)>(a)...)) {
        return std::invoke(method, *target, std::forward<decltype(a)>(a)...);
    };
    return pm::map(std::move(bound), std::forward<Items>(items), pieces...);
}

}  // namespace pm

// After pm::map, which pm::pareval uses for element types other than double.
#include "cpp/pareval.hpp"
#include "cpp/process.hpp"

#endif
