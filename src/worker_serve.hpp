// The start of a process the library started by exec (exec_start.hpp): its
// environment names its role, and pm_worker_serve() serves it (the template
// of a pool, or a worker) instead of returning to the program's main.
#pragma once

namespace pm::core {

// Serves the role this process was started for and leaves with _exit, or
// returns at once in a process started as anything else.
void serve_if_started_as_worker() noexcept;

// A process started as a worker whose main did not call pm_worker_serve()
// first: it must not run the program (it would do the caller's work a
// second time). Leaves with _exit(worker_exit_no_serve) if so.
void refuse_if_started_as_worker() noexcept;

}  // namespace pm::core
