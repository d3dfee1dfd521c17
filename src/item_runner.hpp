// Runs the work function over items, collecting results in a result_builder.
// Shared by worker processes, in-process worker threads and the direct path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "activity_board.hpp"
#include "frame_codec.hpp"
#include "settings.hpp"

namespace pm::core {

// Where an item runs: the worker's id and init-hook state, and the activity
// slot of the running thread (null when nobody watches).
struct worker_context {
    uint32_t worker_id = 0;
    void* state = nullptr;
    activity_slot* slot = nullptr;
};

}  // namespace pm::core

// What a pm_work_fn writes into. Defined here because the C API only has the
// opaque name.
struct pm_sink {
    pm::core::result_builder* builder = nullptr;
    std::string error;
    bool error_set = false;
    const pm::core::worker_context* context = nullptr;
};

namespace pm::core {

// Runs one item and appends its result (or failure) to out.
void run_item(const work_spec& work, const worker_context& where, const char* item, size_t len,
              uint64_t index, result_builder& out);
// Runs every item of a task, in order.
void run_chunk(const work_spec& work, const worker_context& where, const task_view& task,
               result_builder& out);

}  // namespace pm::core
