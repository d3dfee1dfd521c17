// ReturnProcess: one function run in a forked child, its result read back on
// join. The child writes one result frame (frame_codec) on a pipe and
// leaves; join reads it while the child writes, so a result of any size
// passes through a pipe of fixed capacity.
//
// The child is not ours but a grandchild: we fork a small *watcher*, which
// forks the child, reaps it and reports its wait status to us over a pipe.
// So the status cannot be taken from us by the host: a host that ignores
// SIGCHLD (the kernel then reaps its children unseen) or reaps every child
// in a handler would otherwise leave us nothing to report. The watcher
// kills the child on our request, as its parent (no pid reuse race).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "frame_codec.hpp"
#include "parmapper.h"
#include "settings.hpp"
#include "unique_fd.hpp"

namespace pm::core {

struct process_call {
    pm_process_fn fn = nullptr;
    void* user_data = nullptr;
};

class return_process {
public:
    // Forks now. Throws PM_ESYS (pipe, fork) or std::bad_alloc, leaving no
    // process and no descriptor behind.
    return_process(const process_call& call, bool daemon, const fork_hooks& forks = {},
                   bool reset_crash_signals = false);
    // A child that was not joined is killed (SIGKILL) and reaped.
    ~return_process();
    return_process(const return_process&) = delete;
    return_process& operator=(const return_process&) = delete;

    // Blocks until the child's outcome is known and the child is reaped.
    // Returns PM_OK (data()/size() hold the result), PM_EITEM, PM_EWORKER,
    // PM_EIO or PM_ENOMEM, with message(); later calls return the same.
    int join() noexcept;
    const std::string& message() const noexcept { return message_; }
    const void* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }
    pid_t pid() const noexcept { return pid_; }

private:
    int read_outcome();
    int ended_early(bool part_way);
    int finish(int status, std::string message);
    std::string describe() const;

    // The watcher's side: the child's wait status, once it is reaped.
    // Waits until deadline_ns; false if it did not come (the child still
    // runs, or the watcher is gone without saying).
    bool wait_child(uint64_t deadline_ns) noexcept;
    // Asks the watcher to SIGKILL the child, then waits for its report.
    void kill_child() noexcept;
    // Waits for the watcher to exit and reaps it (never signals it: once it
    // is gone, a host that ignores SIGCHLD may already have lost its pid).
    void end_watcher() noexcept;

    pid_t pid_ = -1;          // the child running fn, for messages
    pid_t watcher_ = -1;      // our own child
    unique_fd result_fd_;     // the child's result frame
    unique_fd status_fd_;     // the watcher's reports
    unique_fd control_fd_;    // to the watcher: a byte asks for the kill
    bool child_reaped_ = false;
    bool status_known_ = false;
    int wait_status_ = 0;
    bool joined_ = false;
    int status_ = PM_OK;
    std::string message_;
    result_chunk chunk_;
    const void* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace pm::core
