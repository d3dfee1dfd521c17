// The workers a map runs on: processes forked by the pool's template process
// (spawner.hpp), or, for an in-process map with several threads, one thread
// of this process running the same worker loop over the same kind of channel.
// Each worker has its own channel, so the parent always knows which worker
// holds which chunks, and its own activity board, so the parent knows which
// item each of its threads is running.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "activity_board.hpp"
#include "channel.hpp"
#include "settings.hpp"
#include "spawner.hpp"
#include "unique_fd.hpp"

namespace pm::core {

struct pipe_link;

struct worker {
    uint32_t id = 0;          // its slot in the pool; a replacement keeps it
    uint64_t generation = 0;  // bumped by each replacement
    // Shared so that the feeder can finish (or give up) a send to a worker
    // the collector has just replaced.
    std::shared_ptr<channel> link;  // tasks out, results in
    std::thread thread;             // in-process worker
    pid_t pid = -1;                 // kept for messages after the reap
    unique_fd exit_watch;           // polls readable once the process is gone (spawner.hpp)
    activity_board board;           // what its threads are running
    int wait_status = 0;            // once reaped, if status_known
    bool status_known = false;
    // A stream worker: the far end of a pair of descriptors the caller
    // connected (pm_pool_create_streams()), no process or thread of ours.
    bool stream = false;
    uint64_t items_done = 0;        // since it started, for recycling
    // Written by a map's collector thread; pm_pool_processes() may read it
    // from the caller's thread meanwhile.
    std::atomic<bool> alive{true};

    bool is_process() const noexcept { return pid > 0; }
    std::string describe() const;  // "worker 2 (pid 1234)"
    std::string how_it_ended() const;  // "was killed by signal 9 (Killed)"
};

class worker_pool {
public:
    // Starts settings.processes workers (or one in-process worker thread
    // when in_process). input: a one-shot map's array input, which the
    // workers then find items in by index (unusable for a pool's, whose
    // inputs come after the fork). Throws on failure, leaving nothing behind.
    worker_pool(const map_settings& settings, const work_spec& work, bool in_process,
                const inherited_input& input = {});
    // Stream workers: one per pair of ends (tasks out, results in), which the
    // pool owns from here on; each runs up to settings.threads items at once
    // at its far end. Never replaced.
    worker_pool(const map_settings& settings, std::vector<unique_fd> task_write_ends,
                std::vector<unique_fd> result_read_ends);
    ~worker_pool();
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    std::vector<std::unique_ptr<worker>>& workers() noexcept { return workers_; }
    uint32_t threads() const noexcept { return threads_; }
    bool in_process() const noexcept { return in_process_; }
    // The workers can read the map's input themselves (range frames).
    bool workers_have_input() const noexcept { return input_.usable(); }
    uint32_t live_count() const noexcept;
    // Workers can be replaced (they are processes and the template lives).
    bool can_replace() const noexcept { return !in_process_ && spawner_ != nullptr; }

    // Records a worker as gone: kills it if it is still there and collects
    // its exit status from the template.
    void retire(worker& w) noexcept;
    // Starts a new process in a retired worker's slot. False (logged) if that
    // failed; the slot stays retired.
    bool replace(worker& w) noexcept;
    // SIGKILL a live forked worker; its descriptors stay open until retire.
    void kill(worker& w) noexcept;
    // Closes the channels of the stream workers that were retired, so that
    // their far ends stop. Only once no map thread can use them (a map's
    // feeder may still be writing to a channel its collector retired).
    void close_retired_streams() noexcept;
    // kill() every live forked worker.
    void kill_all() noexcept;
    // Stop frames, close the task pipes, wait up to grace_ns for workers to
    // leave, then kill the rest and collect them; joins an in-process worker
    // thread; ends the template.
    void shutdown(uint64_t grace_ns) noexcept;

private:
    void start_process(worker& w);
    // The pool's first n worker processes, ids 0 .. n-1, into workers_.
    void start_first_processes(uint32_t n);
    // w takes a started worker's channel (our ends), board and watch.
    void adopt_process(worker& w, pipe_link& link, activity_board board, spawned_worker s);

    std::unique_ptr<spawner> spawner_;
    std::vector<std::unique_ptr<worker>> workers_;
    uint32_t threads_ = 1;
    bool in_process_ = false;
    bool shut_down_ = false;
    inherited_input input_;
};

}  // namespace pm::core
