// The template process. A pool of worker processes forks it once, when the
// pool starts, before any thread of ours exists for the pool; the template
// then forks every worker of the pool, the first ones and any replacement, on
// request. So a replacement is never forked from the caller's process once
// our threads run in it (forking a multithreaded process copies locks that
// other threads hold), and every worker starts from the same memory image:
// the caller's at pool creation.
//
// The template is the workers' parent: it reaps them and reports each exit
// status back over its socket. The caller holds a pidfd per worker, so it can
// poll for a worker's exit and signal it without racing pid reuse.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "child_process.hpp"
#include "settings.hpp"
#include "unique_fd.hpp"

namespace pm::core {

// What every worker of a pool runs.
struct worker_recipe {
    work_spec work;
    uint32_t threads = 1;
    bool daemon = true;
};

struct spawned_worker {
    pid_t pid = -1;
    unique_fd pidfd;  // CLOEXEC
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

    // The wait status the template reported for worker pid, waiting for the
    // report until deadline_ns (monotonic). False if it did not come (the
    // template is gone, or the worker is still running). Thread-safe.
    bool wait_status(pid_t pid, uint64_t deadline_ns, int* status);

    // Ends the template: it reaps the workers it still has (stop or kill them
    // first, or it waits for them) and exits, and we reap it. Idempotent.
    void close() noexcept;

    pid_t pid() const noexcept { return template_.pid(); }

private:
    struct reply;
    // Reads one message from the template, filing exit reports; waits up to
    // timeout_ms. False on timeout or when the template is gone.
    bool read_reply(int timeout_ms, reply* out);

    std::mutex mutex_;  // one conversation with the template at a time
    unique_fd sock_;
    child_process template_;
    std::unordered_map<pid_t, int> exits_;  // reported, not yet asked for
};

// Sends SIGKILL through a pidfd: never hits a reused pid. Best effort.
void kill_by_pidfd(int pidfd) noexcept;
// True once the process behind the pidfd has exited (nonblocking).
bool pidfd_exited(int pidfd) noexcept;

}  // namespace pm::core
