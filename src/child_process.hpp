// Owns one child process id: whoever holds it must reap it. The destructor
// kills and reaps a child that is still there, so no zombie outlives us.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "settings.hpp"

namespace pm::core {

class child_process {
public:
    child_process() = default;
    explicit child_process(pid_t pid) noexcept : pid_(pid) {}
    child_process(child_process&& o) noexcept
        : pid_(std::exchange(o.pid_, -1)), status_(o.status_) {}
    child_process& operator=(child_process&& o) noexcept;
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;
    ~child_process() { kill_and_reap(); }

    pid_t pid() const noexcept { return pid_; }
    bool running() const noexcept { return pid_ > 0; }
    // Wait status of the reaped child (valid once running() is false).
    int wait_status() const noexcept { return status_; }

    // Gives the pid up without reaping it: the caller owns it now.
    pid_t release() noexcept { return std::exchange(pid_, -1); }
    // Reaps the child if it has exited; true if it is gone (now or before).
    bool try_reap() noexcept;
    // Waits for the child to exit until deadline_ns (monotonic clock).
    bool reap_until(uint64_t deadline_ns) noexcept;
    void kill() noexcept;  // SIGKILL, no wait
    void kill_and_reap() noexcept;

private:
    pid_t pid_ = -1;
    int status_ = 0;
};

// Nesting: a worker may start maps of its own. The pipe ends it holds as a
// worker of the outer map must not be inherited by its own template and
// workers, or the outer parent would never see this worker's pipes close.
void remember_outer_links(int task_fd, int result_fd) noexcept;
void close_outer_links() noexcept;

// Which process image this is: bumped in every process the library forks
// (template, worker). A handle remembers the value it was made under, so
// that a copy inherited by a worker is refused instead of used (its threads
// and descriptors do not exist there). A plain load: cheap on every call.
uint64_t process_incarnation() noexcept;
void begin_new_incarnation() noexcept;

}  // namespace pm::core

namespace pm::core {

// Forks a child that runs body(arg) and leaves with _exit(its return value).
// Flushes stdio first, so buffered output is not written twice. In the
// child: every descriptor of the library but those in keep_in_child is
// closed, as are the pipe ends this process holds as a worker of an outer
// map; link_fd (the child's end towards us, or -1) is recorded so that
// workers of a map the child starts do not inherit it; daemon sets
// PR_SET_PDEATHSIG as for workers. Throws PM_ESYS if fork fails.
child_process spawn_child(int (*body)(void*), void* arg, const std::vector<int>& keep_in_child,
                          int link_fd, bool daemon, const fork_hooks& forks = {});

// Gives the signals that end a process on a crash (SIGSEGV, SIGBUS, SIGFPE,
// SIGILL, SIGABRT, SIGTRAP, SIGSYS) their default action, so that a crash is
// reported as its signal even where a runtime installed handlers (Go).
void reset_crash_signals() noexcept;

// In a child this library forked: leaves via _exit(body(arg)) after the
// same set-up for a grandchild (the background process's child): daemon,
// the outer link. Used by the watcher process.
[[noreturn]] void become_child(int (*body)(void*), void* arg, int link_fd, bool daemon,
                               pid_t parent);

}  // namespace pm::core
