// Lifetimes: destroying maps part-way, pools, what forked workers see,
// destroy and progress callbacks, nesting, daemon workers.
#include "capi_test_util.hpp"

#include <sys/mman.h>

#include <pthread.h>

namespace {

using namespace pmtest;

// Result: the item's uint64 value times 3, and the index.
int triple_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    if (len != 8) return 1;
    uint64_t v;
    memcpy(&v, item, 8);
    const uint64_t r[2] = {v * 3, index};
    return pm_sink_write(out, r, sizeof r) == PM_OK ? 0 : 1;
}

std::string triple_expected(uint64_t v, uint64_t index) {
    const uint64_t r[2] = {v * 3, index};
    return std::string(reinterpret_cast<const char *>(r), sizeof r);
}

// ---------------------------------------------------------------------------
// Destroying part-way.

TEST(MapDestroy, EndlessGeneratorPartWayStopsAndReaps) {
    const auto fds_before = open_fds();
    for (uint32_t processes : {1u, 2u, 4u}) {
        for (size_t chunk : {size_t{1}, size_t{PM_CHUNK_AUTO}}) {
            for (bool ordered : {true, false}) {
                SCOPED_TRACE("processes " + std::to_string(processes) + " chunk " +
                             std::to_string(chunk) + (ordered ? " ordered" : " unordered"));
                set_watchdog(15);
                EndlessGen gen;
                Counter map_destroyed;
                Config cfg;
                cfg.processes = processes;
                cfg.chunk = chunk;
                cfg.ordered = ordered;
                Options opts = make_options(cfg);
                pm_input *in = nullptr;
                ASSERT_EQ(pm_input_create_pull(&in, endless_fn, &gen, endless_destroy), PM_OK);
                pm_map *raw = nullptr;
                ASSERT_EQ(pm_map_create(&raw, opts.get(), in, triple_work, &map_destroyed,
                                        count_destroy),
                          PM_OK);
                std::vector<bool> seen(1000 + 70000);
                for (uint64_t i = 0; i < 1000; ++i) {
                    const Step s = next_step(raw);
                    ASSERT_EQ(s.status, PM_OK) << describe(s);
                    if (ordered) {
                        ASSERT_EQ(s.index, i);
                    }
                    ASSERT_LT(s.index, seen.size());
                    ASSERT_FALSE(seen[s.index]);
                    seen[s.index] = true;
                    // The endless generator pushes its counter: value == index.
                    ASSERT_EQ(s.data, triple_expected(s.index, s.index));
                }
                EXPECT_EQ(map_destroyed.n.load(), 0);
                pm_map_destroy(raw);
                EXPECT_EQ(map_destroyed.n.load(), 1);
                EXPECT_EQ(gen.destroyed.load(), 1);
                EXPECT_TRUE(no_children());
                // The feeder stopped: the generator is not called any more.
                const uint64_t pushed = gen.pushed.load();
                usleep(20000);
                EXPECT_EQ(gen.pushed.load(), pushed);
            }
        }
    }
    const auto fds_after = open_fds();
    EXPECT_EQ(fds_before, fds_after) << fd_diff(fds_before, fds_after);
}

TEST(MapDestroy, BeforeFirstStepAndAfterOneStep) {
    const std::vector<uint64_t> items = make_items(100000);
    for (int steps : {0, 1}) {
        for (uint32_t processes : {1u, 2u}) {
            Config cfg;
            cfg.processes = processes;
            cfg.chunk = 1;
            Options opts = make_options(cfg);
            pm_map *raw = nullptr;
            ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), checksum_work,
                                    nullptr, nullptr),
                      PM_OK);
            for (int k = 0; k < steps; ++k) EXPECT_EQ(next_step(raw).status, PM_OK);
            pm_map_destroy(raw);
            EXPECT_TRUE(no_children());
        }
    }
}

TEST(Feeder, StopsReadingAtInFlightBound) {
    // The parent must not read the input far ahead of the consumer.
    const size_t bound = 100;
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        EndlessGen gen;
        Config cfg;
        cfg.processes = processes;
        cfg.chunk = 1;
        cfg.max_in_flight = bound;
        Options opts = make_options(cfg);
        pm_input *in = nullptr;
        ASSERT_EQ(pm_input_create_pull(&in, endless_fn, &gen, endless_destroy), PM_OK);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), in, triple_work, nullptr, nullptr), PM_OK);
        Map map(raw);
        for (uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(next_step(raw).status, PM_OK);
        usleep(50000); // let the feeder run ahead as far as it will
        EXPECT_LE(gen.pushed.load(), 1000u + bound + 1);
        EXPECT_GE(gen.pushed.load(), 1000u);
    }
}

// Item 0 waits, in its worker, until the test lets it go (shared memory).
std::atomic<int> *g_release = nullptr;

int held_first_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (index == 0)
        while (g_release->load() == 0) usleep(1000);
    return triple_work(item, len, index, out, ud);
}

struct BatchGen {
    std::atomic<uint64_t> pushed{0};
    size_t per_call = 1;
};

int batch_gen_fn(pm_feed *feed, void *ud) {
    BatchGen *g = static_cast<BatchGen *>(ud);
    for (size_t k = 0; k < g->per_call; ++k) {
        const uint64_t v = g->pushed.load();
        if (pm_feed_push(feed, &v, sizeof v) != PM_OK) return -1;
        g->pushed++;
    }
    return PM_OK;
}

// Issue 8, item 4: with automatic chunks the feeder read up to a chunk past
// the bound (110,000 to 123,000 items for a bound of 100,000). It reads
// exactly up to it now; a callback that pushes several items per call can
// pass it by at most the rest of its last call.
TEST(Feeder, NeverReadsPastTheBoundWithAutomaticChunks) {
    PM_SKIP_IN_EXEC_MODE("item 0 waits on an inherited shared mapping");
    void *mem = mmap(nullptr, sizeof(std::atomic<int>), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    const size_t bound = 100000;
    for (size_t per_call : {size_t(1), size_t(7)}) {
        SCOPED_TRACE("per call " + std::to_string(per_call));
        g_release = new (mem) std::atomic<int>(0);
        BatchGen gen;
        gen.per_call = per_call;
        Config cfg;
        cfg.max_in_flight = bound;
        Options opts = make_options(cfg);
        pm_input *in = nullptr;
        ASSERT_EQ(pm_input_create_pull(&in, batch_gen_fn, &gen, nullptr), PM_OK);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), in, held_first_work, nullptr, nullptr),
                  PM_OK);
        Map map(raw);
        // Until item 0 is let go nothing is delivered: wait until the
        // feeder stops reading.
        uint64_t seen = 0;
        for (int quiet = 0, k = 0; quiet < 20 && k < 1000; ++k) {
            usleep(10000);
            const uint64_t now = gen.pushed.load();
            quiet = now == seen ? quiet + 1 : 0;
            seen = now;
        }
        if (per_call == 1) {
            EXPECT_EQ(seen, bound);
        } else {
            EXPECT_GE(seen, bound);
            EXPECT_LE(seen, bound + per_call - 1);
        }
        g_release->store(1);
        for (uint64_t i = 0; i < 1000; ++i) ASSERT_EQ(next_step(raw).status, PM_OK);
    }
    g_release = nullptr;
    munmap(mem, sizeof(std::atomic<int>));
}

// Counts work calls across processes: a shared mapping made before the fork.
std::atomic<uint64_t> *g_calls = nullptr;

int counting_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    g_calls->fetch_add(1);
    return checksum_work(item, len, index, out, ud);
}

TEST(Feeder, WorkersKeepGoingWhileTheCallerIsBusy) {
    PM_SKIP_IN_EXEC_MODE("the workers count into an inherited shared mapping");
    // Results are collected in the background, so the workers run ahead of a
    // caller that does not step the map, up to the in-flight bound and no
    // further.
    void *mem = mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(mem, MAP_FAILED);
    g_calls = new (mem) std::atomic<uint64_t>(0);
    const size_t bound = 64;
    const std::vector<uint64_t> items = make_items(1000);
    Config cfg;
    cfg.chunk = 1;
    cfg.max_in_flight = bound;
    Map map = start_map(cfg, array_input(items), counting_work);
    ASSERT_TRUE(map);
    for (int waited = 0; g_calls->load() < bound && waited < 10000; ++waited)
        usleep(1000);
    EXPECT_EQ(g_calls->load(), bound) << "workers did not run ahead of the caller";
    usleep(50000);
    EXPECT_EQ(g_calls->load(), bound) << "workers ran past the in-flight bound";
    std::vector<Step> steps = drain(map.get());
    const std::vector<std::string> expected = expected_results(items);
    EXPECT_EQ(check_ordered(steps, expected), 0u);
    EXPECT_EQ(g_calls->load(), items.size());
    map.reset();
    g_calls = nullptr;
    munmap(mem, sizeof(std::atomic<uint64_t>));
}

// ---------------------------------------------------------------------------
// What workers see.

volatile uint64_t g_snapshot_value = 0;

int snapshot_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    const uint64_t v = g_snapshot_value;
    return pm_sink_write(out, &v, sizeof v) == PM_OK ? 0 : 1;
}

std::vector<uint64_t> values_of(const std::vector<Step> &steps) {
    std::vector<uint64_t> v;
    for (const Step &s : steps) {
        if (s.status != PM_OK) continue;
        uint64_t x = 0;
        EXPECT_EQ(s.data.size(), 8u);
        if (s.data.size() == 8) memcpy(&x, s.data.data(), 8);
        v.push_back(x);
    }
    return v;
}

TEST(ForkSnapshot, OneShotMapSeesMemoryAtCreate) {
    PM_SKIP_IN_EXEC_MODE("it checks what a forked worker inherits");
    const std::vector<uint64_t> items = make_items(50);
    Config cfg;
    cfg.processes = 2;
    cfg.chunk = 1;
    Options opts = make_options(cfg);
    g_snapshot_value = 3;
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), snapshot_work, nullptr,
                            nullptr),
              PM_OK);
    Map map(raw);
    g_snapshot_value = 4; // after the fork: invisible to workers
    const std::vector<uint64_t> seen = values_of(drain(raw));
    EXPECT_EQ(seen, std::vector<uint64_t>(items.size(), 3));
}

int writing_work(const void *, size_t, uint64_t, pm_sink *out, void *ud) {
    // Writes to a global and to user_data stay in the worker.
    g_snapshot_value = 777;
    static_cast<Counter *>(ud)->n++;
    return pm_sink_write(out, "", 0) == PM_OK ? 0 : 1;
}

TEST(ForkSnapshot, WorkerWritesStayInWorker) {
    PM_SKIP_IN_EXEC_MODE("it checks what a forked worker inherits");
    const std::vector<uint64_t> items = make_items(20);
    Config cfg;
    cfg.processes = 2;
    Options opts = make_options(cfg);
    g_snapshot_value = 5;
    Counter ud;
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), writing_work, &ud, nullptr),
              PM_OK);
    Map map(raw);
    EXPECT_EQ(drain(raw).back().status, PM_DONE);
    const uint64_t after = g_snapshot_value;
    EXPECT_EQ(after, 5u);
    EXPECT_EQ(ud.n.load(), 0);
}

TEST(ForkSnapshot, PoolSeesMemoryAtPoolCreation) {
    PM_SKIP_IN_EXEC_MODE("it checks what a forked worker inherits");
    const std::vector<uint64_t> items = make_items(40);
    Config cfg;
    cfg.processes = 2;
    cfg.chunk = 1;
    g_snapshot_value = 1;
    Pool pool = start_pool(cfg, snapshot_work);
    ASSERT_TRUE(pool);
    g_snapshot_value = 2;
    for (int round = 0; round < 2; ++round) {
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, pool.get(), nullptr, array_input(items)), PM_OK)
            << pm_last_error();
        Map map(raw);
        EXPECT_EQ(values_of(drain(raw)), std::vector<uint64_t>(items.size(), 1));
        g_snapshot_value = 10 + round;
    }
}

// ---------------------------------------------------------------------------
// Pools.

TEST(Pool, SequentialMapsGiveCorrectResults) {
    Counter pool_destroyed;
    Config cfg;
    cfg.processes = 2;
    cfg.threads = 2;
    Options opts = make_options(cfg);
    pm_pool *praw = nullptr;
    ASSERT_EQ(pm_pool_create(&praw, opts.get(), checksum_work, &pool_destroyed, count_destroy),
              PM_OK)
        << pm_last_error();
    EXPECT_EQ(pm_pool_processes(praw), 2u);
    const auto fds_with_pool = open_fds();
    for (int round = 0; round < 8; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        const std::vector<uint64_t> items = make_items(round * 997 % 5000, round);
        std::vector<std::string> expected;
        for (size_t i = 0; i < items.size(); ++i)
            expected.push_back(expected_result(&items[i], 8, i));
        Config mcfg;
        mcfg.ordered = round % 2 == 0;
        mcfg.chunk = round % 3 == 0 ? PM_CHUNK_AUTO : round;
        Options mopts = make_options(mcfg);
        VectorGen gen;
        gen.items = &items;
        pm_input *in = round % 4 < 2 ? array_input(items) : vector_pull(gen);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, praw, round == 7 ? nullptr : mopts.get(), in), PM_OK)
            << pm_last_error();
        Map map(raw);
        const std::vector<Step> steps = drain(raw);
        if (round == 7 || mcfg.ordered)
            EXPECT_EQ(check_ordered(steps, expected), 0u);
        else
            EXPECT_EQ(check_unordered(steps, expected), 0u);
        EXPECT_EQ(pm_pool_processes(praw), 2u);
    }
    const auto fds_after = open_fds();
    EXPECT_EQ(fds_with_pool, fds_after) << fd_diff(fds_with_pool, fds_after);
    EXPECT_EQ(pool_destroyed.n.load(), 0);
    pm_pool_destroy(praw);
    EXPECT_EQ(pool_destroyed.n.load(), 1);
    EXPECT_TRUE(no_children());
}

// A large pool: every worker starts, is known by its own pid, runs items,
// and none outlives the pool, nor any descriptor.
int pid_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    const int64_t pid = getpid();
    return pm_sink_write(out, &pid, sizeof pid) == PM_OK ? 0 : 1;
}

TEST(Pool, ManyWorkersAllStartRunAndLeaveNothing) {
    const auto fds_before = open_fds();
    Config cfg;
    cfg.processes = 40;
    Options opts = make_options(cfg);
    pm_pool *praw = nullptr;
    ASSERT_EQ(pm_pool_create(&praw, opts.get(), pid_work, nullptr, nullptr), PM_OK)
        << pm_last_error();
    EXPECT_EQ(pm_pool_processes(praw), 40u);
    // Items that take a while, one to a chunk: every worker gets some.
    const std::vector<uint64_t> items = make_items(400);
    Config mcfg;
    mcfg.chunk = 1;
    Options mopts = make_options(mcfg);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_pool_map(&raw, praw, mopts.get(), array_input(items)), PM_OK)
        << pm_last_error();
    std::set<int64_t> pids;
    {
        Map map(raw);
        const std::vector<Step> steps = drain(raw);
        ASSERT_EQ(steps.size(), items.size() + 1);
        EXPECT_EQ(steps.back().status, PM_DONE);
        for (size_t k = 0; k + 1 < steps.size(); ++k) {
            const Step &s = steps[k];
            ASSERT_EQ(s.status, PM_OK) << s.error;
            ASSERT_EQ(s.data.size(), sizeof(int64_t));
            int64_t pid;
            std::memcpy(&pid, s.data.data(), sizeof pid);
            pids.insert(pid);
        }
    }
    EXPECT_EQ(pids.size(), 40u);
    EXPECT_EQ(pids.count(getpid()), 0u);
    pm_pool_destroy(praw);
    EXPECT_TRUE(no_children());
    const auto fds_after = open_fds();
    EXPECT_EQ(fds_before, fds_after) << fd_diff(fds_before, fds_after);
}

TEST(Pool, MapWhileAnotherIsAliveIsRefused) {
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Config cfg;
        cfg.processes = processes;
        Pool pool = start_pool(cfg, checksum_work);
        ASSERT_TRUE(pool);
        const std::vector<uint64_t> items = make_items(30);
        pm_map *first = nullptr;
        ASSERT_EQ(pm_pool_map(&first, pool.get(), nullptr, array_input(items)), PM_OK);
        EXPECT_EQ(next_step(first).status, PM_OK);

        VectorGen gen;
        gen.items = &items;
        pm_map *second = nullptr;
        EXPECT_EQ(pm_pool_map(&second, pool.get(), nullptr, vector_pull(gen)), PM_ESTATE);
        EXPECT_STRNE(pm_last_error(), "");
        EXPECT_EQ(gen.destroyed.load(), 1) << "refused input must still be consumed";

        // Also refused after the first map is over but not yet destroyed.
        (void)drain(first);
        pm_map *third = nullptr;
        EXPECT_EQ(pm_pool_map(&third, pool.get(), nullptr, array_input(items)), PM_ESTATE);

        pm_map_destroy(first);
        pm_map *fourth = nullptr;
        ASSERT_EQ(pm_pool_map(&fourth, pool.get(), nullptr, array_input(items)), PM_OK);
        std::vector<std::string> expected;
        for (size_t i = 0; i < items.size(); ++i)
            expected.push_back(expected_result(&items[i], 8, i));
        EXPECT_EQ(check_ordered(drain(fourth), expected), 0u);
        pm_map_destroy(fourth);
    }
}

TEST(Pool, MapDestroyedPartWayThenNextMapIsCorrect) {
    // Results of chunks discarded with the first map must not leak into the
    // next one.
    Config cfg;
    cfg.processes = 2;
    Pool pool = start_pool(cfg, triple_work);
    ASSERT_TRUE(pool);
    for (int round = 0; round < 5; ++round) {
        SCOPED_TRACE("round " + std::to_string(round));
        set_watchdog(15);
        EndlessGen gen;
        Config mcfg;
        mcfg.chunk = round % 2 ? 1 : 16;
        mcfg.ordered = round % 2 == 0;
        Options mopts = make_options(mcfg);
        pm_input *in = nullptr;
        ASSERT_EQ(pm_input_create_pull(&in, endless_fn, &gen, endless_destroy), PM_OK);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, pool.get(), mopts.get(), in), PM_OK) << pm_last_error();
        for (int i = 0; i < 100 * round; ++i) ASSERT_EQ(next_step(raw).status, PM_OK);
        pm_map_destroy(raw);
        EXPECT_EQ(gen.destroyed.load(), 1);

        std::vector<uint64_t> items(257);
        for (size_t i = 0; i < items.size(); ++i) items[i] = 1000000 + i * round;
        ASSERT_EQ(pm_pool_map(&raw, pool.get(), nullptr, array_input(items)), PM_OK)
            << pm_last_error();
        Map map(raw);
        std::vector<std::string> expected;
        for (size_t i = 0; i < items.size(); ++i)
            expected.push_back(triple_expected(items[i], i));
        EXPECT_EQ(check_ordered(drain(raw), expected), 0u);
        EXPECT_EQ(pm_pool_processes(pool.get()), 2u);
    }
}

TEST(Pool, InlineModeRefusedOnForkedPool) {
    Config cfg;
    cfg.processes = 2;
    Pool pool = start_pool(cfg, checksum_work);
    ASSERT_TRUE(pool);
    Config mcfg;
    mcfg.error_mode = PM_ERRORS_INLINE;
    Options mopts = make_options(mcfg);
    const std::vector<uint64_t> items = make_items(5);
    VectorGen gen;
    gen.items = &items;
    pm_map *raw = nullptr;
    EXPECT_EQ(pm_pool_map(&raw, pool.get(), mopts.get(), vector_pull(gen)), PM_EINVAL);
    EXPECT_EQ(gen.destroyed.load(), 1);
}

TEST(Pool, InProcessPoolHasNoWorkers) {
    Config cfg;
    cfg.processes = 1;
    Pool pool = start_pool(cfg, checksum_work);
    ASSERT_TRUE(pool);
    EXPECT_EQ(pm_pool_processes(pool.get()), 0u);
    EXPECT_TRUE(no_children());
    const std::vector<uint64_t> items = make_items(100);
    std::vector<std::string> expected;
    for (size_t i = 0; i < items.size(); ++i) expected.push_back(expected_result(&items[i], 8, i));
    for (int mode : {PM_ERRORS_RAISE, PM_ERRORS_INLINE}) {
        Config mcfg;
        mcfg.error_mode = mode;
        Options mopts = make_options(mcfg);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, pool.get(), mopts.get(), array_input(items)), PM_OK);
        Map map(raw);
        EXPECT_EQ(check_ordered(drain(raw), expected), 0u);
    }
}

TEST(Pool, DestroyWithLiveMapIsDeferredUntilMapDestroyed) {
    Counter pool_destroyed;
    Config cfg;
    cfg.processes = 2;
    Options opts = make_options(cfg);
    pm_pool *praw = nullptr;
    ASSERT_EQ(pm_pool_create(&praw, opts.get(), checksum_work, &pool_destroyed, count_destroy),
              PM_OK);
    const std::vector<uint64_t> items = make_items(1000);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_pool_map(&raw, praw, nullptr, array_input(items)), PM_OK);
    EXPECT_EQ(next_step(raw).status, PM_OK);
    pm_pool_destroy(praw);
    pm_map_destroy(raw);
    EXPECT_EQ(pool_destroyed.n.load(), 1);
    EXPECT_TRUE(no_children());
}

struct DieOnce {
    uint64_t item;
};
int die_on_item_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (index == static_cast<DieOnce *>(ud)->item) _exit(3);
    return checksum_work(item, len, index, out, nullptr);
}

TEST(Pool, DeadWorkersAreReplacedAndLaterMapsAreCorrect) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its plan from user_data");
    Config cfg;
    cfg.processes = 3;
    DieOnce die{10};
    Pool pool = start_pool(cfg, die_on_item_work, &die);
    ASSERT_TRUE(pool);
    const std::vector<uint64_t> items = make_items(100);
    const std::vector<std::string> expected = expected_results(items, items.size());
    Config mcfg;
    mcfg.chunk = 1;
    mcfg.error_mode = PM_ERRORS_RETURN;
    Options mopts = make_options(mcfg);
    // Item 10 kills its worker in each map; a replacement takes its place,
    // so the pool stays whole and every other item is correct.
    for (int k = 0; k < 3; ++k) {
        SCOPED_TRACE("map " + std::to_string(k));
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, pool.get(), mopts.get(), array_input(items)), PM_OK);
        const std::vector<Step> steps = drain(raw, true);
        pm_map_destroy(raw);
        ASSERT_EQ(steps.size(), items.size() + 1);
        EXPECT_EQ(steps.back().status, PM_DONE);
        for (size_t i = 0; i < items.size(); ++i) {
            EXPECT_EQ(steps[i].index, i);
            if (i == 10) {
                EXPECT_EQ(steps[i].status, PM_EWORKER) << describe(steps[i]);
                EXPECT_NE(steps[i].error.find("exited with status 3"), std::string::npos)
                    << steps[i].error;
            } else if (steps[i].status != PM_EWORKER) {
                // Items the dying worker held along with item 10 are lost too.
                EXPECT_EQ(steps[i].status, PM_OK) << describe(steps[i]);
                EXPECT_EQ(steps[i].data, expected[i]);
            }
        }
        EXPECT_EQ(pm_pool_processes(pool.get()), 3u);
    }
}

int always_exit_work(const void *, size_t, uint64_t, pm_sink *, void *) { _exit(0); }

// A worker that dies while running an item is that item's fault: the item
// fails and the slot gets a new worker, map after map, so the pool never
// shrinks (issue 8, item 3: it used to give a slot up after three such
// deaths and carry the count from map to map).
TEST(Pool, AWorkFunctionThatAlwaysDiesFailsEachMapAndThePoolStaysWhole) {
    Config cfg;
    cfg.processes = 2;
    Pool pool = start_pool(cfg, always_exit_work);
    ASSERT_TRUE(pool);
    const std::vector<uint64_t> items = make_items(50);
    Config mcfg;
    mcfg.chunk = 1;
    Options mopts = make_options(mcfg);
    for (int k = 0; k < 30; ++k) {
        SCOPED_TRACE("map " + std::to_string(k));
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, pool.get(), mopts.get(), array_input(items)), PM_OK)
            << pm_last_error();
        Map map(raw);
        const std::vector<Step> steps = drain(map.get(), false);
        ASSERT_EQ(steps.size(), 1u);
        EXPECT_EQ(steps.back().status, PM_EWORKER) << describe(steps.back());
        EXPECT_EQ(steps.back().index, 0u) << describe(steps.back());
        EXPECT_NE(steps.back().error.find("exited with status 0 while running item 0"),
                  std::string::npos)
            << steps.back().error;
        map.reset();
        EXPECT_EQ(pm_pool_processes(pool.get()), 2u);
    }
    pool.reset();
    EXPECT_TRUE(no_children());
}

TEST(Pool, ReturnModeWithAWorkFunctionThatAlwaysDiesFailsEveryItemOnce) {
    Config cfg;
    cfg.processes = 2;
    Pool pool = start_pool(cfg, always_exit_work);
    ASSERT_TRUE(pool);
    const std::vector<uint64_t> items = make_items(50);
    Config mcfg;
    mcfg.chunk = 1;
    mcfg.error_mode = PM_ERRORS_RETURN;
    Options mopts = make_options(mcfg);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_pool_map(&raw, pool.get(), mopts.get(), array_input(items)), PM_OK);
    // Each item kills the worker running it: each comes back once as
    // PM_EWORKER naming it, in order, then PM_DONE.
    const std::vector<Step> steps = drain(raw, true, 1000);
    pm_map_destroy(raw);
    ASSERT_EQ(steps.size(), items.size() + 1);
    for (size_t i = 0; i < items.size(); ++i) {
        EXPECT_EQ(steps[i].status, PM_EWORKER) << describe(steps[i]);
        EXPECT_EQ(steps[i].index, i) << describe(steps[i]);
        EXPECT_NE(steps[i].error.find("while running item " + std::to_string(i)),
                  std::string::npos)
            << steps[i].error;
    }
    EXPECT_EQ(steps.back().status, PM_DONE);
    EXPECT_EQ(pm_pool_processes(pool.get()), 2u);
    pool.reset();
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Callbacks.

TEST(Callbacks, DestroyRunsOnceOnSuccessPaths) {
    const std::vector<uint64_t> items = make_items(30);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Config cfg;
        cfg.processes = processes;
        Options opts = make_options(cfg);

        // One-shot map: the map's destroy runs at pm_map_destroy, not before.
        VectorGen gen;
        gen.items = &items;
        Counter map_destroyed;
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), vector_pull(gen), checksum_work,
                                &map_destroyed, count_destroy),
                  PM_OK);
        EXPECT_EQ(drain(raw).back().status, PM_DONE);
        EXPECT_EQ(map_destroyed.n.load(), 0);
        pm_map_destroy(raw);
        EXPECT_EQ(map_destroyed.n.load(), 1);
        EXPECT_EQ(gen.destroyed.load(), 1);

        // Destroyed without stepping.
        VectorGen gen2;
        gen2.items = &items;
        Counter map2_destroyed;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), vector_pull(gen2), checksum_work,
                                &map2_destroyed, count_destroy),
                  PM_OK);
        pm_map_destroy(raw);
        EXPECT_EQ(map2_destroyed.n.load(), 1);
        EXPECT_EQ(gen2.destroyed.load(), 1);

        // Pool: destroy runs at pm_pool_destroy; pool maps consume inputs.
        Counter pool_destroyed;
        pm_pool *praw = nullptr;
        ASSERT_EQ(pm_pool_create(&praw, opts.get(), checksum_work, &pool_destroyed,
                                 count_destroy),
                  PM_OK);
        VectorGen gen3;
        gen3.items = &items;
        ASSERT_EQ(pm_pool_map(&raw, praw, nullptr, vector_pull(gen3)), PM_OK);
        EXPECT_EQ(drain(raw).back().status, PM_DONE);
        pm_map_destroy(raw);
        EXPECT_EQ(gen3.destroyed.load(), 1);
        EXPECT_EQ(pool_destroyed.n.load(), 0);
        pm_pool_destroy(praw);
        EXPECT_EQ(pool_destroyed.n.load(), 1);

        // An input never passed on is freed by pm_input_destroy.
        VectorGen gen4;
        gen4.items = &items;
        pm_input *in = vector_pull(gen4);
        EXPECT_EQ(gen4.destroyed.load(), 0);
        pm_input_destroy(in);
        EXPECT_EQ(gen4.destroyed.load(), 1);
        EXPECT_EQ(gen4.calls.load(), 0u);
    }
}

struct ProgressLog {
    std::vector<std::pair<uint64_t, uint64_t>> calls;
    pthread_t expected_thread;
    int wrong_thread = 0;
};

void progress_fn(uint64_t done, uint64_t total, void *ud) {
    ProgressLog *log = static_cast<ProgressLog *>(ud);
    if (!pthread_equal(pthread_self(), log->expected_thread)) log->wrong_thread++;
    log->calls.emplace_back(done, total);
}

TEST(Callbacks, ProgressCountsDeliveredResultsAndTotal) {
    const std::vector<uint64_t> items = make_items(57);
    struct Case {
        const char *name;
        bool pull;
        uint64_t total_hint;
        uint64_t expected_total;
        uint32_t processes;
    };
    const Case cases[] = {
        {"array", false, PM_TOTAL_UNKNOWN, 57, 2},
        {"array, hint ignored", false, 5, 57, 1},
        {"pull, no hint", true, PM_TOTAL_UNKNOWN, PM_TOTAL_UNKNOWN, 2},
        {"pull, hint", true, 57, 57, 2},
        {"pull, hint, in-process", true, 57, 57, 1},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.name);
        ProgressLog log;
        log.expected_thread = pthread_self();
        Config cfg;
        cfg.processes = c.processes;
        cfg.total = c.total_hint;
        cfg.chunk = 4;
        Options opts = make_options(cfg);
        ASSERT_EQ(pm_options_set_progress(opts.get(), progress_fn, &log), PM_OK);
        VectorGen gen;
        gen.items = &items;
        pm_input *in = c.pull ? vector_pull(gen) : array_input(items);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), in, checksum_work, nullptr, nullptr), PM_OK);
        // Options are copied: destroying them now must not matter.
        opts.reset();
        Map map(raw);
        EXPECT_EQ(drain(raw).back().status, PM_DONE);
        map.reset();
        ASSERT_EQ(log.calls.size(), items.size());
        for (size_t i = 0; i < log.calls.size(); ++i) {
            EXPECT_EQ(log.calls[i].first, i + 1);
            EXPECT_EQ(log.calls[i].second, c.expected_total);
        }
        EXPECT_EQ(log.wrong_thread, 0);
    }
}

TEST(Callbacks, ProgressCanBeRemoved) {
    ProgressLog log;
    log.expected_thread = pthread_self();
    Options opts = make_options(Config{});
    ASSERT_EQ(pm_options_set_progress(opts.get(), progress_fn, &log), PM_OK);
    ASSERT_EQ(pm_options_set_progress(opts.get(), nullptr, nullptr), PM_OK);
    const std::vector<uint64_t> items = make_items(10);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), checksum_work, nullptr,
                            nullptr),
              PM_OK);
    Map map(raw);
    EXPECT_EQ(drain(raw).back().status, PM_DONE);
    EXPECT_TRUE(log.calls.empty());
}

// ---------------------------------------------------------------------------
// Nesting and daemon workers.

int nested_work(const void *item, size_t, uint64_t, pm_sink *out, void *) {
    // Inside a worker: run a map of our own over 5 items and sum the results.
    uint64_t base;
    memcpy(&base, item, 8);
    std::vector<uint64_t> inner(5);
    for (size_t i = 0; i < inner.size(); ++i) inner[i] = base + i;
    pm_options *o = nullptr;
    if (pm_options_create(&o) != PM_OK) return 1;
    pm_options_set_processes(o, 2);
    pm_input *in = nullptr;
    if (pm_input_create_array(&in, inner.data(), 8, inner.size()) != PM_OK) return 1;
    pm_map *m = nullptr;
    const int rc = pm_map_create(&m, o, in, triple_work, nullptr, nullptr);
    pm_options_destroy(o);
    if (rc != PM_OK) return 1;
    uint64_t sum = 0;
    const void *d;
    size_t n;
    int st;
    while ((st = pm_map_next(m, nullptr, &d, &n)) == PM_OK) {
        uint64_t r[2];
        if (n != sizeof r) break;
        memcpy(r, d, sizeof r);
        sum += r[0];
    }
    pm_map_destroy(m);
    if (st != PM_DONE) return 1;
    // The inner workers are reaped: the worker has no child left.
    int wst;
    if (!(waitpid(-1, &wst, WNOHANG) == -1 && errno == ECHILD)) return 2;
    return pm_sink_write(out, &sum, sizeof sum) == PM_OK ? 0 : 1;
}

TEST(Nesting, MapRunsInsideAWorker) {
    const std::vector<uint64_t> items = {10, 200, 3000, 40000, 5};
    Config cfg;
    cfg.processes = 2;
    cfg.chunk = 1;
    Map map = start_map(cfg, array_input(items), nested_work);
    ASSERT_TRUE(map);
    std::vector<std::string> expected;
    for (uint64_t b : items) {
        const uint64_t sum = 3 * (5 * b + 10);
        expected.emplace_back(reinterpret_cast<const char *>(&sum), 8);
    }
    EXPECT_EQ(check_ordered(drain(map.get()), expected), 0u);
    map.reset();
    EXPECT_TRUE(no_children());
}

int pid_then_block_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    // Each worker reports its pid once, then blocks forever.
    static bool reported = false;
    if (reported) pause();
    reported = true;
    const int64_t pid = getpid();
    return pm_sink_write(out, &pid, sizeof pid) == PM_OK ? 0 : 1;
}

bool process_gone(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie waiting for its new parent to reap it is dead too.
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    FILE *f = fopen(path, "r");
    if (!f) return true;
    char buf[512] = {0};
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    const char *close_paren = strrchr(buf, ')');
    return n > 0 && close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

TEST(Daemon, WorkersDieWithTheirParent) {
    set_watchdog(30);
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        // The "user process": map with blocking workers, report their pids.
        close(fds[0]);
        alarm(20);
        pm_options *o = nullptr;
        pm_options_create(&o);
        pm_options_set_processes(o, 2);
        pm_options_set_chunk_size(o, 1);
        pm_options_set_ordered(o, 0);
        std::vector<uint64_t> items(100);
        pm_input *in = nullptr;
        pm_input_create_array(&in, items.data(), 8, items.size());
        pm_map *m = nullptr;
        if (pm_map_create(&m, o, in, pid_then_block_work, nullptr, nullptr) != PM_OK) _exit(2);
        int64_t pids[2] = {0, 0};
        int got = 0;
        while (got < 2) {
            const void *d;
            size_t n;
            if (pm_map_next(m, nullptr, &d, &n) != PM_OK || n != 8) _exit(3);
            int64_t p;
            memcpy(&p, d, 8);
            if (got == 1 && p == pids[0]) continue;
            pids[got++] = p;
        }
        if (write(fds[1], pids, sizeof pids) != static_cast<ssize_t>(sizeof pids)) _exit(4);
        for (;;) pause(); // killed by the test
    }
    close(fds[1]);
    int64_t pids[2] = {0, 0};
    size_t got = 0;
    while (got < sizeof pids) {
        const ssize_t n = read(fds[0], reinterpret_cast<char *>(pids) + got, sizeof pids - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
    }
    close(fds[0]);
    kill(child, SIGKILL);
    const int st = reap(child);
    ASSERT_EQ(got, sizeof pids) << "child status " << st;
    ASSERT_TRUE(WIFSIGNALED(st));
    // Generous no-hang bound: the workers must be gone well within 10 s.
    bool gone = false;
    for (int i = 0; i < 1000 && !gone; ++i) {
        gone = process_gone(static_cast<pid_t>(pids[0])) &&
               process_gone(static_cast<pid_t>(pids[1]));
        if (!gone) usleep(10000);
    }
    EXPECT_TRUE(gone) << "workers " << pids[0] << " and " << pids[1]
                      << " outlived their parent";
    EXPECT_TRUE(no_children());
}

} // namespace
