#include "child_process.hpp"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "errors.hpp"
#include "fd_registry.hpp"
#include "pidfd.hpp"
#include "sys_io.hpp"
#include "worker_loop.hpp"

namespace pm::core {

namespace {

// The pipe ends this process holds as a worker of an outer map. A map started
// inside a worker (nesting) must not let its own workers inherit them, or the
// outer parent would never see this worker's pipes close.
int outer_link_fds[2] = {-1, -1};

uint64_t incarnation = 0;  // only written right after a fork, single-threaded

}  // namespace

uint64_t process_incarnation() noexcept { return incarnation; }

void begin_new_incarnation() noexcept { ++incarnation; }

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
    if (try_reap())
        return true;
    // A pidfd says the moment it exits (a pool's template leaves some tens
    // of microseconds after its quit: the first sleep below, 100 us and the
    // timer's slack, was most of a pool's stop). The pid is not reaped yet,
    // so it cannot name another process.
    if (pidfds_work()) {
        unique_fd watch(open_pidfd(pid_));
        if (watch) {
            for (;;) {
                const uint64_t now = monotonic_ns();
                if (now >= deadline_ns)
                    return try_reap();
                struct pollfd p = {watch.get(), POLLIN, 0};
                const int rc =
                    ::poll(&p, 1, static_cast<int>((deadline_ns - now) / 1'000'000 + 1));
                if (rc > 0 || (rc < 0 && errno != EINTR))
                    break;
            }
            if (try_reap())
                return true;
            // Readable, yet not reapable: fall back to the sleeping loop.
        }
    }
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

namespace pm::core {

void become_child(int (*body)(void*), void* arg, int link_fd, bool daemon, pid_t parent) {
    if (daemon) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent)
            ::_exit(worker_exit_channel);
    }
    outer_link_fds[1] = link_fd;
    ::_exit(body(arg));
}

void reset_crash_signals() noexcept {
    struct sigaction dfl = {};
    dfl.sa_handler = SIG_DFL;
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP, SIGSYS})
        ::sigaction(sig, &dfl, nullptr);
}

child_process spawn_child(int (*body)(void*), void* arg, const std::vector<int>& keep_in_child,
                          int link_fd, bool daemon, const fork_hooks& forks) {
    // Buffered output would otherwise be written by us and again by the child.
    std::fflush(nullptr);
    std::cout.flush();
    std::cerr.flush();
    std::clog.flush();
    const pid_t parent = ::getpid();
    forks.before();
    pid_t pid = ::fork();
    const int fork_errno = errno;
    if (pid != 0) {
        forks.after_in_parent();
        if (pid < 0)
            throw_system_error("fork", fork_errno);
        return child_process(pid);
    }
    forks.after_in_child();

    // In the child: as in a worker, leave only through _exit.
    begin_new_incarnation();
    // Ours towards the child, and other maps' and pools' descriptors.
    close_library_fds(keep_in_child.data(), keep_in_child.size());
    for (int& fd : outer_link_fds) {
        if (fd >= 0)
            ::close(fd);
        fd = -1;
    }
    become_child(body, arg, link_fd, daemon, parent);
}

}  // namespace pm::core
