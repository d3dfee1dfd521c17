// The body of a worker: read task frames, run their items, stream result
// frames back. Runs in a forked worker process, or on a thread of the
// caller's process for in-process maps with several threads.
//
// Tasks are read through a buffer, many frames to a read. Results go out
// when their chunk is done, and before that, part of a chunk at a time,
// once 256 KiB of results wait or the oldest waiting result is 20 ms old
// (checked between items). So large or slow results do not wait for the
// rest of their chunk, nor pile up in the worker; and a result is never held
// back while the worker runs another chunk, which might never end.
#pragma once

#include <cstdint>

#include "activity_board.hpp"
#include "frame_codec.hpp"
#include "settings.hpp"

namespace pm::core {

enum worker_exit : int {
    worker_exit_ok = 0,          // stop frame or end of the task stream
    worker_exit_bad_frame = 65,  // the parent sent something we cannot read
    worker_exit_channel = 66,    // a pipe failed (the parent is gone)
    worker_exit_init_failed = 67,  // the worker init hook returned nonzero
    // Exec mode (worker_serve.hpp):
    worker_exit_unknown_work = 68,  // the work function's name is not registered
    worker_exit_no_serve = 69,      // main did not call pm_worker_serve() first
    worker_exit_internal = 70,   // out of memory, thread creation failed, ...
    worker_exit_bad_role = 71,      // the role in the environment is not understood
};

// Runs the init hook, then tasks until the parent sends a stop frame or
// closes the task pipe (after every chunk read has been run and its results
// written), then the exit hook. board: where thread i marks its item in slot
// i, or null. input: what range frames refer to (unusable: none may come).
// task_fd is made nonblocking.
worker_exit run_worker_loop(int task_fd, int result_fd, const work_spec& work,
                            uint32_t threads, uint32_t worker_id, activity_board* board,
                            const inherited_input& input) noexcept;

}  // namespace pm::core
