#include "chunk_planner.hpp"

#include <algorithm>

namespace pm::core {

chunk_planner::chunk_planner(const map_settings& s, uint32_t workers, uint64_t length)
    : slots_(uint64_t(std::max(workers, 1u)) * std::max(s.threads, 1u)),
      threads_(std::max(s.threads, 1u)),
      fixed_(s.chunk_size),
      bound_(s.max_in_flight),
      two_chunks_(s.max_worker_rss > 0) {
    const uint64_t total = length != UINT64_MAX ? length : s.total_hint;
    if (total != PM_TOTAL_UNKNOWN)
        even_ = std::max<uint64_t>(1, (total + slots_ - 1) / slots_);
}

size_t chunk_planner::in_flight_bound(const item_costs& c) const noexcept {
    if (bound_)
        return bound_;
    uint64_t bound = default_bound;
    if (c.result_bytes)
        bound = std::min<uint64_t>(bound, std::max<uint64_t>(2 * slots_,
                                                             auto_bound_bytes / c.result_bytes));
    if (fixed_)
        bound = std::max<uint64_t>(bound, 2 * slots_ * fixed_);
    return static_cast<size_t>(std::min<uint64_t>(bound, PM_MAX_IN_FLIGHT));
}

size_t chunk_planner::next_chunk_size(const item_costs& c) noexcept { return size_for(c); }

size_t chunk_planner::peek_chunk_size(const item_costs& c) const noexcept { return size_for(c); }

size_t chunk_planner::size_for(const item_costs& c) const noexcept {
    if (fixed_)
        return fixed_;
    uint64_t n;
    if (c.ns == 0) {
        n = 1;  // nothing measured yet: one item at a time
    } else {
        n = target_chunk_ns / c.ns;
        if (c.result_bytes)
            n = std::min<uint64_t>(n, target_chunk_bytes / c.result_bytes);
    }
    if (even_)
        n = std::min(n, even_);
    const uint64_t cap = std::max<uint64_t>(1, in_flight_bound(c) / (2 * slots_));
    return static_cast<size_t>(std::clamp<uint64_t>(n, 1, std::min<uint64_t>(cap, PM_MAX_CHUNK_SIZE)));
}

uint64_t chunk_planner::credit_items(size_t n, const item_costs& c) const noexcept {
    // Automatic chunks before the first result: the item a thread runs and
    // the next, since results may be of any size (a blind ramp once let a
    // map of 1 MiB results put hundreds of them in flight).
    if (!fixed_ && c.ns == 0)
        return std::max<uint64_t>(blind_credit_items, uint64_t(n)) * threads_;
    uint64_t credit = two_chunks_ ? 0 : min_credit_items;
    if (c.result_bytes && credit)
        credit = std::min<uint64_t>(credit, std::max<uint64_t>(2, credit_bytes / c.result_bytes));
    return std::max<uint64_t>(credit, 2 * uint64_t(n)) * threads_;
}

}  // namespace pm::core
