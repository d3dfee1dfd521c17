// heavy_fence() and light_fence(): two threads take turns at a plain counter,
// guarded by the pattern pm_map_next()'s fast claim uses (Dekker's, one side
// with light_fence() only, the other with heavy_fence()). No increment may be
// lost and no two turns may overlap. Without heavy_fence() (a compiler
// barrier on both sides) this machine loses increments within a second.
#include <pthread.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "asymmetric_fence.hpp"

namespace pm::core {
namespace {

struct guarded {
    std::atomic<bool> fast_in{false};   // the fast thread's flag
    std::atomic<bool> slow_in{false};   // the slow thread's flag
    uint64_t counter = 0;               // plain: only the turns touch it
    volatile uint64_t owner = 0;        // who is in a turn, to see overlaps
    std::atomic<uint64_t> overlaps{0};
};

// A turn: some writes that another turn running at the same time would
// disturb.
void take_turn(guarded& g, uint64_t me) {
    g.owner = me;
    ++g.counter;
    for (int k = 0; k < 16; ++k)
        if (g.owner != me) {
            g.overlaps.fetch_add(1);
            return;
        }
}

TEST(AsymmetricFence, KeepsTwoSidesOfDekkersPatternApart) {
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer cannot follow membarrier()'s order";
#endif
    if (!heavy_fence_ready())
        GTEST_SKIP() << "membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) is not available here";
    guarded g;
    std::atomic<bool> stop{false};
    uint64_t fast_turns = 0, slow_turns = 0;
    std::thread fast([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            g.fast_in.store(true, std::memory_order_relaxed);
            light_fence();
            if (!g.slow_in.load(std::memory_order_acquire)) {
                take_turn(g, 1);
                ++fast_turns;
            }
            g.fast_in.store(false, std::memory_order_release);
        }
    });
    std::thread slow([&] {
        while (!stop.load(std::memory_order_relaxed)) {
            g.slow_in.store(true);
            ASSERT_TRUE(heavy_fence());
            if (!g.fast_in.load(std::memory_order_acquire)) {
                take_turn(g, 2);
                ++slow_turns;
            }
            g.slow_in.store(false, std::memory_order_release);
        }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    stop.store(true);
    fast.join();
    slow.join();
    EXPECT_EQ(g.overlaps.load(), 0u);
    EXPECT_EQ(g.counter, fast_turns + slow_turns);
    // Both sides got turns: the test tested something.
    EXPECT_GT(fast_turns, 0u);
    EXPECT_GT(slow_turns, 0u);
}

TEST(AsymmetricFence, CanBeTurnedOffForTheFallback) {
    setenv("PARMAPPER_NO_MEMBARRIER", "1", 1);
    EXPECT_FALSE(heavy_fence_ready());
    unsetenv("PARMAPPER_NO_MEMBARRIER");
}

}  // namespace
}  // namespace pm::core
