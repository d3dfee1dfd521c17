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
    bool progress_bar = false;   // draw the built-in bar on stderr
    std::string progress_label;  // sanitized; empty for none
};

// The work function and its user_data, as a worker calls them.
struct work_spec {
    pm_work_fn fn = nullptr;
    void* user_data = nullptr;
};

}  // namespace pm::core
