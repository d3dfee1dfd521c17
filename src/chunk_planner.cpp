#include "chunk_planner.hpp"

#include <algorithm>

namespace pm::core {

chunk_planner::chunk_planner(const map_settings& s, uint32_t workers, uint64_t length) {
    const uint64_t slots = uint64_t(std::max(workers, 1u)) * std::max(s.threads, 1u);
    if (s.chunk_size != PM_CHUNK_AUTO) {
        bound_ = s.max_in_flight
                     ? s.max_in_flight
                     : std::max<uint64_t>(default_bound, 2 * slots * s.chunk_size);
        fixed_ = s.chunk_size;
        return;
    }
    bound_ = s.max_in_flight ? s.max_in_flight : default_bound;
    cap_ = static_cast<size_t>(std::max<uint64_t>(1, bound_ / (2 * slots)));
    cap_ = std::min<size_t>(cap_, PM_MAX_CHUNK_SIZE);
    const uint64_t total = length != UINT64_MAX ? length : s.total_hint;
    if (total != PM_TOTAL_UNKNOWN) {
        uint64_t even = (total + slots - 1) / slots;
        fixed_ = static_cast<size_t>(std::clamp<uint64_t>(even, 1, cap_));
    }
}

size_t chunk_planner::next_chunk_size(uint64_t ns_per_item) noexcept {
    if (fixed_)
        return fixed_;
    if (ns_per_item == 0) {
        size_t n = std::min(ramp_, cap_);
        ramp_ = std::min(ramp_ * 2, cap_);
        return n;
    }
    uint64_t n = target_chunk_ns / ns_per_item;
    return static_cast<size_t>(std::clamp<uint64_t>(n, 1, cap_));
}

}  // namespace pm::core
