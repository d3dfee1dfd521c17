// Holds result chunks until they may be released: in input order (a chunk is
// released when every item before it has been), or as they arrive. Ordered,
// the chunks wait in a binary heap on a vector: no allocation per chunk once
// the vector has grown to the number waiting.
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
    std::vector<result_chunk> heap_;  // ordered: a min-heap by first index
    std::deque<result_chunk> fifo_;   // unordered: by arrival
};

}  // namespace pm::core
