// The bytes of one received frame's payload. It grows as bytes arrive, so
// two things matter that std::vector<char> does not offer: new bytes are not
// zeroed first (they are about to be overwritten), and growth uses realloc,
// which moves a large buffer by remapping its pages instead of copying and
// faulting them in again. Doubling a vector instead made reading 1 GiB of
// results in 128 MiB frames about twice as slow.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

namespace pm::core {

class payload_buffer {
public:
    payload_buffer() noexcept = default;
    // A copy of size bytes at data (data may be null when size is 0).
    payload_buffer(const void* data, size_t size) {
        resize(size);
        if (size)
            std::memcpy(bytes_.get(), data, size);
    }
    payload_buffer(payload_buffer&& other) noexcept
        : bytes_(std::move(other.bytes_)), size_(std::exchange(other.size_, 0)) {}
    payload_buffer& operator=(payload_buffer&& other) noexcept {
        bytes_ = std::move(other.bytes_);
        size_ = std::exchange(other.size_, 0);
        return *this;
    }

    char* data() noexcept { return bytes_.get(); }
    const char* data() const noexcept { return bytes_.get(); }
    size_t size() const noexcept { return size_; }
    bool empty() const noexcept { return size_ == 0; }

    // Keeps the first min(n, size()) bytes; bytes past them are uninitialized.
    // Throws std::bad_alloc, leaving the buffer as it was.
    void resize(size_t n) {
        if (n == 0) {
            clear();
            return;
        }
        void* grown = std::realloc(bytes_.get(), n);
        if (!grown)
            throw std::bad_alloc();
        (void)bytes_.release();  // realloc took it over
        bytes_.reset(static_cast<char*>(grown));
        size_ = n;
    }
    void clear() noexcept {
        bytes_.reset();
        size_ = 0;
    }

private:
    struct free_bytes {
        void operator()(char* p) const noexcept { std::free(p); }
    };
    // malloc'd memory is aligned for any fundamental type, so the frame's
    // tables may be read in place.
    std::unique_ptr<char, free_bytes> bytes_;
    size_t size_ = 0;
};

}  // namespace pm::core
