// Runs the work function over items, collecting results in a result_builder.
// Shared by worker processes, in-process worker threads and the direct path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <exception>
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
    std::string payload;  // the failure's bytes besides its message
    const pm::core::worker_context* context = nullptr;
    // In a pm_chunk_fn: items of the chunk, how many are ended.
    uint32_t chunk_count = 0;
    uint32_t ended = 0;
    uint64_t first_index = 0;
    bool in_chunk = false;
};

namespace pm::core {

// Runs one item and appends its result (or failure) to out.
void run_item(const work_spec& work, const worker_context& where, const char* item, size_t len,
              uint64_t index, result_builder& out);

// The parts of run_item() below that run only when an item fails.
void clear_sink_failure(pm_sink& sink) noexcept;
void end_failed_item(pm_sink& sink, int rc, result_builder& out);
int work_fn_threw(pm_sink& sink, const char* what) noexcept;

// The same with a sink kept from item to item (a loop over many items):
// it is reset here, so no item sees another's error or payload. Inline: on
// trivial items the call and its set-up were a third of a worker's
// instructions; the failure paths stay out of line.
inline void run_item(const work_spec& work, const worker_context& where, const char* item,
                     size_t len, uint64_t index, result_builder& out, pm_sink& sink) {
    out.begin_item();
    if (sink.error_set || !sink.payload.empty())
        clear_sink_failure(sink);
    sink.builder = &out;
    sink.context = &where;
    activity_slot* const slot = where.slot;
    if (slot)
        slot->index.store(index, std::memory_order_relaxed);
    int rc;
    try {
        rc = work.fn(item, len, index, &sink, work.user_data);
    } catch (const std::exception& e) {
        // A C++ work function's exception becomes the item's error, not a crash.
        rc = work_fn_threw(sink, e.what());
    } catch (...) {
        rc = work_fn_threw(sink, nullptr);
    }
    if (slot)
        slot->index.store(activity_slot::idle, std::memory_order_relaxed);
    if (rc == 0)
        out.end_item_ok();
    else
        end_failed_item(sink, rc, out);
}

// Runs a chunk work function over count items from first_index, appending
// one result (or failure) per item to out.
void run_chunk_fn(const work_spec& work, const worker_context& where, uint64_t first_index,
                  uint32_t count, const void* const* items, const size_t* lens,
                  result_builder& out);
// pm_sink_end_item() in a chunk function: false if not allowed there.
bool end_chunk_item(pm_sink* sink, bool failed);

// Walks a task's items in order, whatever its shape (frame_codec.hpp).
class task_items {
public:
    explicit task_items(const task_view& task) noexcept : task_(task) {}
    // Item next_index(): its bytes; call at most task.count times.
    void next(const char** data, size_t* len) noexcept {
        if (task_.lens) {
            *data = task_.bytes + offset_;
            *len = static_cast<size_t>(task_.len_at(i_));
            offset_ += *len;
        } else if (task_.records) {
            *data = static_cast<const char*>(task_.records[i_]);
            *len = task_.record_lens[i_];
        } else {
            *data = task_.bytes + i_ * task_.record_size;
            *len = task_.record_size;
        }
        ++i_;
    }
    uint32_t done() const noexcept { return i_; }
    bool more() const noexcept { return i_ < task_.count; }
    uint64_t next_index() const noexcept { return task_.first_index + i_; }

private:
    const task_view& task_;
    uint32_t i_ = 0;
    size_t offset_ = 0;
};

}  // namespace pm::core
