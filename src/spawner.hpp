// The template process. A pool of worker processes forks it once, when the
// pool starts, before any thread of ours exists for the pool; the template
// then forks every worker of the pool, the first ones and any replacement, on
// request. So a replacement is never forked from the caller's process once
// our threads run in it (forking a multithreaded process copies locks that
// other threads hold), and every worker starts from the same memory image:
// the caller's at pool creation.
//
// The template is the workers' parent: it reaps them and reports each exit
// status back over its socket. The caller holds an exit watch per worker: a
// descriptor that polls readable once the worker is gone. It is the worker's
// pidfd where the kernel offers pidfd_open (Linux 5.3); where it does not, or
// under valgrind, which does not know that call, or when the environment sets
// PARMAPPER_NO_PIDFD=1, it is the read end of a pipe whose write end only
// the template holds and closes when it reaps the worker. Kills never race
// pid reuse: through the pidfd, or sent by the template, the worker's parent,
// which knows whether it has reaped that pid yet.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "child_process.hpp"
#include "frame_codec.hpp"
#include "settings.hpp"
#include "unique_fd.hpp"

namespace pm::core {

// What every worker of a pool runs.
struct worker_recipe {
    work_spec work;
    uint32_t threads = 1;
    bool daemon = true;
    inherited_input input;  // a one-shot map's array input, for range frames
    fork_hooks forks;       // around the template's fork and each worker's
    bool reset_crash_signals = false;
    // Exec mode: the template and the workers are fresh runs of the program
    // (exec_start.hpp), which find the work and hooks by these names.
    bool exec = false;
    std::string work_name;
    std::string hooks_name;
};

struct spawned_worker {
    pid_t pid = -1;
    unique_fd exit_watch;  // CLOEXEC; polls readable once the worker is gone
};

// Worker `id`, to be forked with these ends of its channel and its activity
// board (our copies stay ours: close them after).
struct spawn_request {
    uint32_t id = 0;
    int task_read_fd = -1;
    int result_write_fd = -1;
    int board_fd = -1;
};

class spawner {
public:
    // Forks the template. The caller flushes stdio first. Throws PM_ESYS.
    explicit spawner(const worker_recipe& recipe);
    ~spawner() { close(); }
    spawner(const spawner&) = delete;
    spawner& operator=(const spawner&) = delete;

    // Has the template fork worker `id` with these ends of its channel and
    // its activity board (our copies stay ours: close them after). Throws
    // PM_ESYS when the fork fails or the template is gone. Thread-safe.
    spawned_worker spawn(uint32_t id, int task_read_fd, int result_write_fd, int board_fd);
    // spawn() for n workers, every request sent before the first reply is
    // read, so that the template forks them back to back instead of waiting
    // for us between them (a pool's start). Their order in out is reqs'.
    // Keep n small (descriptors travel in flight). Throws as spawn(): the
    // workers started before a failure end when our ends of their channels
    // close. Thread-safe.
    void spawn_all(const spawn_request* reqs, size_t n, spawned_worker* out);

    // The wait status the template reported for worker pid, waiting for the
    // report until deadline_ns (monotonic). False if it did not come (the
    // template is gone, or the worker is still running). Thread-safe.
    bool wait_status(pid_t pid, uint64_t deadline_ns, int* status);

    // SIGKILL for a worker this spawner started and whose exit watch is still
    // open. Best effort, never blocks; thread-safe.
    void kill(pid_t pid, int exit_watch) noexcept;

    // True when exit watches are pidfds (false: pipes closed by the template).
    bool uses_pidfds() const noexcept { return use_pidfds_; }

    // Ends the template: it reaps the workers it still has (stop or kill them
    // first, or it waits for them) and exits, and we reap it. Idempotent.
    void close() noexcept;

    pid_t pid() const noexcept { return template_.pid(); }

private:
    struct reply;
    // Reads one message from the template, filing exit reports; waits up to
    // timeout_ms. False on timeout or when the template is gone.
    bool read_reply(int timeout_ms, reply* out);
    // ": it exited with status N (...)" once the template is gone, or "".
    std::string template_end();
    // Sends one spawn request (mutex_ held); throws PM_ESYS if it cannot.
    void send_spawn(const spawn_request& req);
    // The template's answer to the spawn request for worker id (mutex_ held).
    spawned_worker await_spawned(uint32_t id, uint64_t deadline_ns);

    std::mutex mutex_;       // one conversation with the template at a time
    std::mutex send_mutex_;  // kill requests, which must not wait for a conversation
    unique_fd sock_;         // closed only by close(), under both mutexes
    bool template_gone_ = false;  // under mutex_
    bool use_pidfds_ = true;
    child_process template_;
    std::unordered_map<pid_t, int> exits_;  // reported, not yet asked for
};

// True once the worker behind an exit watch is gone (nonblocking).
bool worker_exited(int exit_watch) noexcept;

}  // namespace pm::core
