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

struct map_step {
    int status = PM_OK;  // PM_OK, PM_DONE or a negative PM_E* code
    uint64_t index = 0;
    const void* data = nullptr;
    size_t len = 0;
    bool final = false;  // no step may follow this one
};

class map_engine {
public:
    virtual ~map_engine() = default;
    // Blocks until the next result; a failure's message goes to message.
    virtual map_step next(std::string& message) = 0;
    // The input's length if known, else the total hint (or PM_TOTAL_UNKNOWN).
    virtual uint64_t total() const noexcept = 0;
    // From any thread: make next() (a blocked call too) return PM_ECANCELED
    // soon. Only sets flags and wakes threads; next() does the ending.
    virtual void cancel() noexcept = 0;
};

std::unique_ptr<map_engine> start_direct_map(const map_settings& settings,
                                             const work_spec& work, input_source&& input);

// owns_pool: the map is the pool's only user (a one-shot map): workers are
// killed rather than drained when it ends early, and shut down when it ends.
std::unique_ptr<map_engine> start_pool_map(std::shared_ptr<worker_pool> pool, bool owns_pool,
                                           const map_settings& settings, input_source&& input);

}  // namespace pm::core
