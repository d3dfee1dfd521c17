// Chooses how many items go in each chunk, and the in-flight bound.
//
// Fixed chunk size: used as given. Automatic with a known total (the input's
// length or the total hint): ceil(total / (workers * threads)), the Python
// tool's rule, capped so that two chunks per worker thread fit in the bound.
// Automatic with no total: start at one item so the first results come fast,
// double while no timing is known, then aim at target_chunk_ns of work per
// chunk from the measured time per item, within the same cap.
#pragma once

#include <cstddef>
#include <cstdint>

#include "settings.hpp"

namespace pm::core {

class chunk_planner {
public:
    static constexpr size_t default_bound = 65536;
    static constexpr uint64_t target_chunk_ns = 20'000'000;  // 20 ms

    // workers: processes (1 for in-process); length: UINT64_MAX if unknown.
    chunk_planner(const map_settings& s, uint32_t workers, uint64_t length);

    size_t in_flight_bound() const noexcept { return bound_; }
    // ns_per_item: measured mean time per item, 0 if nothing is known yet.
    size_t next_chunk_size(uint64_t ns_per_item) noexcept;

private:
    size_t fixed_ = 0;  // 0: adaptive
    size_t cap_ = 1;
    size_t ramp_ = 1;
    size_t bound_ = default_bound;
};

}  // namespace pm::core
