#include "child_process.hpp"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sys_io.hpp"

namespace pm::core {

namespace {

// The pipe ends this process holds as a worker of an outer map. A map started
// inside a worker (nesting) must not let its own workers inherit them, or the
// outer parent would never see this worker's pipes close.
int outer_link_fds[2] = {-1, -1};

}  // namespace

child_process& child_process::operator=(child_process&& o) noexcept {
    if (this != &o) {
        kill_and_reap();
        pid_ = std::exchange(o.pid_, -1);
        status_ = o.status_;
    }
    return *this;
}

bool child_process::try_reap() noexcept {
    if (pid_ <= 0)
        return true;
    int st = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &st, WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return false;
    // r < 0 (ECHILD) means someone else reaped it; treat it as gone.
    status_ = r > 0 ? st : 0;
    pid_ = -1;
    return true;
}

bool child_process::reap_until(uint64_t deadline_ns) noexcept {
    long sleep_ns = 100'000;
    while (!try_reap()) {
        if (monotonic_ns() >= deadline_ns)
            return false;
        struct timespec ts = {0, sleep_ns};
        ::nanosleep(&ts, nullptr);
        sleep_ns = sleep_ns < 10'000'000 ? sleep_ns * 2 : sleep_ns;
    }
    return true;
}

void child_process::kill() noexcept {
    if (pid_ > 0)
        ::kill(pid_, SIGKILL);
}

void child_process::kill_and_reap() noexcept {
    if (pid_ <= 0)
        return;
    ::kill(pid_, SIGKILL);
    int st = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &st, 0);
    } while (r < 0 && errno == EINTR);
    status_ = r > 0 ? st : 0;
    pid_ = -1;
}

void remember_outer_links(int task_fd, int result_fd) noexcept {
    outer_link_fds[0] = task_fd;
    outer_link_fds[1] = result_fd;
}

void close_outer_links() noexcept {
    for (int& fd : outer_link_fds) {
        if (fd >= 0)
            ::close(fd);
        fd = -1;
    }
}

}  // namespace pm::core
