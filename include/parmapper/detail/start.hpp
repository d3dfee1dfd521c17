// Internal: starts a map (one-shot or on a pool) over a range and wraps it in
// the map_range the caller iterates.
#ifndef PARMAPPER_DETAIL_START_HPP
#define PARMAPPER_DETAIL_START_HPP

#include <memory>
#include <type_traits>
#include <utility>

#include "../cpp/map_range.hpp"
#include "../cpp/options.hpp"
#include "../parmapper.h"
#include "handles.hpp"
#include "input.hpp"
#include "stepper.hpp"
#include "work.hpp"

namespace pm::detail {

// An lvalue range is held by reference (it must outlive the map), an rvalue
// range is moved in.
template <class Items>
using stored_range_t = std::conditional_t<std::is_lvalue_reference_v<Items>, Items,
                                          std::remove_cv_t<std::remove_reference_t<Items>>>;

template <class Item, class R, bool ReturnMode, bool Indexed, class Items>
auto make_stepper(Items&& items, const option_values& v) {
    auto input = std::make_unique<range_input<stored_range_t<Items>, Item>>(
        std::forward<Items>(items));
    return std::make_unique<map_stepper<R, ReturnMode, Indexed>>(std::move(input),
                                                                 v.on_progress);
}

// Forks the workers (unless the map runs in-process) and starts the map.
template <class Item, bool ReturnMode, bool Indexed, class Call, class Items>
auto start_one_shot(Call call, Items&& items, const option_values& v, int error_mode) {
    using work_t = work_state<Item, Call>;
    using R = typename work_t::result_type;
    using V = yielded_t<R, ReturnMode, Indexed>;

    auto stepper = make_stepper<Item, R, ReturnMode, Indexed>(std::forward<Items>(items), v);
    unique_options opts = make_c_options(v, error_mode, stepper->input().length());
    stepper->attach_progress(opts.get());
    auto work = std::make_unique<work_t>(std::move(call));
    work->attach_hooks(v, opts.get());
    // Before the map starts: in-process threads may run items at once. Only
    // an in-process map keeps them: a worker's exception stays in the worker.
    work->keep_exceptions(v.processes == 1 || error_mode == PM_ERRORS_INLINE);
    pm_input* in = stepper->input().make_input();
    work_base* w = work.get();
    pm_map* raw = nullptr;
    // pm_map_create owns the input and the work state from here, even when it
    // fails (it then destroys both before returning).
    check(pm_map_create(&raw, opts.get(), in, &work_t::run, work.release(), &work_t::destroy),
          "pm_map_create");
    stepper->start(unique_map(raw), w, error_mode);
    return map_range<V>(std::move(stepper));
}

// Starts a map on a pool's workers (no fork). in_process: the pool runs its
// maps in this process.
template <class Item, class R, bool ReturnMode, bool Indexed, class Items>
auto start_on_pool(pm_pool* pool, work_base* work, Items&& items, const option_values& v,
                   int error_mode, bool in_process) {
    using V = yielded_t<R, ReturnMode, Indexed>;

    auto stepper = make_stepper<Item, R, ReturnMode, Indexed>(std::forward<Items>(items), v);
    unique_options opts = make_c_options(v, error_mode, stepper->input().length());
    stepper->attach_progress(opts.get());
    pm_input* in = stepper->input().make_input();
    // Set before the map starts, restored if it does not: a refused map
    // (PM_ESTATE) must not change the mode of the map that is running.
    const bool kept = work->keeps_exceptions();
    work->keep_exceptions(in_process);
    pm_map* raw = nullptr;
    const int status = pm_pool_map(&raw, pool, opts.get(), in);
    if (status != PM_OK)
        work->keep_exceptions(kept);
    check(status, "pm_pool_map");
    stepper->start(unique_map(raw), work, error_mode);
    return map_range<V>(std::move(stepper));
}

}  // namespace pm::detail

#endif
