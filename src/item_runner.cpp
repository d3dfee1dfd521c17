#include "item_runner.hpp"

#include <exception>

namespace pm::core {

void run_item(const work_spec& work, const worker_context& where, const char* item, size_t len,
              uint64_t index, result_builder& out) {
    pm_sink sink;
    run_item(work, where, item, len, index, out, sink);
}

void clear_sink_failure(pm_sink& sink) noexcept {
    sink.error.clear();
    sink.error_set = false;
    sink.payload.clear();
}

int work_fn_threw(pm_sink& sink, const char* what) noexcept {
    try {
        sink.error = what ? std::string("work function threw: ") + what
                          : std::string("work function threw a non-standard exception");
    } catch (...) {
        sink.error.clear();  // no memory for the message: the status still says it
    }
    sink.error_set = true;
    return -1;
}

void end_failed_item(pm_sink& sink, int rc, result_builder& out) {
    out.end_item_failed(PM_EITEM,
                        sink.error_set ? sink.error : "work function returned " + std::to_string(rc),
                        sink.payload);
}

bool end_chunk_item(pm_sink* sink, bool failed) {
    if (!sink->in_chunk || sink->ended >= sink->chunk_count)
        return false;
    if (failed)
        sink->builder->end_item_failed(PM_EITEM,
                                       sink->error_set ? sink->error
                                                       : "the chunk function failed the item",
                                       sink->payload);
    else
        sink->builder->end_item_ok();
    sink->error.clear();
    sink->error_set = false;
    sink->payload.clear();
    ++sink->ended;
    if (sink->context->slot)
        sink->context->slot->index.store(sink->ended < sink->chunk_count
                                             ? sink->first_index + sink->ended
                                             : activity_slot::idle,
                                         std::memory_order_relaxed);
    if (sink->ended < sink->chunk_count)
        sink->builder->begin_item();
    return true;
}

void run_chunk_fn(const work_spec& work, const worker_context& where, uint64_t first_index,
                  uint32_t count, const void* const* items, const size_t* lens,
                  result_builder& out) {
    if (count == 0)
        return;
    pm_sink sink;
    sink.builder = &out;
    sink.context = &where;
    sink.chunk_count = count;
    sink.first_index = first_index;
    sink.in_chunk = true;
    out.begin_item();
    if (where.slot)
        where.slot->index.store(first_index, std::memory_order_relaxed);
    int rc;
    std::string thrown;
    try {
        rc = work.chunk_fn(first_index, count, items, lens, &sink, work.user_data);
    } catch (const std::exception& e) {
        rc = -1;
        thrown = std::string("chunk function threw: ") + e.what();
    } catch (...) {
        rc = -1;
        thrown = "chunk function threw a non-standard exception";
    }
    // Items it did not end fail.
    if (sink.ended < count) {
        const std::string why =
            !thrown.empty()             ? thrown
            : rc != 0 && sink.error_set ? sink.error
            : rc != 0                   ? "the chunk function returned " + std::to_string(rc)
                                        : "the chunk function returned before ending item " +
                                std::to_string(first_index + sink.ended);
        const std::string payload = rc != 0 ? sink.payload : std::string();
        while (sink.ended < count) {
            sink.error = why;
            sink.error_set = true;
            sink.payload = payload;
            end_chunk_item(&sink, true);
        }
    }
    if (where.slot)
        where.slot->index.store(activity_slot::idle, std::memory_order_relaxed);
}


}  // namespace pm::core
