// The MPI backend under mpirun (run_mpi_test.sh: -np 4 on this machine).
// Rank 0 runs these tests; ranks 1 to 3 serve items from pm_worker_serve()
// and leave when rank 0 finalizes. Results must equal a local map's in every
// mode; a crash, a failure or a timeout on a worker rank fails only its item,
// named by index and rank; cancellation and early stops leave the ranks
// ready for the next map; a slow rank gets less work.
#include <parmapper.h>
#include <parmapper_mpi.h>

#include <gtest/gtest.h>

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace {

uint64_t mix64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return x;
}

// A result that depends on the item and its index, of varying length.
std::string expected(uint64_t item, uint64_t index) {
    const uint64_t h = mix64(item ^ (index * 0x9e3779b97f4a7c15ull));
    std::string r(reinterpret_cast<const char *>(&h), 8);
    r.append(static_cast<size_t>(h % 5), static_cast<char>('a' + index % 26));
    return r;
}

int checksum(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    uint64_t v = 0;
    std::memcpy(&v, item, std::min(len, sizeof v));
    const std::string r = expected(v, index);
    return pm_sink_write(out, r.data(), r.size()) == PM_OK ? 0 : 1;
}

// Item 37 crashes, 41 fails, 43 hangs.
int faulty(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (index == 37) raise(SIGSEGV);
    if (index == 41) {
        pm_sink_set_error(out, "item 41 is refused");
        return 1;
    }
    if (index == 43) pause();
    return checksum(item, len, index, out, ud);
}

// The rank that ran the item; rank 1 is slow.
int which_rank(const void *, size_t, uint64_t, pm_sink *out, void *) {
    const int rank = pm_mpi_rank();
    if (rank == 1) {
        struct timespec t = {0, 20 * 1000 * 1000};
        nanosleep(&t, nullptr);
    }
    return pm_sink_write(out, &rank, sizeof rank) == PM_OK ? 0 : 1;
}

struct Options {
    pm_options *o = nullptr;
    Options() { pm_options_create(&o); pm_options_set_processes(o, 2); }
    ~Options() { pm_options_destroy(o); }
};

struct Step {
    int status;
    uint64_t index;
    std::string data;
    std::string error;
};

// Steps to PM_DONE or a final failure; with keep_going (return mode) item
// failures are results in their place.
std::vector<Step> drain(pm_map *m, bool keep_going = false) {
    std::vector<Step> steps;
    for (;;) {
        Step s;
        const void *d = nullptr;
        size_t n = 0;
        s.status = pm_map_next(m, &s.index, &d, &n);
        if (s.status == PM_OK) s.data.assign(static_cast<const char *>(d), n);
        s.error = pm_map_error(m);
        steps.push_back(s);
        if (s.status == PM_DONE) break;
        if (s.status < 0 && !(keep_going && (s.status == PM_EITEM || s.status == PM_EWORKER ||
                                             s.status == PM_ETIMEOUT)))
            break;
    }
    return steps;
}

std::vector<uint64_t> items_of(size_t n) {
    std::vector<uint64_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = mix64(i + 12345);
    return v;
}

pm_input *array_of(const std::vector<uint64_t> &v) {
    pm_input *in = nullptr;
    EXPECT_EQ(pm_input_create_array(&in, v.data(), sizeof(uint64_t), v.size()), PM_OK);
    return in;
}

struct Pull {
    const std::vector<uint64_t> *items;
    size_t next = 0;
};
int pull_fn(pm_feed *feed, void *ud) {
    auto *p = static_cast<Pull *>(ud);
    if (p->next == p->items->size()) return PM_DONE;
    pm_feed_push(feed, &(*p->items)[p->next], sizeof(uint64_t));
    p->next++;
    return PM_OK;
}

struct Shape {
    size_t chunk;
    bool ordered;
    bool array;
};

class MpiResults : public ::testing::TestWithParam<Shape> {};

TEST_P(MpiResults, EqualALocalMap) {
    const Shape shape = GetParam();
    const std::vector<uint64_t> items = items_of(5000);
    Options opts;
    pm_options_set_chunk_size(opts.o, shape.chunk);
    pm_options_set_ordered(opts.o, shape.ordered);
    Pull pull{&items};
    pm_input *in = nullptr;
    if (shape.array)
        in = array_of(items);
    else
        ASSERT_EQ(pm_input_create_pull(&in, pull_fn, &pull, nullptr), PM_OK);
    pm_map *map = nullptr;
    ASSERT_EQ(pm_mpi_map_create(&map, opts.o, in, "checksum"), PM_OK) << pm_mpi_last_error();
    const auto steps = drain(map);
    pm_map_destroy(map);
    ASSERT_EQ(steps.size(), items.size() + 1);
    EXPECT_EQ(steps.back().status, PM_DONE);
    std::vector<bool> seen(items.size());
    size_t bad = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        const Step &s = steps[i];
        if (s.status != PM_OK || s.index >= items.size() || seen[s.index] ||
            s.data != expected(items[s.index], s.index) || (shape.ordered && s.index != i))
            ++bad;
        else
            seen[s.index] = true;
    }
    EXPECT_EQ(bad, 0u);
}

INSTANTIATE_TEST_SUITE_P(Shapes, MpiResults,
                         ::testing::Values(Shape{PM_CHUNK_AUTO, true, true},
                                           Shape{PM_CHUNK_AUTO, false, false},
                                           Shape{1, true, false}, Shape{1, false, true},
                                           Shape{100, true, true}));

TEST(MpiFaults, ACrashOnAWorkerRankFailsOnlyThatItem) {
    const std::vector<uint64_t> items = items_of(40);  // 37 crashes
    Options opts;
    pm_options_set_error_mode(opts.o, PM_ERRORS_RETURN);
    pm_options_set_chunk_size(opts.o, 4);
    pm_map *map = nullptr;
    ASSERT_EQ(pm_mpi_map_create(&map, opts.o, array_of(items), "faulty"), PM_OK)
        << pm_mpi_last_error();
    const auto steps = drain(map, true);
    pm_map_destroy(map);
    ASSERT_EQ(steps.size(), items.size() + 1);
    for (size_t i = 0; i < items.size(); ++i) {
        if (i == 37) {
            EXPECT_EQ(steps[i].status, PM_EWORKER);
            EXPECT_NE(steps[i].error.find("MPI rank "), std::string::npos) << steps[i].error;
            EXPECT_NE(steps[i].error.find("signal 11"), std::string::npos) << steps[i].error;
            EXPECT_NE(steps[i].error.find("item 37"), std::string::npos) << steps[i].error;
        } else {
            EXPECT_EQ(steps[i].status, PM_OK) << i << ": " << steps[i].error;
            EXPECT_EQ(steps[i].data, expected(items[i], i));
        }
    }
}

TEST(MpiFaults, RaiseModeNamesTheItemAndThePoolGoesOn) {
    const std::vector<uint64_t> items = items_of(100);
    Options opts;
    pm_pool *pool = nullptr;
    ASSERT_EQ(pm_mpi_pool_create(&pool, opts.o, "faulty"), PM_OK) << pm_mpi_last_error();
    pm_map *map = nullptr;
    ASSERT_EQ(pm_pool_map(&map, pool, nullptr, array_of(items)), PM_OK);
    const auto steps = drain(map);
    pm_map_destroy(map);
    ASSERT_EQ(steps.size(), 38u);
    EXPECT_EQ(steps.back().status, PM_EWORKER);
    EXPECT_EQ(steps.back().index, 37u);
    for (size_t i = 0; i < 37; ++i) EXPECT_EQ(steps[i].data, expected(items[i], i));
    // Item 41 fails by itself; the same ranks serve.
    const std::vector<uint64_t> more = items_of(36);
    ASSERT_EQ(pm_pool_map(&map, pool, nullptr, array_of(more)), PM_OK);
    const auto again = drain(map);
    pm_map_destroy(map);
    ASSERT_EQ(again.size(), 37u);
    EXPECT_EQ(again.back().status, PM_DONE);
    pm_pool_destroy(pool);
}

TEST(MpiFaults, AWorkerRanksItemTimeoutFailsTheHungItem) {
    std::vector<uint64_t> items = items_of(50);
    Options opts;
    pm_options_set_error_mode(opts.o, PM_ERRORS_RETURN);
    pm_options_set_item_timeout(opts.o, 300);
    pm_map *map = nullptr;
    ASSERT_EQ(pm_mpi_map_create(&map, opts.o, array_of(items), "faulty"), PM_OK);
    const auto steps = drain(map, true);
    pm_map_destroy(map);
    ASSERT_EQ(steps.size(), 51u);
    EXPECT_EQ(steps[37].status, PM_EWORKER);
    EXPECT_EQ(steps[41].status, PM_EITEM);
    EXPECT_EQ(steps[41].error, "item 41 is refused");
    EXPECT_EQ(steps[43].status, PM_ETIMEOUT) << steps[43].error;
    EXPECT_NE(steps[43].error.find("item 43"), std::string::npos) << steps[43].error;
    EXPECT_EQ(steps[49].status, PM_OK);
}

TEST(MpiPools, CancelAndEarlyStopLeaveTheRanksReady) {
    Options opts;
    pm_pool *pool = nullptr;
    ASSERT_EQ(pm_mpi_pool_create(&pool, opts.o, "checksum"), PM_OK) << pm_mpi_last_error();
    const std::vector<uint64_t> items = items_of(20000);
    // Cancelled part-way.
    pm_map *map = nullptr;
    ASSERT_EQ(pm_pool_map(&map, pool, nullptr, array_of(items)), PM_OK);
    uint64_t index;
    const void *d;
    size_t n;
    for (int i = 0; i < 100; ++i) ASSERT_EQ(pm_map_next(map, &index, &d, &n), PM_OK);
    EXPECT_EQ(pm_map_cancel(map), PM_OK);
    int rc;
    while ((rc = pm_map_next(map, &index, &d, &n)) == PM_OK) {
    }
    EXPECT_EQ(rc, PM_ECANCELED);
    pm_map_destroy(map);
    // Destroyed part-way.
    ASSERT_EQ(pm_pool_map(&map, pool, nullptr, array_of(items)), PM_OK);
    for (int i = 0; i < 10; ++i) ASSERT_EQ(pm_map_next(map, &index, &d, &n), PM_OK);
    pm_map_destroy(map);
    // Then a whole map, with progress.
    const std::vector<uint64_t> few = items_of(700);
    std::atomic<uint64_t> done{0};
    Options each;
    pm_options_set_progress(
        each.o, [](uint64_t d2, uint64_t, void *ud) { static_cast<std::atomic<uint64_t> *>(ud)->store(d2); },
        &done);
    ASSERT_EQ(pm_pool_map(&map, pool, each.o, array_of(few)), PM_OK);
    const auto steps = drain(map);
    pm_map_destroy(map);
    ASSERT_EQ(steps.size(), few.size() + 1);
    for (size_t i = 0; i < few.size(); ++i) EXPECT_EQ(steps[i].data, expected(few[i], i));
    EXPECT_EQ(done.load(), few.size());
    // One MPI pool at a time.
    pm_pool *second = nullptr;
    EXPECT_EQ(pm_mpi_pool_create(&second, opts.o, "checksum"), PM_ESTATE);
    EXPECT_NE(std::string(pm_mpi_last_error()).find("still alive"), std::string::npos);
    pm_pool_destroy(pool);
}

TEST(MpiPools, ASlowRankGetsLessWork) {
    std::vector<uint64_t> items = items_of(300);
    Options opts;
    pm_options_set_processes(opts.o, 1);
    pm_options_set_chunk_size(opts.o, 1);
    pm_options_set_ordered(opts.o, 0);
    pm_map *map = nullptr;
    ASSERT_EQ(pm_mpi_map_create(&map, opts.o, array_of(items), "which_rank"), PM_OK);
    std::map<int, int> per_rank;
    for (const Step &s : drain(map)) {
        if (s.status != PM_OK) continue;
        int rank;
        std::memcpy(&rank, s.data.data(), sizeof rank);
        per_rank[rank]++;
    }
    pm_map_destroy(map);
    ASSERT_EQ(per_rank.size(), 3u);
    // Less than an equal share, and less than the other ranks' average. Not
    // "less than each": on 2 cores with 4 ranks oversubscribed, one of the
    // fast ranks can be starved as long as the slow one (CI saw 64, 172, 64).
    EXPECT_LT(per_rank[1], 300 / 3);
    EXPECT_LT(per_rank[1], (per_rank[2] + per_rank[3]) / 2);
}

TEST(MpiArgs, AWorkNameNotRegisteredIsRefusedWithTheRank) {
    pm_pool *pool = nullptr;
    EXPECT_EQ(pm_mpi_pool_create(&pool, nullptr, "no such work"), PM_EINVAL);
    EXPECT_EQ(pool, nullptr);
    EXPECT_NE(std::string(pm_mpi_last_error()).find("MPI rank"), std::string::npos)
        << pm_mpi_last_error();
    EXPECT_EQ(pm_mpi_pool_create(nullptr, nullptr, "checksum"), PM_EINVAL);
    // The ranks are still ready.
    const std::vector<uint64_t> items = items_of(10);
    pm_map *map = nullptr;
    ASSERT_EQ(pm_mpi_map_create(&map, nullptr, array_of(items), "checksum"), PM_OK);
    EXPECT_EQ(drain(map).size(), 11u);
    pm_map_destroy(map);
}

}  // namespace

int main(int argc, char **argv) {
    pm_register_work("checksum", checksum, nullptr);
    pm_register_work("faulty", faulty, nullptr);
    pm_register_work("which_rank", which_rank, nullptr);
    pm_worker_serve(argc, argv);  // ranks 1.. serve here, and exit there
    if (pm_mpi_size() < 2) {
        fprintf(stderr, "run under mpirun -np 4\n");
        return 77;
    }
    ::testing::InitGoogleTest(&argc, argv);
    const int rc = RUN_ALL_TESTS();
    if (pm_mpi_finalize() != PM_OK) return 1;
    return rc;
}
