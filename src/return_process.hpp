// ReturnProcess: one function run in a forked child, its result read back on
// join. The child writes one result frame (frame_codec) on a pipe and
// leaves; join reads it while the child writes, so a result of any size
// passes through a pipe of fixed capacity.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "frame_codec.hpp"
#include "parmapper.h"
#include "unique_fd.hpp"

namespace pm::core {

struct process_call {
    pm_process_fn fn = nullptr;
    void* user_data = nullptr;
};

class return_process {
public:
    // Forks now. Throws PM_ESYS (pipe, fork) or std::bad_alloc, leaving no
    // child and no descriptor behind.
    return_process(const process_call& call, bool daemon);
    // A child that was not joined is killed (SIGKILL) and reaped.
    ~return_process() = default;
    return_process(const return_process&) = delete;
    return_process& operator=(const return_process&) = delete;

    // Blocks until the child's outcome is known and the child is reaped.
    // Returns PM_OK (data()/size() hold the result), PM_EITEM, PM_EWORKER,
    // PM_EIO or PM_ENOMEM, with message(); later calls return the same.
    int join() noexcept;
    const std::string& message() const noexcept { return message_; }
    const void* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }

private:
    int read_outcome();
    int ended_early(bool part_way);
    int finish(int status, std::string message);
    std::string describe() const;

    pid_t pid_ = -1;  // kept for messages after the reap
    unique_fd result_fd_;
    child_process child_;  // destroyed first: killed and reaped, then the pipe closes
    bool joined_ = false;
    int status_ = PM_OK;
    std::string message_;
    result_chunk chunk_;
    const void* data_ = nullptr;
    size_t size_ = 0;
};

}  // namespace pm::core
