#include "sys_io.hpp"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "errors.hpp"

namespace pm::core {

int above_stdio(int fd) noexcept {
    if (fd < 0 || fd > STDERR_FILENO)
        return fd;
    const int moved = ::fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
    if (moved < 0)
        return fd;
    ::close(fd);
    return moved;
}

pipe_pair make_pipe() {
    int fds[2];
    // CLOEXEC: an exec'd program must never hold our ends, or EOF never arrives.
    if (::pipe2(fds, O_CLOEXEC) != 0)
        throw_system_error("pipe2", errno);
    // Both moved before either is listed, so that neither number is reused
    // by the other's move.
    const int read_end = above_stdio(fds[0]);
    const int write_end = above_stdio(fds[1]);
    return pipe_pair{unique_fd(read_end), unique_fd(write_end)};
}

unique_fd make_eventfd() {
    int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        throw_system_error("eventfd", errno);
    return unique_fd(above_stdio(fd));
}

void eventfd_signal(int fd) noexcept {
    uint64_t one = 1;
    // EAGAIN means the counter is saturated: the reader is woken anyway.
    while (::write(fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
}

void eventfd_drain(int fd) noexcept {
    uint64_t value;
    while (::read(fd, &value, sizeof value) < 0 && errno == EINTR) {
    }
}

void set_nonblocking(int fd) {
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        throw_system_error("fcntl(O_NONBLOCK)", errno);
}

void try_grow_pipe(int fd, int bytes) noexcept {
    // May fail with EPERM past the per-user pipe quota; the default size works.
    (void)::fcntl(fd, F_SETPIPE_SZ, bytes);
}

io_result read_exact(int fd, void* buf, size_t len) noexcept {
    char* p = static_cast<char*>(buf);
    size_t done = 0;
    while (done < len) {
        ssize_t n = ::read(fd, p + done, len - done);
        if (n > 0) {
            done += static_cast<size_t>(n);
        } else if (n == 0) {
            if (done == 0)
                return io_result::closed;
            errno = EPIPE;
            return io_result::failed;
        } else if (errno != EINTR) {
            return io_result::failed;
        }
    }
    return io_result::done;
}

io_result writev_all(int fd, struct iovec* iov, int iovcnt) noexcept {
    while (iovcnt > 0) {
        ssize_t n = ::writev(fd, iov, iovcnt > IOV_MAX ? IOV_MAX : iovcnt);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN) {
                struct pollfd pfd = {fd, POLLOUT, 0};
                (void)::poll(&pfd, 1, -1);
                continue;
            }
            return io_result::failed;
        }
        advance_iovecs(iov, iovcnt, static_cast<size_t>(n));
    }
    return io_result::done;
}

void advance_iovecs(struct iovec*& iov, int& iovcnt, size_t n) noexcept {
    while (iovcnt > 0 && n >= iov->iov_len) {
        n -= iov->iov_len;
        ++iov;
        --iovcnt;
    }
    if (iovcnt > 0) {
        iov->iov_base = static_cast<char*>(iov->iov_base) + n;
        iov->iov_len -= n;
    }
}

io_result read_some(int fd, void* buf, size_t len, size_t* got) noexcept {
    *got = 0;
    for (;;) {
        ssize_t n = ::read(fd, buf, len);
        if (n > 0) {
            *got = static_cast<size_t>(n);
            return io_result::done;
        }
        if (n == 0)
            return io_result::closed;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return io_result::would_block;
        return io_result::failed;
    }
}

int wait_fd(int fd, short events, int wake_fd, int timeout_ms) noexcept {
    struct pollfd pfds[2] = {{fd, events, 0}, {wake_fd, POLLIN, 0}};
    int nfds = wake_fd >= 0 ? 2 : 1;
    for (;;) {
        int rc = ::poll(pfds, static_cast<nfds_t>(nfds), timeout_ms);
        if (rc < 0 && errno == EINTR)
            continue;
        if (rc <= 0)
            return 0;
        return pfds[0].revents;
    }
}

bool write_small_no_sigpipe(int fd, const void* data, size_t len) noexcept {
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    // Only consume a SIGPIPE we raised ourselves, not one already pending.
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);

    ssize_t n;
    do {
        n = ::write(fd, data, len);
    } while (n < 0 && errno == EINTR);
    bool ok = n == static_cast<ssize_t>(len);
    if (n < 0 && errno == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, nullptr, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
    return ok;
}

uint32_t online_cpus() noexcept {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? static_cast<uint32_t>(n) : 1u;
}

uint64_t monotonic_ns() noexcept {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace pm::core
