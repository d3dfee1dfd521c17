// Move-only owner of one of the library's file descriptors. While owned,
// the descriptor is listed in fd_registry, so that processes the library
// forks close it.
#pragma once

#include <unistd.h>

#include <utility>

#include "fd_registry.hpp"

namespace pm::core {

class unique_fd {
public:
    explicit unique_fd(int fd = -1) noexcept : fd_(fd) {
        if (fd_ >= 0)
            note_library_fd(fd_);
    }
    // A move keeps the descriptor listed.
    unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    unique_fd& operator=(unique_fd&& other) noexcept {
        if (this != &other) {
            reset();
            fd_ = std::exchange(other.fd_, -1);
        }
        return *this;
    }
    unique_fd(const unique_fd&) = delete;
    unique_fd& operator=(const unique_fd&) = delete;
    ~unique_fd() { reset(); }

    int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }
    // The caller owns it now; it is no longer listed.
    int release() noexcept {
        if (fd_ >= 0)
            forget_library_fd(fd_);
        return std::exchange(fd_, -1);
    }
    // close() is not retried on EINTR: on Linux the descriptor is gone either way.
    void reset(int fd = -1) noexcept {
        if (fd_ >= 0) {
            forget_library_fd(fd_);  // before the close: the number may be reused
            ::close(fd_);
        }
        fd_ = fd;
        if (fd_ >= 0)
            note_library_fd(fd_);
    }

private:
    int fd_;
};

}  // namespace pm::core
