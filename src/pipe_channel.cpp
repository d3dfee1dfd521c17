#include "pipe_channel.hpp"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>

#include "parmapper.h"

namespace pm::core {

namespace {

constexpr int pipe_bytes = 1 << 20;
constexpr int send_wait_ms = 100;

}  // namespace

pipe_link pipe_link::create() {
    pipe_link link{make_pipe(), make_pipe()};
    try_grow_pipe(link.tasks.write_end.get(), pipe_bytes);
    try_grow_pipe(link.results.write_end.get(), pipe_bytes);
    // Nonblocking on our side only: the feeder must be able to give up on a
    // stuck worker, and the consumer reads whichever worker is ready.
    set_nonblocking(link.tasks.write_end.get());
    set_nonblocking(link.results.read_end.get());
    return link;
}

pipe_channel::pipe_channel(pipe_link& link)
    : task_fd_(std::move(link.tasks.write_end)), result_fd_(std::move(link.results.read_end)) {}

pipe_channel::pipe_channel(unique_fd task_write_end, unique_fd result_read_end)
    : task_fd_(std::move(task_write_end)), result_fd_(std::move(result_read_end)) {
    set_nonblocking(task_fd_.get());
    set_nonblocking(result_fd_.get());
}

frame_reader::status pipe_channel::read_frame(std::string* problem) {
    return reader_.read(result_fd_.get(), PM_MAX_CHUNK_SIZE, problem);
}

bool pipe_channel::send(struct iovec* iov, int iovcnt, int wake_fd,
                        const std::function<bool()>& give_up) {
    const int fd = task_fd_.get();
    while (iovcnt > 0) {
        ssize_t n = ::writev(fd, iov, std::min(iovcnt, IOV_MAX));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                return false;  // EPIPE: the caller's thread has SIGPIPE blocked
            (void)wait_fd(fd, POLLOUT, wake_fd, send_wait_ms);
            if (wake_fd >= 0)
                eventfd_drain(wake_fd);
            if (give_up())
                return false;
            continue;
        }
        advance_iovecs(iov, iovcnt, static_cast<size_t>(n));
    }
    return true;
}

void pipe_channel::send_stop() noexcept {
    if (!task_fd_)
        return;
    // A stop frame ends the worker even if some other process inherited a
    // copy of our end of its task pipe, which would hide the close.
    const frame_header stop = make_header(frame_type::stop, 0, 0, 0);
    (void)write_small_no_sigpipe(task_fd_.get(), &stop, sizeof stop);
}

void pipe_channel::close() noexcept {
    task_fd_.reset();
    result_fd_.reset();
}

}  // namespace pm::core
