// Bytes appended at the end, as a frame's result data is built: growth is
// geometric (amortised O(1) per append) and new bytes are not zeroed, since
// the caller is about to write them. With std::vector<char>::resize() the
// zeroing and the out-of-line growth check were about a third of a worker's
// instructions per trivial item (callgrind, 8-byte results).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace pm::core {

class byte_builder {
public:
    byte_builder() noexcept = default;
    byte_builder(const byte_builder&) = delete;
    byte_builder& operator=(const byte_builder&) = delete;
    ~byte_builder() { std::free(bytes_); }

    char* data() noexcept { return bytes_; }
    const char* data() const noexcept { return bytes_; }
    size_t size() const noexcept { return size_; }

    // Room for len more bytes at the end, uninitialized; returns where they
    // go (valid until the next append). Throws std::bad_alloc, leaving the
    // bytes as they were.
    char* append(size_t len) {
        if (len > capacity_ - size_)
            grow(len);
        char* at = bytes_ + size_;
        size_ += len;
        return at;
    }
    // The same when it fits without growing; nullptr when it does not.
    char* append_if_room(size_t len) noexcept {
        if (len > capacity_ - size_)
            return nullptr;
        char* at = bytes_ + size_;
        size_ += len;
        return at;
    }
    void append(const void* data, size_t len) {
        if (len)
            std::memcpy(append(len), data, len);
    }
    // Keeps the first n bytes (n <= size()).
    void truncate(size_t n) noexcept { size_ = n < size_ ? n : size_; }
    // Empty; keeps the memory for the next frame.
    void clear() noexcept { size_ = 0; }

private:
    // Out of line: appends that fit stay a few instructions, with no frame.
    [[gnu::noinline]] void grow(size_t len) {
        if (len > SIZE_MAX / 2 - size_)
            throw std::bad_alloc();
        size_t want = size_ + len;
        size_t cap = capacity_ ? capacity_ * 2 : 256;
        if (cap < want)
            cap = want;
        void* grown = std::realloc(bytes_, cap);
        if (!grown)
            throw std::bad_alloc();
        bytes_ = static_cast<char*>(grown);
        capacity_ = cap;
    }

    char* bytes_ = nullptr;
    size_t size_ = 0;
    size_t capacity_ = 0;
};

}  // namespace pm::core
