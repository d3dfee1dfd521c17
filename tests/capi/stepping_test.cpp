// Stepping a map from more than one thread: handed from thread to thread
// (allowed: one at a time), and from two at once (a misuse the library must
// survive: the second call gets PM_ESTATE, no result is lost or doubled).
// Each test runs twice: with pm_map_next()'s fast claim (heavy_fence()) and
// with its fallback (PARMAPPER_NO_MEMBARRIER=1), a locked instruction.
#include "capi_test_util.hpp"

#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace {

using namespace pmtest;

// Sets PARMAPPER_NO_MEMBARRIER for the maps created in its lifetime.
class FenceMode {
public:
    explicit FenceMode(bool fallback) {
        if (fallback)
            setenv("PARMAPPER_NO_MEMBARRIER", "1", 1);
    }
    ~FenceMode() { unsetenv("PARMAPPER_NO_MEMBARRIER"); }
    FenceMode(const FenceMode &) = delete;
    FenceMode &operator=(const FenceMode &) = delete;
};

constexpr size_t handoff_items = 20000;

// Two threads, alive throughout, take turns (handing the map over under a
// mutex), each turn a stretch of results that ends inside or across what
// pm_map_next() took ahead: the map goes on where it stopped. Living
// threads keep their ids apart, so each turn is a change of thread.
TEST(Stepping, HandedFromThreadToThreadGoesOnWhereItStopped) {
    for (bool fallback : {false, true}) {
        SCOPED_TRACE(fallback ? "locked fallback" : "fast claim");
        const std::vector<uint64_t> items = make_items(handoff_items);
        Map map;
        {
            FenceMode mode(fallback);
            map = start_map(Config{}, array_input(items), checksum_work);
        }
        ASSERT_TRUE(map);
        std::vector<Step> steps;
        std::vector<int> stepped_by;  // which thread took each step
        // Stretches of 1, 37, 1000, ... steps: across and inside the windows.
        const size_t stretches[] = {1, 37, 1000, 5, 2049, 64, 63, 65};
        std::mutex turn_lock;
        std::condition_variable turn_changed;
        int turn_of = 0;
        size_t turn = 0;
        bool over = false;
        auto take_turns = [&](int me) {
            std::unique_lock<std::mutex> hold(turn_lock);
            for (;;) {
                turn_changed.wait(hold, [&] { return over || turn_of == me; });
                if (over)
                    return;
                const size_t stretch = stretches[turn++ % (sizeof stretches / sizeof *stretches)];
                for (size_t i = 0; i < stretch && !over; ++i) {
                    steps.push_back(next_step(map.get()));
                    stepped_by.push_back(me);
                    over = steps.back().status != PM_OK;
                }
                turn_of = 1 - me;
                turn_changed.notify_all();
            }
        };
        std::thread a(take_turns, 0), b(take_turns, 1);
        a.join();
        b.join();
        EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
        size_t changes = 0;
        for (size_t i = 1; i < stepped_by.size(); ++i)
            changes += stepped_by[i] != stepped_by[i - 1];
        EXPECT_GT(changes, 20u) << "the map changed threads too rarely to test anything";
        map.reset();
        EXPECT_TRUE(no_children());
    }
}

// Two threads stepping one map at once: every call gives a result, the end,
// or PM_ESTATE with its message; every result comes exactly once. A race
// is a matter of nanoseconds: several rounds, so that a broken claim shows.
TEST(Stepping, TwoThreadsAtOnceGetEachResultOnce) {
    constexpr size_t n = 50000;
    for (int round = 0; round < 8; ++round) {
        const bool fallback = round % 2 == 1;
        SCOPED_TRACE(std::string(fallback ? "locked fallback" : "fast claim") + ", round " +
                     std::to_string(round / 2));
        const std::vector<uint64_t> items = make_items(n);
        Config cfg;
        cfg.chunk = 100;
        Map map;
        {
            FenceMode mode(fallback);
            map = start_map(cfg, array_input(items), checksum_work);
        }
        ASSERT_TRUE(map);
        std::atomic<bool> over{false};
        std::vector<uint64_t> got[2];
        std::string trouble[2];
        auto step_loop = [&](int me) {
            while (!over.load()) {
                uint64_t index = 0;
                const void *data = nullptr;
                size_t len = 0;
                const int rc = pm_map_next(map.get(), &index, &data, &len);
                if (rc == PM_OK) {
                    // data may be gone once the other thread steps: only
                    // the index is kept.
                    got[me].push_back(index);
                } else if (rc == PM_DONE) {
                    over.store(true);
                } else if (rc == PM_ESTATE) {
                    // Its message names the step that runs, or the end.
                    const std::string e = pm_last_error();
                    if (e.find("another step of this map is running") == std::string::npos &&
                        e.find("the map is over") == std::string::npos)
                        trouble[me] = "PM_ESTATE with message: " + e;
                } else {
                    trouble[me] = std::string(pm_status_str(rc)) + ": " + pm_last_error();
                    over.store(true);
                }
            }
        };
        std::thread a(step_loop, 0), b(step_loop, 1);
        a.join();
        b.join();
        EXPECT_EQ(trouble[0], "");
        EXPECT_EQ(trouble[1], "");
        std::vector<unsigned> seen(n, 0);
        for (const auto &list : got)
            for (size_t k = 0; k < list.size(); ++k) {
                ASSERT_LT(list[k], n);
                ++seen[list[k]];
                // In order: each thread's share rises.
                if (k > 0) {
                    ASSERT_LT(list[k - 1], list[k]);
                }
            }
        size_t wrong = 0;
        for (size_t i = 0; i < n; ++i)
            if (seen[i] != 1 && ++wrong <= 5)
                ADD_FAILURE() << "result " << i << " came " << seen[i] << " times";
        EXPECT_EQ(got[0].size() + got[1].size(), n);
        map.reset();
        EXPECT_TRUE(no_children());
    }
}

}  // namespace
