// The body of a worker: read task frames, run them, write result frames.
// Runs in a forked worker process, or on a thread of the caller's process
// for in-process maps with several threads.
#pragma once

#include <cstdint>

#include "activity_board.hpp"
#include "settings.hpp"

namespace pm::core {

enum worker_exit : int {
    worker_exit_ok = 0,          // stop frame or end of the task stream
    worker_exit_bad_frame = 65,  // the parent sent something we cannot read
    worker_exit_channel = 66,    // a pipe failed (the parent is gone)
    worker_exit_init_failed = 67,  // the worker init hook returned nonzero
    worker_exit_internal = 70,   // out of memory, thread creation failed, ...
};

// Runs the init hook, then tasks until the parent sends a stop frame or
// closes the task pipe (after every chunk read has been run and its results
// written), then the exit hook. board: where thread i marks its item in slot
// i, or null.
worker_exit run_worker_loop(int task_fd, int result_fd, const work_spec& work,
                            uint32_t threads, uint32_t worker_id,
                            activity_board* board) noexcept;

}  // namespace pm::core
