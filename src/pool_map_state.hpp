// What the three threads of a pool map share. The feeder thread reads the
// input into chunks and sends each to a worker with free credit; the
// collector thread reads result frames from every worker, notices dead
// workers, and files results in the sort buffer; the caller's thread, in
// pm_map_next(), takes results out of the sort buffer. Everything below the
// mutex is guarded by it.
//
// Ownership of descriptors and processes: only the collector reads channels
// and reaps or kills workers while the map runs; only the feeder sends. The
// caller's thread touches the pool only after joining both.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "chunk_planner.hpp"
#include "frame_codec.hpp"
#include "input_source.hpp"
#include "settings.hpp"
#include "sort_buffer.hpp"
#include "unique_fd.hpp"
#include "worker_pool.hpp"

namespace pm::core {

struct held_chunk {
    uint64_t first;
    uint32_t count;
    uint32_t done = 0;  // results received: items first .. first + done - 1
    // A pull input's items as the task carried them (length table, then the
    // bytes), kept so that they can run again; null for an array input,
    // whose items are looked up where they lie.
    std::shared_ptr<const std::vector<char>> items;
};

// What the collector last saw a worker thread running, for timeouts.
struct seen_activity {
    uint64_t index = UINT64_MAX;
    uint64_t since_ns = 0;
};

// A worker's chunks in the order sent. Answers come in that order, so the
// front one is taken off (a deque: no shift of the rest, which at chunk
// size 1 are the whole in-flight window).
using held_chunks = std::deque<held_chunk>;

// The scheduler's view of one worker.
struct worker_schedule {
    held_chunks held;              // chunks sent and not yet answered in full
    uint64_t held_items = 0;       // their items not yet answered
    uint64_t items_sent = 0;       // to this worker (this incarnation), for recycling
    uint64_t generation = 0;       // the worker's; a replacement bumps it
    // The worker's channel, published here for the feeder: the collector
    // replaces the worker's own (worker::link) outside the mutex.
    std::shared_ptr<channel> link;
    bool usable = true;            // alive, and its channel works
    bool broken = false;           // the feeder saw its channel fail
    bool retiring = false;         // recycled: no new chunks, stop when idle
    bool replacing = false;        // gone, and a replacement is on its way
    bool stop_sent = false;
    // Deaths of this slot's workers in a row, in this map, that no item can
    // be blamed for (not while running an item) and before any result.
    uint32_t deaths_without_result = 0;
    uint64_t rss_checked_ns = 0;
    uint64_t idle_since_ns = 0;       // holding chunks, running none, since
    uint64_t last_result_ns = 0;
    std::vector<seen_activity> seen;  // per worker thread
};

struct pool_map_state {
    pool_map_state(std::shared_ptr<worker_pool> p, bool killable_pool, const map_settings& s,
                   uint64_t input_length);

    std::shared_ptr<worker_pool> pool;
    const bool killable;  // a one-shot pool of processes: kill, don't drain
    const map_settings settings;
    chunk_planner planner;  // under the mutex

    const bool rerun;     // items of a dead worker can run again on another
    const bool replace;   // dead workers are replaced while the map runs
    // One-shot map over an array input: the workers inherited the input,
    // so chunks travel as index ranges (range frames), without item bytes.
    const bool ranges;
    // The input's item i where it lies (array inputs), for items to run
    // again; unset for pull inputs, whose chunks keep copies instead.
    std::function<void(uint64_t, const char**, size_t*)> item_at;

    std::atomic<bool> stop{false};          // stop feeding (and, if killable, kill)
    std::atomic<bool> cancelled{false};     // pm_map_cancel: end now
    std::atomic<uint64_t> drain_deadline_ns{UINT64_MAX};  // pool map ending: kill holders after
    // Measured by the collector from result frames (means, 0: not yet).
    std::atomic<uint64_t> ns_per_item{0};
    std::atomic<uint64_t> result_bytes_per_item{0};
    unique_fd feeder_wake;                  // -> feeder: stop
    unique_fd collector_wake;               // -> collector: state changed

    std::mutex mutex;
    std::condition_variable room;     // feeder waits: in-flight room, credit
    // Under the mutex: what the feeder, asleep in its wait for work, lacks,
    // so that a change to something else need not wake it (at chunk size 1
    // it was woken for every result and every release, and mostly went back
    // to sleep or sent one item). Anywhere else it waits for anything.
    enum class feeder_lack { anything, room, credit, room_and_credit };
    feeder_lack feeder_lacks = feeder_lack::anything;
    // Under the mutex: the items a worker may hold now (the planner's
    // credit for the chunk size it would pick).
    uint64_t credit_cap() const noexcept;
    // Whether a worker holding held_items of cap has a quarter of its credit
    // free, enough for the feeder to write to it.
    static bool credit_worth_a_write(uint64_t cap, uint64_t held_items) noexcept {
        return held_items < cap && cap - held_items >= std::max<uint64_t>(1, cap / 4);
    }
    std::condition_variable results;  // consumer waits: a result, or the end
    std::vector<worker_schedule> sched;
    sort_buffer sorter;
    uint64_t in_flight = 0;     // read from the input, not yet released
    uint64_t dispatched = 0;    // items read and sent (= the next chunk's index)
    uint64_t stop_at = UINT64_MAX;  // raise mode: no item from here is needed
    // Items to send again, lowest index first, so that the results an
    // ordered consumer waits for come before any later item's.
    std::map<uint64_t, std::vector<char>> reruns;
    std::unordered_map<uint64_t, uint32_t> attempts;  // failed attempts so far
    std::string last_loss;      // how the last worker to go went, for messages
    bool feeder_done = false;
    int feed_status = PM_OK;    // why the feeder stopped early
    std::string feed_message;
    bool collector_done = false;
    int collect_status = PM_OK;  // why the collector failed, if it did
    std::string collect_message;

    // Wakes the feeder out of a wait for room or a slow send.
    void wake_feeder() noexcept;
    void wake_collector() noexcept;
    // True while some worker holds a chunk or an item waits to run again.
    bool work_outstanding() const noexcept;
    item_costs costs() const noexcept {
        item_costs c;
        c.ns = ns_per_item.load(std::memory_order_relaxed);
        c.result_bytes = result_bytes_per_item.load(std::memory_order_relaxed);
        return c;
    }
    // Under the mutex: in raise mode, a failure of item index means nothing
    // from index + 1 on is needed; items waiting to run again there are
    // dropped, so that no rerun can outlive the failure that ends the map.
    void note_final_failure(uint64_t index);
    // Under the mutex, as the feeder ends (with feeder_done set in the same
    // hold, so that no rerun can be queued after it): the items waiting to
    // run again get a failure, so that an ordered consumer is not left
    // waiting for them, or are dropped once nobody waits (stop).
    void fail_reruns(int status, const std::string& message);
};

// "item 5" or "items 5 to 11", for messages.
std::string item_range(uint64_t first, uint32_t count);

// Thread bodies; they never throw.
void run_feeder(pool_map_state& st, input_source& input) noexcept;
void run_collector(pool_map_state& st) noexcept;

}  // namespace pm::core
