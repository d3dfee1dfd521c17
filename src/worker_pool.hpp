// The workers a map runs on: forked processes, or, for an in-process map
// with several threads, one thread of this process running the same worker
// loop over the same kind of channel. Each worker has its own channel, so
// the parent always knows which worker holds which chunks.
//
// Design note for replacement workers (a later issue): the pool only forks in
// start(), before any thread of ours exists for it; a replacement would come
// from a single-threaded template process forked there, not from here.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "channel.hpp"
#include "child_process.hpp"
#include "settings.hpp"

namespace pm::core {

struct worker {
    uint32_t id = 0;
    child_process process;  // forked worker
    std::thread thread;     // in-process worker
    std::unique_ptr<channel> link;  // tasks out, results in
    pid_t pid = -1;         // kept for messages after the reap
    // Written by a map's collector thread; pm_pool_processes() may read it
    // from the caller's thread meanwhile.
    std::atomic<bool> alive{true};

    bool is_process() const noexcept { return pid > 0; }
    std::string describe() const;  // "worker 2 (pid 1234)"
};

class worker_pool {
public:
    // Forks settings.processes workers (or starts one in-process worker
    // thread when in_process). Throws on failure, leaving nothing behind.
    worker_pool(const map_settings& settings, const work_spec& work, bool in_process);
    ~worker_pool();
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    std::vector<std::unique_ptr<worker>>& workers() noexcept { return workers_; }
    uint32_t threads() const noexcept { return threads_; }
    bool in_process() const noexcept { return in_process_; }
    uint32_t live_count() const noexcept;

    // Records a worker as gone: reaps it (killing it if it is still there).
    void retire(worker& w) noexcept;
    // SIGKILL every live forked worker; descriptors stay open until reap.
    void kill_all() noexcept;
    // Stop frames, close the task pipes, wait up to grace_ns for workers to
    // leave, then kill and reap the rest; joins an in-process worker thread.
    void shutdown(uint64_t grace_ns) noexcept;

private:
    std::vector<std::unique_ptr<worker>> workers_;
    uint32_t threads_ = 1;
    bool in_process_ = false;
    bool shut_down_ = false;
};

}  // namespace pm::core
