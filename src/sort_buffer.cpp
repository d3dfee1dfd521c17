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
    if (!ordered_) {
        fifo_.push_back(std::move(chunk));
        return;
    }
    // Chunks are contiguous runs handed out in order: the one that starts
    // where the releasable run ends extends it, and so may early ones.
    if (chunk.first_index() != run_end_) {
        heap_.push_back(std::move(chunk));
        std::push_heap(heap_.begin(), heap_.end(), later);
        return;
    }
    run_end_ += chunk.count();
    fifo_.push_back(std::move(chunk));
    while (!heap_.empty() && heap_.front().first_index() == run_end_) {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        run_end_ += heap_.back().count();
        fifo_.push_back(std::move(heap_.back()));
        heap_.pop_back();
    }
}

bool sort_buffer::pop_ready(result_chunk& out) {
    if (fifo_.empty())
        return false;
    out = std::move(fifo_.front());
    fifo_.pop_front();
    if (ordered_)
        next_ += out.count();
    return true;
}

}  // namespace pm::core
