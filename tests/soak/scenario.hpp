// The soak program's random maps: a seeded die, the settings and fault of
// one map (a Scenario), and how they are drawn, for one-shot maps and for
// maps on a pool whose workers carry a fixed fault plan.
#ifndef PARMAPPER_TESTS_SOAK_SCENARIO_HPP
#define PARMAPPER_TESTS_SOAK_SCENARIO_HPP

#include "fault_kit.hpp"

#include <cinttypes>
#include <cstdio>

namespace soak {

using namespace faultkit;

class Dice {
public:
    explicit Dice(uint64_t seed) : state_(seed) {}
    uint64_t next() { return mix(state_++); }
    uint64_t below(uint64_t n) { return n ? next() % n : 0; }
    bool chance(unsigned percent) { return below(100) < percent; }

private:
    uint64_t state_;
};

enum class Input { array, pull };

struct Scenario {
    uint64_t number = 0;
    bool on_pool = false;
    int mode = PM_ERRORS_RAISE;
    bool ordered = true;
    uint32_t processes = 2;
    uint32_t threads = 1;
    size_t chunk = PM_CHUNK_AUTO;
    size_t max_in_flight = 0;
    Input input = Input::array;
    uint64_t count = 0;
    bool faulty = false;
    Fault fault = Fault::error;
    uint64_t at = 0;          // the faulting item, or where the generator fails
    uint64_t take = 0;        // abandon: results taken before destroy
    bool stuck = false;       // abandon: item `at` never returns
    bool cancel = false;      // abandon by pm_map_cancel from another thread
    size_t huge_bytes = 0;
    uint64_t timeout_ms = 0;
    uint32_t retries = 0;
    uint32_t fail_attempts = UINT32_MAX;  // a crash or timeout fires this often
    uint64_t max_items = 0;               // recycling
    uint64_t max_rss = 0;
    bool hooks = false;
    // On a pool, the item its work function fails (from the pool's plan),
    // which a cancelled map's consumer may reach before the cancel.
    Fault pool_fault = Fault::error;
    uint64_t pool_fault_at = UINT64_MAX;

    // A crash or timeout that a retry gets past: the map sees no fault.
    bool recovered() const {
        return faulty && (kills_worker(fault) || fault == Fault::timeout) &&
               fail_attempts <= retries;
    }

    bool forked() const { return processes > 1 && mode != PM_ERRORS_INLINE; }

    std::string describe() const {
        char buf[600];
        snprintf(buf, sizeof buf,
                 "map %" PRIu64 ": %s %s %s p%u t%u chunk %zu bound %zu %s input of %" PRIu64
                 " items, fault %s at %" PRIu64 "%s%s%s; timeout %" PRIu64
                 " ms, retries %u (fault fires %u times), recycle %" PRIu64
                 " items / %" PRIu64 " MiB, hooks %s",
                 number, on_pool ? "pool" : "one-shot",
                 mode == PM_ERRORS_RAISE ? "raise" : mode == PM_ERRORS_RETURN ? "return" : "inline",
                 ordered ? "ordered" : "unordered", processes, threads, chunk, max_in_flight,
                 input == Input::array ? "array" : "pull", count,
                 faulty ? fault_name(fault) : "none", at,
                 fault == Fault::abandon && faulty ? (" after " + std::to_string(take)).c_str() : "",
                 stuck ? " (stuck item)" : "", cancel ? " (cancel)" : "", timeout_ms, retries,
                 fail_attempts == UINT32_MAX ? 0u : fail_attempts, max_items, max_rss >> 20,
                 hooks ? "on" : "off");
        return buf;
    }
};

inline const Fault kCrashes[] = {Fault::segfault, Fault::abort_, Fault::exit0,
                          Fault::exit3,    Fault::sigkill, Fault::timeout};
inline const Fault kSurvivable[] = {Fault::exception, Fault::error, Fault::huge, Fault::generator,
                             Fault::abandon};

// The fault a pool's workers carry: they fork at pm_pool_create(), so the
// plan is fixed for all the pool's maps. Kind none: at is UINT64_MAX.
struct PoolPlan {
    uint32_t processes, threads;
    Fault fault;
    uint64_t at;
    size_t huge_bytes;
    bool hooks;
};

inline PoolPlan draw_pool(uint64_t seed, uint64_t number) {
    Dice d(mix(seed ^ 0xb00f) ^ mix(number));
    PoolPlan p{static_cast<uint32_t>(1 + d.below(4)), static_cast<uint32_t>(1 + d.below(2)),
               Fault::error, UINT64_MAX, 0, d.chance(40)};
    const Fault kinds[] = {Fault::error, Fault::exception, Fault::huge};
    if (d.chance(70)) {
        p.fault = kinds[d.below(3)];
        p.at = d.below(150);
        p.huge_bytes = static_cast<size_t>(1 + d.below(8)) << 20;
    }
    return p;
}

// A one-shot map (pool == nullptr) or a map on a pool with that plan.
inline Scenario draw(uint64_t seed, uint64_t number, const PoolPlan *pool) {
    Dice d(mix(seed) ^ mix(number * 0x9e3779b97f4a7c15ull));
    Scenario s;
    s.number = number;
    s.on_pool = pool != nullptr;
    s.processes = pool ? pool->processes : static_cast<uint32_t>(1 + d.below(4));
    if (pool) {
        s.hooks = pool->hooks;
        s.pool_fault = pool->fault;
        s.pool_fault_at = pool->at;
        s.huge_bytes = pool->huge_bytes;
    }
    s.threads = pool ? pool->threads : static_cast<uint32_t>(1 + d.below(3));
    const uint64_t m = d.below(10);
    s.mode = m < 4 ? PM_ERRORS_RAISE : m < 9 ? PM_ERRORS_RETURN : PM_ERRORS_INLINE;
    if (pool && s.mode == PM_ERRORS_INLINE) s.mode = PM_ERRORS_RETURN;
    s.ordered = d.chance(60);
    const uint64_t c = d.below(4);
    s.chunk = c == 0 ? PM_CHUNK_AUTO : static_cast<size_t>(1 + d.below(c == 1 ? 2 : 9));
    s.max_in_flight = d.chance(30) ? static_cast<size_t>(1 + d.below(64)) : 0;
    s.input = d.chance(50) ? Input::array : Input::pull;
    s.count = d.chance(5) ? d.below(3) : 1 + d.below(d.chance(20) ? 3000 : 200);

    // The item the work function fails on, if this map reaches it.
    const uint64_t item_at = pool ? pool->at : UINT64_MAX;
    if (pool && item_at < s.count) {
        s.faulty = true;
        s.fault = pool->fault;
        s.at = item_at;
        s.huge_bytes = pool->huge_bytes;
    }
    if (s.count == 0 || d.chance(15)) return s;

    // Crashes only where a worker process can die without taking us along;
    // on a pool they would shrink it for good, so pools get the others.
    const bool crash_ok = s.forked() && !pool;
    Fault f;
    if (crash_ok && d.chance(45))
        f = kCrashes[d.below(6)];
    else
        f = kSurvivable[d.below(5)];
    if (pool && f != Fault::generator && f != Fault::abandon) return s;  // the pool's own
    const uint64_t limit = std::min(s.count, item_at);  // items before the pool's fault
    if (pool && limit == 0) return s;
    s.faulty = true;
    s.fault = f;
    s.at = d.below(pool ? limit : s.count);
    if (f == Fault::generator) s.input = Input::pull;
    if (f == Fault::huge) s.huge_bytes = static_cast<size_t>(1 + d.below(16)) << 20;
    if (crash_ok) {
        // Settings only a map of worker processes uses. A generous timeout
        // on maps whose fault is not an endless loop: it must never fire.
        if (f == Fault::timeout)
            s.timeout_ms = 100 + d.below(300);
        else if (d.chance(30))
            s.timeout_ms = 2000 + d.below(2000);
        if (d.chance(40)) s.retries = static_cast<uint32_t>(1 + d.below(2));
        if ((kills_worker(f) || f == Fault::timeout) && s.retries)
            s.fail_attempts = static_cast<uint32_t>(1 + d.below(s.retries + 1));
        if (d.chance(25)) s.max_items = 1 + d.below(40);
        if (d.chance(10)) s.max_rss = (32 + d.below(96)) << 20;
        s.hooks = d.chance(30);
    }
    if (f == Fault::abandon) {
        s.cancel = d.chance(50);
        s.take = d.below(s.count + 1);
        if (item_at < s.count) s.take = s.ordered ? std::min(s.take, item_at) : 0;
        // A stuck work function: only a one-shot map of processes can be
        // abandoned then (its workers are killed). Results travel a chunk at
        // a time, so the caller can take none from the stuck item's chunk
        // on (a fixed chunk size says where it starts), and none unordered
        // (the stuck worker may hold everything left).
        if (crash_ok && d.chance(30)) {
            s.stuck = true;
            if (s.chunk == PM_CHUNK_AUTO) s.chunk = static_cast<size_t>(1 + d.below(4));
            s.take = s.ordered ? std::min(s.take, s.at - s.at % s.chunk) : 0;
        }
    }
    return s;
}

}  // namespace soak

#endif
