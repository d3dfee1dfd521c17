// Holds result chunks until they may be released: in input order (a chunk is
// released when every item before it has been), or as they arrive. Ordered,
// a chunk that continues the run of releasable ones joins that run's queue
// at once (most do: workers answer in about the order they were sent);
// only one that comes early waits in a binary heap on a vector, so neither
// costs an allocation per chunk once the containers have grown.
#pragma once

#include <cstdint>
#include <deque>
#include <vector>

#include "frame_codec.hpp"

namespace pm::core {

class sort_buffer {
public:
    explicit sort_buffer(bool ordered) noexcept : ordered_(ordered) {}

    void push(result_chunk&& chunk);
    // Moves the next releasable chunk into out; false if none is ready.
    bool pop_ready(result_chunk& out);
    bool empty() const noexcept { return heap_.empty() && fifo_.empty(); }
    // Ordered mode: the index of the next item to release.
    uint64_t next_index() const noexcept { return next_; }

private:
    bool ordered_;
    uint64_t next_ = 0;
    uint64_t run_end_ = 0;            // ordered: just past the last chunk in fifo_
    std::vector<result_chunk> heap_;  // ordered: early chunks, a min-heap by first index
    std::deque<result_chunk> fifo_;   // releasable: by arrival, or (ordered) the run in order
};

}  // namespace pm::core
