// Ownership: leaving a loop early, close(), moving a range, cancelling it
// from another thread, and pools (one set of workers for several maps), with
// no child process and no descriptor left behind.
#include "cpp_test_util.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <list>
#include <string>
#include <thread>
#include <vector>

namespace {

using pmcpp::iota;

class Lifecycle : public pmcpp::Processes {};
PMCPP_FOR_PROCESSES(Lifecycle);

TEST_P(Lifecycle, BreakingOutOfTheLoopStopsAndReapsTheWorkers) {
    const auto fds = pmtest::open_fds();
    for (int round = 0; round < 20; ++round) {
        int seen = 0;
        // An endless generator: only stopping the map ends this loop.
        auto endless = pm::generate([n = 0]() mutable -> std::optional<int> { return n++; });
        for (int r : pm::map([](int x) { return x + 1; }, endless, opts())) {
            ASSERT_EQ(r, seen + 1);
            if (++seen == 5 + round) break;
        }
        EXPECT_EQ(seen, 5 + round);
        ASSERT_TRUE(pmtest::no_children()) << "round " << round;
    }
    EXPECT_EQ(fds, pmtest::open_fds()) << pmtest::fd_diff(fds, pmtest::open_fds());
}

TEST_P(Lifecycle, DestroyingAnUnstartedRangeStopsTheMap) {
    const auto fds = pmtest::open_fds();
    {
        auto map = pm::map([](int x) { return x; }, iota(100000), opts());
        // Dropped before the first step.
    }
    EXPECT_TRUE(pmtest::no_children());
    EXPECT_EQ(fds, pmtest::open_fds()) << pmtest::fd_diff(fds, pmtest::open_fds());
}

TEST_P(Lifecycle, CloseStopsTheMapAndEmptiesTheRange) {
    auto map = pm::map([](int x) { return int64_t(x) * x; }, iota(100000), opts());
    auto it = map.begin();
    EXPECT_EQ(*it, 0);
    map.close();
    EXPECT_TRUE(pmtest::no_children());
    EXPECT_TRUE(map.begin() == map.end());
    map.close();  // again: nothing to do
}

TEST_P(Lifecycle, MovedRangeKeepsTheMap) {
    auto make = [&] { return pm::map([](int x) { return std::to_string(x); }, iota(10), opts()); };
    pm::map_range<std::string> a = make();
    pm::map_range<std::string> b = std::move(a);
    std::vector<std::string> got = pm::to_vector(b);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got[9], "9");
}

TEST_P(Lifecycle, OwnedRangeOutlivesTheCallThatMadeIt) {
    // An rvalue input is moved into the range: no dangling after return.
    auto make = [&](int n) {
        std::list<std::string> words;
        for (int i = 0; i < n; ++i) words.push_back(std::string(size_t(i), 'w'));
        return pm::map([](const std::string& w) { return w.size(); }, std::move(words), opts());
    };
    auto map = make(50);
    size_t i = 0;
    for (size_t len : map) EXPECT_EQ(len, i++);
    EXPECT_EQ(i, 50u);
}

TEST_P(Lifecycle, PoolRunsSeveralMapsOnTheSameWorkers) {
    const auto fds = pmtest::open_fds();
    {
        std::vector<int> table = iota(1000, 5000);
        auto pool = pm::make_pool<int>([&](int i) { return table[size_t(i)] + i; }, opts());
        EXPECT_EQ(pool.processes(), processes() == 1 ? 0u : processes());
        for (int round = 0; round < 5; ++round) {
            std::vector<int> items = iota(100, round * 100);
            std::vector<int> expected;
            for (int i : items) expected.push_back(5000 + 2 * i);
            EXPECT_EQ(pm::to_vector(pool.map(items)), expected) << round;
        }
        // Per-map options and indices; items of a convertible type.
        std::vector<int> seen(10);
        for (auto& r : pool.map(std::vector<short>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, pm::with_index,
                                pm::options{}.ordered(false).chunksize(1))) {
            EXPECT_EQ(r.value, 5000 + 2 * int(r.index));
            seen[r.index]++;
        }
        EXPECT_EQ(seen, std::vector<int>(10, 1));
        EXPECT_EQ(pool.processes(), processes() == 1 ? 0u : processes());
    }
    EXPECT_TRUE(pmtest::no_children());
    EXPECT_EQ(fds, pmtest::open_fds()) << pmtest::fd_diff(fds, pmtest::open_fds());
}

TEST_P(Lifecycle, PoolSeesMemoryAsItWasAtCreation) {
    int base = 100;
    auto pool = pm::make_pool<int>([&](int x) { return base + x; }, opts());
    base = 200;  // workers were forked with 100; in-process, the pool sees 200
    const int expected_base = processes() == 1 ? 200 : 100;
    EXPECT_EQ(pm::to_vector(pool.map(iota(3))),
              (std::vector<int>{expected_base, expected_base + 1, expected_base + 2}));
}

TEST_P(Lifecycle, PoolRefusesASecondMapWhileOneIsAlive) {
    auto pool = pm::make_pool<int>([](int x) { return x; }, opts());
    auto first = pool.map(iota(1000));
    try {
        auto second = pool.map(iota(3));
        FAIL() << "a second map started";
    } catch (const pm::error& e) {
        EXPECT_EQ(e.status(), PM_ESTATE);
    }
    EXPECT_EQ(*first.begin(), 0);
    first.close();
    EXPECT_EQ(pm::to_vector(pool.map(iota(3))), iota(3));
}

TEST_P(Lifecycle, PoolBreakOutAndErrorModesPerMap) {
    auto pool = pm::make_pool<int>(
        [](int x) {
            if (x == 7) throw std::domain_error("seven");
            return x;
        },
        opts().chunksize(2));
    for (int r : pool.map(iota(1000))) {
        if (r == 3) break;  // the map ends; the pool stays
    }
    auto results = pm::to_vector(pool.map(iota(10), pm::options{}.errors(pm::errors::return_)));
    ASSERT_EQ(results.size(), 10u);
    EXPECT_FALSE(results[7]);
    EXPECT_EQ(results[7].error().type_name(), "std::domain_error");
    EXPECT_EQ(results[8].value(), 8);
    try {
        pm::to_vector(pool.map(iota(10), pm::options{}.errors(pm::errors::raise)));
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.index(), 7u);
    }
    // Without per-map options, the pool's own: automatic, which raises
    // pm::worker_error with any number of processes.
    EXPECT_THROW(pm::to_vector(pool.map(iota(10))), pm::worker_error);
    EXPECT_EQ(pm::to_vector(pool.map(iota(5))), iota(5));
}

const pid_t test_process = getpid();  // workers inherit it

// Items from 3 on never finish in a worker process (nothing but a kill
// stops them); in the caller's process, where nothing could stop them, each
// takes 20 ms and a cancel takes effect between two items.
int stuck_from_three(int x) {
    if (x < 3) return x;
    if (getpid() == test_process)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    else
        for (;;) pause();
    return x;
}

// Iterates map on this thread until the iteration throws; returns the
// status of the pm::error it threw (0 if none did) and the results seen.
template <class Range>
int iterate_until_thrown(Range& map, std::vector<int>* seen) {
    try {
        for (int r : map) seen->push_back(r);
    } catch (const pm::error& e) {
        return e.status();
    }
    return 0;
}

TEST_P(Lifecycle, CancellerStopsABlockedIterationFromAnotherThread) {
    const auto fds = pmtest::open_fds();
    {
        auto map = pm::map(stuck_from_three, iota(100000), opts().chunksize(1));
        pm::canceller stop = map.canceller();
        std::vector<int> seen;
        std::thread canceller_thread([stop] {
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            EXPECT_TRUE(stop.cancel());
        });
        const auto start = std::chrono::steady_clock::now();
        const int status = iterate_until_thrown(map, &seen);
        const auto took = std::chrono::steady_clock::now() - start;
        canceller_thread.join();
        EXPECT_EQ(status, PM_ECANCELED);
        EXPECT_LT(took, std::chrono::seconds(5));  // not a speed check: no hang
        ASSERT_GE(seen.size(), 3u);
        EXPECT_EQ(std::vector<int>(seen.begin(), seen.begin() + 3), iota(3));
        // The map is over: the range is empty and the handle reaches nothing.
        EXPECT_TRUE(map.begin() == map.end());
        EXPECT_FALSE(stop.cancel());
    }
    EXPECT_TRUE(pmtest::no_children());
    EXPECT_EQ(fds, pmtest::open_fds()) << pmtest::fd_diff(fds, pmtest::open_fds());
}

TEST_P(Lifecycle, CancellingBeforeTheFirstStepEndsTheMapThere) {
    auto map = pm::map([](int x) { return x; }, iota(1000), opts());
    EXPECT_TRUE(map.canceller().cancel());
    try {
        map.begin();
        FAIL() << "the cancelled map yielded a result";
    } catch (const pm::error& e) {
        EXPECT_EQ(e.status(), PM_ECANCELED);
        EXPECT_NE(std::string(e.what()).find("cancel"), std::string::npos) << e.what();
    }
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(Lifecycle, CancellerOfAnEndedMapDoesNothing) {
    EXPECT_FALSE(pm::canceller().cancel());  // empty
    pm::canceller after_end, after_close, after_range;
    {
        auto map = pm::map([](int x) { return x + 1; }, iota(10), opts());
        after_end = map.canceller();
        EXPECT_EQ(pm::to_vector(map), iota(10, 1));
        EXPECT_FALSE(after_end.cancel());
    }
    {
        auto map = pm::map([](int x) { return x; }, iota(1000), opts());
        after_close = map.canceller();
        map.close();
        EXPECT_FALSE(after_close.cancel());
        EXPECT_FALSE(map.canceller().cancel());  // a closed range's is empty
    }
    {
        auto map = pm::map([](int x) { return x; }, iota(1000), opts());
        after_range = map.canceller();
    }
    EXPECT_FALSE(after_range.cancel());  // the handle outlived its range
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(Lifecycle, CancelledPoolMapLeavesThePoolWhole) {
    auto pool = pm::make_pool<int>(stuck_from_three, opts().chunksize(1));
    for (int round = 0; round < 2; ++round) {
        auto map = pool.map(iota(1000));
        pm::canceller stop = map.canceller();
        std::thread canceller_thread([stop] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            stop.cancel();
        });
        std::vector<int> seen;
        EXPECT_EQ(iterate_until_thrown(map, &seen), PM_ECANCELED) << round;
        canceller_thread.join();
        map.close();
        // Its workers that held stuck items were replaced: the next map runs.
        EXPECT_EQ(pm::to_vector(pool.map(iota(3))), iota(3)) << round;
        EXPECT_EQ(pool.processes(), processes() == 1 ? 0u : processes());
    }
}

TEST(Pool, InlinePoolPropagatesExceptions) {
    auto pool = pm::make_pool<std::string>(
        [](const std::string& s) {
            if (s == "bad") throw std::invalid_argument(s);
            return s + s;
        },
        pm::options{}.processes(3).errors(pm::errors::inline_));
    EXPECT_EQ(pool.processes(), 0u);  // inline: nothing forked
    EXPECT_EQ(pm::to_vector(pool.map(std::vector<std::string>{"a", "b"})),
              (std::vector<std::string>{"aa", "bb"}));
    EXPECT_THROW(pm::to_vector(pool.map(std::vector<std::string>{"a", "bad"})),
                 std::invalid_argument);
    // Per-map options in the default mode: still inline.
    EXPECT_THROW(pm::to_vector(pool.map(std::vector<std::string>{"a", "bad"},
                                        pm::options{}.ordered(false))),
                 std::invalid_argument);
}

TEST(Pool, MapOutlivesItsPool) {
    std::optional<pm::map_range<int>> map;
    {
        auto pool = pm::make_pool<int>([](int x) { return x * 10; },
                                       pm::options{}.processes(2));
        map.emplace(pool.map(iota(50)));
    }
    // The pool object is gone; its workers serve the map to its end.
    std::vector<int> expected;
    for (int x : iota(50)) expected.push_back(x * 10);
    EXPECT_EQ(pm::to_vector(*map), expected);
    map.reset();
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Pool, ArgumentModesAreFixedAtCreation) {
    struct knobs {
        int add = 0;
    };
    auto pool = pm::make_pool<std::pair<int, int>>(
        [](int a, int b, int c, const knobs& k) { return a * b + c + k.add; }, pm::star,
        pm::args(100), pm::kwargs(knobs{1000}), pm::options{}.processes(2));
    std::vector<std::pair<int, int>> items{{2, 3}, {4, 5}};
    EXPECT_EQ(pm::to_vector(pool.map(items)), (std::vector<int>{1106, 1120}));
}

}  // namespace
