// pm::pool: workers forked once and reused by several maps.
// Include <parmapper.hpp>, not this file.
#ifndef PARMAPPER_CPP_POOL_HPP
#define PARMAPPER_CPP_POOL_HPP

#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>

#include "../detail/codec.hpp"
#include "../detail/handles.hpp"
#include "../detail/input.hpp"
#include "../detail/pieces.hpp"
#include "../detail/start.hpp"
#include "../detail/work.hpp"
#include "../parmapper.h"
#include "options.hpp"

namespace pm {

/* A pool of worker processes forked once, at creation, and reused by the maps
 * run on it, one map at a time (the Python tool forks anew for every call).
 *
 * The constraint: a worker can only run code that existed when it was forked,
 * so the function, its argument mode (args, kwargs, star, star_none, kwstar)
 * and the item type are fixed when the pool is made, by pm::make_pool. Each
 * map then gives only its items and, optionally, per-map options: chunksize,
 * ordered, total, max_in_flight, on_progress and the error mode (inline_
 * only for a pool that runs in-process); processes, threads and daemon are
 * the pool's. Workers see the program's memory as it was at creation (plus
 * each item).
 *
 *     auto pool = pm::make_pool<int>([&](int x) { return table[x]; },
 *                                    pm::options{}.processes(4));
 *     for (int v : pool.map(first_batch)) ...
 *     auto more = pm::to_vector(pool.map(second_batch, pm::options{}.ordered(false)));
 *
 * Ownership: move-only. Destroying the pool stops its workers (they finish
 * the chunk they run, are killed after a second) and reaps them; a map still
 * alive keeps them until it is destroyed.
 * Thread-safety: one thread at a time. Since: 0.2 */
template <class Item, class Call, class ErrorMode>
class pool {
    using work_t = detail::work_state<Item, Call>;

public:
    using item_type = Item;
    using result_type = typename work_t::result_type;

    /* Use pm::make_pool. Forks the workers; throws pm::error. */
    pool(Call call, basic_options<ErrorMode> defaults) : defaults_(std::move(defaults)) {
        const detail::option_values& v = defaults_.values();
        // Only inline_ fixes the mode at creation (an in-process pool); the
        // other modes are chosen per map.
        inline_ = detail::c_error_mode<ErrorMode>(v) == PM_ERRORS_INLINE;
        const int mode = inline_ ? PM_ERRORS_INLINE : PM_ERRORS_RAISE;
        detail::unique_options opts = detail::make_c_options(v, mode, PM_TOTAL_UNKNOWN);
        auto work = std::make_unique<work_t>(std::move(call));
        work->attach_hooks(v, opts.get());
        work_ = work.get();
        pm_pool* raw = nullptr;
        // pm_pool_create owns the work state from here, even when it fails.
        detail::check(pm_pool_create(&raw, opts.get(), &work_t::run, work.release(),
                                     &work_t::destroy),
                      "pm_pool_create");
        pool_.reset(raw);
        one_process_ = v.processes == 1 || inline_;
    }

    /* Starts a map of the pool's function over items (any range whose values
     * convert to the item type; see pm::map for how it is read) and returns
     * its results as a pm::map_range. per_map: pm::options (else the pool's
     * own) and pm::with_index. Does not fork.
     * Throws pm::error: PM_ESTATE while another map of this pool is alive,
     * PM_EWORKER if every worker has died, PM_EINVAL for an invalid option. */
    template <class Items, class... PerMap>
    auto map(Items&& items, const PerMap&... per_map) {
        using range_t = std::remove_reference_t<Items>;
        static_assert(detail::is_range<range_t>::value,
                      "pm::pool::map: the items must be a range (begin/end)");
        static_assert(std::is_convertible_v<detail::range_value_t<range_t>, Item>,
                      "pm::pool::map: the items must convert to the pool's item type");
        static_assert(((detail::is_options<PerMap>::value ||
                        detail::is_with_index<PerMap>::value) &&
                       ...),
                      "pm::pool::map: only pm::options and pm::with_index can be given per "
                      "map; the function and its argument mode are fixed by pm::make_pool");
        detail::check_call_pieces<PerMap...>();
        auto o = detail::pick<detail::is_options>(defaults_, per_map...);
        using map_mode = typename decltype(o)::error_mode;
        static_assert(!std::is_same_v<ErrorMode, errors::inline_t> ||
                          std::is_same_v<map_mode, errors::inline_t> ||
                          std::is_same_v<map_mode, errors::automatic_t>,
                      "pm::pool::map: a pool made with errors::inline_ runs every map inline");
        constexpr bool return_mode = std::is_same_v<map_mode, errors::return_t> ||
                                     std::is_same_v<map_mode, errors::runtime_t>;
        constexpr bool indexed = detail::count_v<detail::is_with_index, PerMap...> > 0;
        // An inline pool's maps are inline, per-map options in the default
        // mode included (the C pool would run them inline anyway); one
        // chosen at run time must be inline too.
        int mode = detail::c_error_mode<map_mode>(o.values());
        if (inline_ && std::is_same_v<map_mode, errors::runtime_t> && mode != PM_ERRORS_INLINE)
            throw pm::error(PM_EINVAL, "pm::pool::map: a pool made with errors::inline_ runs "
                                       "every map inline");
        if (inline_)
            mode = PM_ERRORS_INLINE;
        return detail::start_on_pool<Item, result_type, return_mode, indexed>(
            pool_.get(), work_, std::forward<Items>(items), o.values(), mode, one_process_);
    }

    /* Live worker processes (0 for a pool that runs in the calling process). */
    uint32_t processes() const noexcept { return pm_pool_processes(pool_.get()); }

private:
    detail::unique_pool pool_;
    detail::work_base* work_ = nullptr;  // owned by the C pool
    basic_options<ErrorMode> defaults_;
    bool inline_ = false;  // made with errors::inline_ (or runtime inline_): in-process
    bool one_process_ = false;
};

/* Makes a pm::pool for items of type Item: forks the workers now (none with
 * processes(1) or errors::inline_). f and pieces are as for pm::map: the
 * callable (not serialized: the workers inherit it), then in any order
 * pm::options, pm::args, pm::kwargs, pm::star or pm::star_none, pm::kwstar.
 * The options' processes, threads and daemon are the pool's; the rest are the
 * defaults of its maps. Throws pm::error (PM_ESYS if fork fails, PM_EINVAL).
 * Since: 0.2 */
template <class Item, class F, class... Pieces>
auto make_pool(F&& f, const Pieces&... pieces) {
    static_assert(((detail::is_options<Pieces>::value || detail::is_args<Pieces>::value ||
                    detail::is_kwargs<Pieces>::value || detail::is_kwstar<Pieces>::value ||
                    detail::is_shape<Pieces>::value) &&
                   ...),
                  "pm::make_pool: after the function, expected only pm::options, "
                  "pm::args(...), pm::kwargs(...), pm::star, pm::star_none and "
                  "pm::kwstar(...) (pm::with_index goes to pool::map)");
    detail::check_call_pieces<Pieces...>();
    constexpr bool item_ok = detail::check_item_type<Item>();
    auto call = detail::make_call(std::forward<F>(f), pieces...);
    using call_t = decltype(call);
    constexpr bool result_ok =
        detail::check_result_type<typename detail::work_state<Item, call_t>::result_type>();
    auto opts = detail::pick<detail::is_options>(options{}, pieces...);
    if constexpr (item_ok && result_ok)
        return pool<Item, call_t, typename decltype(opts)::error_mode>(std::move(call),
                                                                       std::move(opts));
    else
        return detail::invalid_call{};  // a compile error was given
}

}  // namespace pm

#endif
