#include "sort_buffer.hpp"

#include <utility>

namespace pm::core {

void sort_buffer::push(result_chunk&& chunk) {
    if (chunk.count() == 0)
        return;
    if (ordered_)
        pending_.emplace(chunk.first_index(), std::move(chunk));
    else
        fifo_.push_back(std::move(chunk));
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
    auto it = pending_.begin();
    if (it == pending_.end() || it->first != next_)
        return false;
    out = std::move(it->second);
    pending_.erase(it);
    next_ += out.count();
    return true;
}

}  // namespace pm::core
