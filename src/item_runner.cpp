#include "item_runner.hpp"

#include <exception>

namespace pm::core {

void run_item(const work_spec& work, const worker_context& where, const char* item, size_t len,
              uint64_t index, result_builder& out) {
    out.begin_item();
    pm_sink sink;
    sink.builder = &out;
    sink.context = &where;
    if (where.slot)
        where.slot->index.store(index, std::memory_order_relaxed);
    int rc;
    try {
        rc = work.fn(item, len, index, &sink, work.user_data);
    } catch (const std::exception& e) {
        // A C++ work function's exception becomes the item's error, not a crash.
        rc = -1;
        sink.error = std::string("work function threw: ") + e.what();
        sink.error_set = true;
    } catch (...) {
        rc = -1;
        sink.error = "work function threw a non-standard exception";
        sink.error_set = true;
    }
    if (where.slot)
        where.slot->index.store(activity_slot::idle, std::memory_order_relaxed);
    if (rc == 0) {
        out.end_item_ok();
        return;
    }
    out.end_item_failed(PM_EITEM, sink.error_set ? sink.error
                                                 : "work function returned " +
                                                       std::to_string(rc));
}


}  // namespace pm::core
