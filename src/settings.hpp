// Map and pool settings as the C API's pm_options holds them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "parmapper.h"

namespace pm::core {

struct map_settings {
    uint32_t processes = 0;  // 0: online CPUs
    uint32_t threads = 1;
    size_t chunk_size = PM_CHUNK_AUTO;
    bool ordered = true;
    uint64_t total_hint = PM_TOTAL_UNKNOWN;
    int error_mode = PM_ERRORS_RAISE;
    size_t max_in_flight = 0;  // 0: automatic
    bool daemon = true;
    pm_progress_fn progress = nullptr;
    void* progress_user_data = nullptr;
    // Worker faults and recycling (0: off). Per map, also on a pool.
    uint64_t item_timeout_ms = 0;
    uint32_t retries = 0;
    uint64_t max_items_per_worker = 0;
    uint64_t max_worker_rss = 0;
    // Worker hooks: fixed when workers start (a pool's come from its creation).
    pm_worker_init_fn worker_init = nullptr;
    pm_worker_exit_fn worker_exit = nullptr;
    void* hooks_user_data = nullptr;
    bool progress_bar = false;   // draw the built-in bar on stderr
    std::string progress_label;  // sanitized; empty for none
    // For runtimes and bindings (since 0.3).
    pm_fork_fn fork_prepare = nullptr;
    pm_fork_fn fork_parent = nullptr;
    pm_fork_fn fork_child = nullptr;
    void* fork_user_data = nullptr;
    pm_thread_fn thread_start = nullptr;
    pm_thread_fn thread_stop = nullptr;
    void* thread_user_data = nullptr;
    char* error_buffer = nullptr;
    size_t error_buffer_len = 0;
    bool reset_crash_signals = false;
    // How workers start (since 0.3): PM_START_FORK, PM_START_EXEC, or -1
    // for the default (PARMAPPER_START in the environment, else fork).
    int start_method = -1;
    std::string hooks_name;  // exec mode: the worker hooks' registered name
};

// The fork hooks, as every forking part of the engine calls them.
struct fork_hooks {
    pm_fork_fn prepare = nullptr;
    pm_fork_fn parent = nullptr;
    pm_fork_fn child = nullptr;
    void* user_data = nullptr;

    static fork_hooks of(const map_settings& s) noexcept {
        return {s.fork_prepare, s.fork_parent, s.fork_child, s.fork_user_data};
    }
    void before() const noexcept {
        if (prepare)
            prepare(user_data);
    }
    void after_in_parent() const noexcept {
        if (parent)
            parent(user_data);
    }
    void after_in_child() const noexcept {
        if (child)
            child(user_data);
    }
};

// The work function and its user_data, and the hooks around a worker's life,
// as a worker calls them.
struct work_spec {
    pm_work_fn fn = nullptr;
    void* user_data = nullptr;
    pm_worker_init_fn init = nullptr;
    pm_worker_exit_fn exit = nullptr;
    void* hooks_user_data = nullptr;
    pm_chunk_fn chunk_fn = nullptr;  // instead of fn: a chunk at a time
    pm_thread_fn thread_start = nullptr;
    pm_thread_fn thread_stop = nullptr;
    void* thread_user_data = nullptr;
    // Exec mode: the names the workers find the work and hooks by.
    std::string name;
    std::string hooks_name;
};

}  // namespace pm::core
