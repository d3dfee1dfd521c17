#include "sort_buffer.hpp"

#include <algorithm>
#include <utility>

namespace pm::core {

namespace {

// std::push_heap makes a max-heap: "less" here means "comes later".
bool later(const result_chunk& a, const result_chunk& b) noexcept {
    return a.first_index() > b.first_index();
}

}  // namespace

void sort_buffer::push(result_chunk&& chunk) {
    if (chunk.count() == 0)
        return;
    if (ordered_) {
        heap_.push_back(std::move(chunk));
        std::push_heap(heap_.begin(), heap_.end(), later);
    } else {
        fifo_.push_back(std::move(chunk));
    }
}

bool sort_buffer::pop_ready(result_chunk& out) {
    if (!ordered_) {
        if (fifo_.empty())
            return false;
        out = std::move(fifo_.front());
        fifo_.pop_front();
        return true;
    }
    // Chunks are contiguous runs handed out in order, so the next one to
    // release starts exactly where the last one ended.
    if (heap_.empty() || heap_.front().first_index() != next_)
        return false;
    std::pop_heap(heap_.begin(), heap_.end(), later);
    out = std::move(heap_.back());
    heap_.pop_back();
    next_ += out.count();
    return true;
}

}  // namespace pm::core
