// A running map, as the C API steps it. Two engines implement it: the direct
// engine runs items one by one on the calling thread (one process, one
// thread); the pool engine feeds chunks to a worker_pool (forked workers, or
// an in-process worker thread) and collects their results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "input_source.hpp"
#include "settings.hpp"

namespace pm::core {

class worker_pool;

// One item's outcome as a step hands it out: a result (status PM_OK: data,
// len), or a failure (its status, message and payload in data, len).
struct map_entry {
    uint64_t index = 0;
    int status = PM_OK;
    const void* data = nullptr;
    size_t len = 0;
    const char* message = nullptr;
    size_t message_len = 0;
};

class map_engine {
public:
    virtual ~map_engine() = default;
    // Fills out[0 .. *count) with up to max entries (max >= 1): waits until
    // one is ready, the map ends, or deadline_ns (monotonic clock; UINT64_MAX:
    // none) passes, then takes what is ready without waiting more. Returns
    // PM_OK (the map goes on), PM_DONE (it is over; the entries are its last
    // results), PM_EAGAIN (the deadline passed, *count 0), or a final failure
    // code: the map is over and its last entry is that failure (index 0 when
    // it concerns no item); message holds the failure's text. Pointers stay
    // valid until the next call or the engine's end.
    virtual int next_batch(map_entry* out, size_t max, uint64_t deadline_ns, size_t* count,
                           std::string& message) = 0;
    // Without locking or waiting: up to max more results from the chunk
    // that the last next_batch() took its entries from, stopping before a
    // failure (next_batch() reports it) and at the chunk's end. Taking them
    // changes neither the in-flight count nor the memory held (a chunk is
    // released whole, by next_batch()); their pointers stay valid as that
    // call's do. Lets pm_map_next() hand out a chunk's results one per call
    // without a step of the engine each. Returns how many.
    virtual size_t take_more_of_chunk(map_entry* out, size_t max) noexcept {
        (void)out;
        (void)max;
        return 0;
    }
    // The input's length if known, else the total hint (or PM_TOTAL_UNKNOWN).
    virtual uint64_t total() const noexcept = 0;
    // From any thread: make next_batch() (a blocked call too) return
    // PM_ECANCELED soon. Only sets flags and wakes threads; next_batch()
    // does the ending.
    virtual void cancel() noexcept = 0;
};

std::unique_ptr<map_engine> start_direct_map(const map_settings& settings,
                                             const work_spec& work, input_source&& input);

// owns_pool: the map is the pool's only user (a one-shot map): workers are
// killed rather than drained when it ends early, and shut down when it ends.
std::unique_ptr<map_engine> start_pool_map(std::shared_ptr<worker_pool> pool, bool owns_pool,
                                           const map_settings& settings, input_source&& input);

}  // namespace pm::core
