// Chooses how many items go in each chunk, how many items a worker may hold
// (its credit), and the in-flight bound.
//
// Fixed chunk size: used as given. Automatic: chunks are of one item, and a
// worker thread holds at most blind_credit_items, until the first results
// are measured, so that the first results come fast and nothing is sized
// blind (results may be large); then a chunk is the smallest of about
// target_chunk_ns of work and about target_chunk_bytes of results (from the
// measured time and result size per item), the total split evenly over the
// worker threads when it is known, and what lets two chunks per thread fit
// in the bound.
//
// Credit is counted in items, not chunks, so that small chunks stream: a
// worker thread may hold min_credit_items items (fewer when results are
// large: about credit_bytes of them), and always two chunks. With recycling
// by memory, two chunks only: a worker that grew too large stops soon.
//
// The automatic in-flight bound is default_bound items, lowered for large
// results so that about auto_bound_bytes of results are in flight.
#pragma once

#include <cstddef>
#include <cstdint>

#include "settings.hpp"

namespace pm::core {

// Measured per item (means over recent result frames); 0: not yet known.
struct item_costs {
    uint64_t ns = 0;
    uint64_t result_bytes = 0;
};

class chunk_planner {
public:
    static constexpr size_t default_bound = 65536;
    static constexpr uint64_t target_chunk_ns = 20'000'000;        // 20 ms
    static constexpr uint64_t target_chunk_bytes = uint64_t(1) << 20;  // 1 MiB
    // 6 MiB: with 8, 1,024 results of 1 MiB held 6.8 MiB above start at the
    // peak (medians of 9 runs; one run 11.0), with 6 5.8 (at most 7.2), in
    // the same time; results of 64 KiB 8.4 MiB against 6.2.
    static constexpr uint64_t auto_bound_bytes = uint64_t(6) << 20;
    static constexpr uint64_t credit_bytes = uint64_t(2) << 20;        // 2 MiB
    static constexpr uint64_t min_credit_items = 64;
    static constexpr uint64_t blind_credit_items = 2;

    // workers: processes (1 for in-process); length: UINT64_MAX if unknown.
    chunk_planner(const map_settings& s, uint32_t workers, uint64_t length);

    size_t in_flight_bound(const item_costs& c) const noexcept;
    size_t next_chunk_size(const item_costs& c) noexcept;
    // The size next_chunk_size() would give now, without moving the ramp.
    size_t peek_chunk_size(const item_costs& c) const noexcept;
    // The items one worker may hold, counting a chunk of n it is to get.
    uint64_t credit_items(size_t n, const item_costs& c) const noexcept;
    bool has_credit(uint64_t held_items, size_t n, const item_costs& c) const noexcept {
        return held_items + n <= credit_items(n, c);
    }

private:
    uint64_t slots_ = 1;     // worker threads in all
    uint32_t threads_ = 1;   // per worker
    size_t fixed_ = 0;       // 0: automatic
    size_t bound_ = 0;       // set by the user (0: automatic)
    uint64_t even_ = 0;      // total / slots rounded up, 0 if the total is unknown
    bool two_chunks_ = false;  // credit: two chunks per thread, no more
    size_t size_for(const item_costs& c) const noexcept;
};

}  // namespace pm::core
