// What each thread of a worker process is running, in memory shared between
// the worker and the parent. The parent samples it to time items out (an
// item seen running for longer than the timeout) and to name the item a
// worker died in, without a message or a clock read per item: the worker
// does two plain stores per item, cheap enough to keep on always.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "unique_fd.hpp"

namespace pm::core {

struct activity_slot {
    static constexpr uint64_t idle = UINT64_MAX;
    static constexpr uint64_t starting = UINT64_MAX - 1;  // in the init hook
    std::atomic<uint64_t> index{idle};  // item running now, idle or starting
    static bool runs_item(uint64_t v) noexcept { return v < starting; }
    char pad[56];  // one cache line per thread: no false sharing
};
static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "slots are shared between processes");

class activity_board {
public:
    activity_board() = default;
    // A new board of `threads` slots in a memfd (CLOEXEC); throws PM_ESYS.
    static activity_board create(uint32_t threads);
    // Maps the board a worker received; nullptr-like board on failure.
    static activity_board attach(int fd, uint32_t threads) noexcept;
    activity_board(activity_board&& o) noexcept;
    activity_board& operator=(activity_board&& o) noexcept;
    activity_board(const activity_board&) = delete;
    activity_board& operator=(const activity_board&) = delete;
    ~activity_board();

    int fd() const noexcept { return fd_.get(); }
    void close_fd() noexcept { fd_.reset(); }
    uint32_t size() const noexcept { return size_; }
    activity_slot* slot(uint32_t i) noexcept { return i < size_ ? slots_ + i : nullptr; }

private:
    void unmap() noexcept;
    unique_fd fd_;
    activity_slot* slots_ = nullptr;
    uint32_t size_ = 0;
};

}  // namespace pm::core
