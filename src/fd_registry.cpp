#include "fd_registry.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <new>

namespace pm::core {

namespace {

constexpr int fds_per_block = 4096;
constexpr int block_count = 256;  // fds below 2^20
constexpr int words_per_block = fds_per_block / 64;

struct fd_block {
    std::atomic<uint64_t> words[words_per_block];
};

// Zero-initialized before any code runs; blocks are made on first use and
// kept for the life of the process (they are small and few).
std::atomic<fd_block*> blocks[block_count];

fd_block* block_for(int fd, bool create) noexcept {
    if (fd < 0 || fd >= fds_per_block * block_count)
        return nullptr;
    std::atomic<fd_block*>& slot = blocks[fd / fds_per_block];
    fd_block* b = slot.load(std::memory_order_acquire);
    if (b || !create)
        return b;
    fd_block* made = new (std::nothrow) fd_block();
    if (!made)
        return nullptr;
    if (slot.compare_exchange_strong(b, made, std::memory_order_acq_rel))
        return made;
    delete made;  // another thread made it first
    return b;
}

std::atomic<uint64_t>* word_for(int fd, bool create, uint64_t* bit) noexcept {
    fd_block* b = block_for(fd, create);
    if (!b)
        return nullptr;
    const int in_block = fd % fds_per_block;
    *bit = uint64_t(1) << (in_block % 64);
    return &b->words[in_block / 64];
}

}  // namespace

void note_library_fd(int fd) noexcept {
    uint64_t bit;
    if (std::atomic<uint64_t>* w = word_for(fd, true, &bit))
        w->fetch_or(bit, std::memory_order_relaxed);
}

void forget_library_fd(int fd) noexcept {
    uint64_t bit;
    if (std::atomic<uint64_t>* w = word_for(fd, false, &bit))
        w->fetch_and(~bit, std::memory_order_relaxed);
}

void close_library_fds(const int* keep, size_t n) noexcept {
    auto kept = [keep, n](int fd) {
        for (size_t i = 0; i < n; ++i)
            if (keep[i] == fd)
                return true;
        return false;
    };
    for (int k = 0; k < block_count; ++k) {
        fd_block* b = blocks[k].load(std::memory_order_acquire);
        if (!b)
            continue;
        for (int w = 0; w < words_per_block; ++w) {
            uint64_t bits = b->words[w].exchange(0, std::memory_order_relaxed);
            while (bits) {
                const int bit = __builtin_ctzll(bits);
                bits &= bits - 1;
                const int fd = k * fds_per_block + w * 64 + bit;
                if (kept(fd))
                    b->words[w].fetch_or(uint64_t(1) << bit, std::memory_order_relaxed);
                else
                    ::close(fd);
            }
        }
    }
}

}  // namespace pm::core
