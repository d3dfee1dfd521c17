#include "activity_board.hpp"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <new>
#include <utility>

#include "errors.hpp"
#include "sys_io.hpp"

namespace pm::core {

activity_board activity_board::create(uint32_t threads) {
    activity_board b;
    size_t bytes = sizeof(activity_slot) * threads;
    b.fd_.reset(above_stdio(::memfd_create("parmapper-activity", MFD_CLOEXEC)));
    if (!b.fd_)
        throw_system_error("memfd_create", errno);
    if (::ftruncate(b.fd_.get(), static_cast<off_t>(bytes)) != 0)
        throw_system_error("ftruncate", errno);
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, b.fd_.get(), 0);
    if (p == MAP_FAILED)
        throw_system_error("mmap", errno);
    b.slots_ = static_cast<activity_slot*>(p);
    b.size_ = threads;
    for (uint32_t i = 0; i < threads; ++i)
        new (b.slots_ + i) activity_slot();
    return b;
}

activity_board activity_board::attach(int fd, uint32_t threads) noexcept {
    activity_board b;
    b.fd_.reset(fd);
    void* p = ::mmap(nullptr, sizeof(activity_slot) * threads, PROT_READ | PROT_WRITE,
                     MAP_SHARED, fd, 0);
    if (p != MAP_FAILED) {
        b.slots_ = static_cast<activity_slot*>(p);
        b.size_ = threads;
    }
    b.fd_.reset();  // the mapping stays valid without it
    return b;
}

activity_board::activity_board(activity_board&& o) noexcept
    : fd_(std::move(o.fd_)),
      slots_(std::exchange(o.slots_, nullptr)),
      size_(std::exchange(o.size_, 0)) {}

activity_board& activity_board::operator=(activity_board&& o) noexcept {
    if (this != &o) {
        unmap();
        fd_ = std::move(o.fd_);
        slots_ = std::exchange(o.slots_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

activity_board::~activity_board() { unmap(); }

void activity_board::unmap() noexcept {
    if (slots_)
        ::munmap(slots_, sizeof(activity_slot) * size_);
    slots_ = nullptr;
    size_ = 0;
}

}  // namespace pm::core
