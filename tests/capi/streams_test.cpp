// Stream workers (pm_pool_create_streams() and pm_stream_serve()): a pool
// whose workers are the far ends of pipes, each a process of its own that
// runs the items on a local pool. What the MPI backend is built on, tested
// here without MPI: results as a local map gives them, a crash or a timeout
// at the far end failing only its item (named by the caller's index), a far
// end that dies, pools reused, cancellation, and nothing left behind.
#include "capi_test_util.hpp"

#include <fcntl.h>
#include <signal.h>

#include <string>
#include <thread>
#include <vector>

namespace {

using namespace pmtest;

// Item 37 of the caller's map crashes, item 41 fails with a message, item
// 43 hangs (with PMTEST_HANG set).
int faulty_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    if (index == 37) raise(SIGSEGV);
    if (index == 41) {
        pm_sink_set_error(out, "item 41 is refused");
        return 1;
    }
    if (index == 43 && getenv("PMTEST_HANG")) pause();
    return checksum_work(item, len, index, out, nullptr);
}

const bool registered = [] {
    pm_register_work("checksum", checksum_work, nullptr);
    pm_register_work("faulty", faulty_work, nullptr);
    return true;
}();

struct FarEnd {
    pid_t pid = -1;
};

// Starts n far ends, each a forked process serving one pair of pipes with a
// local pool of `processes` workers; returns the pool over them.
Pool stream_pool(size_t n, const char *work, std::vector<FarEnd> *ends, Config far = Config{},
                 Config near = Config{}, uint64_t far_timeout_ms = 0) {
    std::vector<int> tasks, results;
    for (size_t i = 0; i < n; ++i) {
        int t[2], r[2];
        EXPECT_EQ(pipe2(t, O_CLOEXEC), 0);
        EXPECT_EQ(pipe2(r, O_CLOEXEC), 0);
        fflush(nullptr);
        pid_t pid = fork();
        if (pid == 0) {
            close(t[1]);
            close(r[0]);
            for (size_t k = 0; k < tasks.size(); ++k) {  // the other streams' ends
                close(tasks[k]);
                close(results[k]);
            }
            Config c = far;
            c.item_timeout_ms = far_timeout_ms;
            Options o = make_options(c);
            const std::string where = "far end " + std::to_string(i);
            const int rc = pm_stream_serve(t[0], r[1], o.get(), work, where.c_str());
            _exit(rc == PM_OK ? 0 : 10 + (-rc));
        }
        close(t[0]);
        close(r[1]);
        tasks.push_back(t[1]);
        results.push_back(r[0]);
        ends->push_back({pid});
    }
    near.processes = far.processes;
    near.threads = far.threads;
    Options o = make_options(near);
    pm_pool *raw = nullptr;
    const int rc =
        pm_pool_create_streams(&raw, o.get(), n, tasks.data(), results.data(), nullptr, nullptr);
    EXPECT_EQ(rc, PM_OK) << pm_last_error();
    return Pool(raw);
}

// Every far end left with status 0 (pm_stream_serve() returned PM_OK).
void expect_far_ends_done(const std::vector<FarEnd> &ends) {
    for (const FarEnd &e : ends) {
        const int st = reap(e.pid);
        EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "far end status " << st;
    }
}

Map pool_map(pm_pool *pool, const Config &cfg, pm_input *input) {
    Options o = make_options(cfg);
    pm_map *raw = nullptr;
    const int rc = pm_pool_map(&raw, pool, o.get(), input);
    EXPECT_EQ(rc, PM_OK) << pm_last_error();
    return Map(raw);
}

struct Shape {
    size_t chunk;
    bool ordered;
    bool array;
};

class StreamResults : public ::testing::TestWithParam<Shape> {};

TEST_P(StreamResults, EqualALocalMap) {
    const Shape shape = GetParam();
    const auto before = open_fds();
    std::vector<FarEnd> ends;
    Config far;
    far.processes = 2;
    {
        Pool pool = stream_pool(2, "checksum", &ends, far);
        ASSERT_TRUE(pool);
        for (size_t n : {size_t(0), size_t(1), size_t(3000)}) {
            const std::vector<uint64_t> items = make_items(n, n + 1);
            Config cfg;
            cfg.chunk = shape.chunk;
            cfg.ordered = shape.ordered;
            VectorGen gen;
            gen.items = &items;
            Map map = pool_map(pool.get(), cfg, shape.array ? array_input(items) : vector_pull(gen));
            ASSERT_TRUE(map);
            const auto steps = drain(map.get());
            const auto expected = expected_results(items);
            if (shape.ordered)
                EXPECT_EQ(check_ordered(steps, expected), 0u) << "n " << n;
            else
                EXPECT_EQ(check_unordered(steps, expected), 0u) << "n " << n;
        }
    }
    expect_far_ends_done(ends);
    EXPECT_TRUE(no_children());
    EXPECT_EQ(fd_diff(before, open_fds()), "");
}

INSTANTIATE_TEST_SUITE_P(Shapes, StreamResults,
                         ::testing::Values(Shape{PM_CHUNK_AUTO, true, true},
                                           Shape{PM_CHUNK_AUTO, false, false},
                                           Shape{1, true, false}, Shape{1, false, true},
                                           Shape{100, true, false}));

TEST(StreamFaults, ACrashAtTheFarEndFailsOnlyThatItemInReturnMode) {
    std::vector<FarEnd> ends;
    {
        Pool pool = stream_pool(2, "faulty", &ends);
        ASSERT_TRUE(pool);
        const std::vector<uint64_t> items = make_items(200);
        Config cfg;
        cfg.error_mode = PM_ERRORS_RETURN;
        cfg.chunk = 8;
        Map map = pool_map(pool.get(), cfg, array_input(items));
        ASSERT_TRUE(map);
        const auto steps = drain(map.get(), true);
        ASSERT_EQ(steps.size(), items.size() + 1);
        const auto expected = expected_results(items);
        for (size_t i = 0; i < items.size(); ++i) {
            const Step &s = steps[i];
            EXPECT_EQ(s.index, i);
            if (i == 37) {
                EXPECT_EQ(s.status, PM_EWORKER) << describe(s);
                EXPECT_NE(s.error.find("far end "), std::string::npos) << s.error;
                EXPECT_NE(s.error.find("signal 11"), std::string::npos) << s.error;
                EXPECT_NE(s.error.find("item 37"), std::string::npos) << s.error;
            } else if (i == 41) {
                EXPECT_EQ(s.status, PM_EITEM) << describe(s);
                EXPECT_EQ(s.error, "item 41 is refused");
            } else {
                EXPECT_EQ(s.status, PM_OK) << describe(s);
                EXPECT_EQ(s.data, expected[i]);
            }
        }
        EXPECT_EQ(steps.back().status, PM_DONE);
    }
    expect_far_ends_done(ends);
    EXPECT_TRUE(no_children());
}

TEST(StreamFaults, RaiseModeReportsTheCrashingItemAndThePoolGoesOn) {
    std::vector<FarEnd> ends;
    {
        Pool pool = stream_pool(2, "faulty", &ends);
        ASSERT_TRUE(pool);
        const std::vector<uint64_t> items = make_items(100);
        Map map = pool_map(pool.get(), Config{}, array_input(items));
        ASSERT_TRUE(map);
        const auto steps = drain(map.get());
        ASSERT_EQ(steps.size(), 38u);
        EXPECT_EQ(check_prefix(steps, expected_results(items), 37), 0u);
        EXPECT_EQ(steps.back().status, PM_EWORKER);
        EXPECT_EQ(steps.back().index, 37u);
        EXPECT_NE(steps.back().error.find("item 37"), std::string::npos) << steps.back().error;
        map.reset();
        // The same far ends serve the next map.
        const std::vector<uint64_t> few = make_items(30);
        Map again = pool_map(pool.get(), Config{}, array_input(few));
        ASSERT_TRUE(again);
        EXPECT_EQ(check_ordered(drain(again.get()), expected_results(few)), 0u);
    }
    expect_far_ends_done(ends);
}

TEST(StreamFaults, TheFarEndsItemTimeoutFailsTheHungItem) {
    setenv("PMTEST_HANG", "1", 1);
    std::vector<FarEnd> ends;
    {
        Pool pool = stream_pool(1, "faulty", &ends, Config{}, Config{}, 300);
        unsetenv("PMTEST_HANG");
        ASSERT_TRUE(pool);
        Config cfg;
        cfg.error_mode = PM_ERRORS_RETURN;
        cfg.chunk = 4;
        const std::vector<uint64_t> items = make_items(50);
        Map map = pool_map(pool.get(), cfg, array_input(items));
        ASSERT_TRUE(map);
        const auto steps = drain(map.get(), true);
        ASSERT_EQ(steps.size(), 51u);
        EXPECT_EQ(steps[37].status, PM_EWORKER) << describe(steps[37]);
        EXPECT_EQ(steps[41].status, PM_EITEM) << describe(steps[41]);
        EXPECT_EQ(steps[43].status, PM_ETIMEOUT) << describe(steps[43]);
        EXPECT_NE(steps[43].error.find("item 43"), std::string::npos) << steps[43].error;
        EXPECT_EQ(steps[42].status, PM_OK);
        EXPECT_EQ(steps[44].status, PM_OK);
    }
    expect_far_ends_done(ends);
}

TEST(StreamFaults, AFarEndThatDiesFailsWhatItHeldAndNothingHangs) {
    std::vector<FarEnd> ends;
    {
        Pool pool = stream_pool(2, "checksum", &ends);
        ASSERT_TRUE(pool);
        kill(ends[1].pid, SIGKILL);
        const std::vector<uint64_t> items = make_items(2000);
        Config cfg;
        cfg.error_mode = PM_ERRORS_RETURN;
        Map map = pool_map(pool.get(), cfg, array_input(items));
        ASSERT_TRUE(map);
        const auto steps = drain(map.get(), true);
        ASSERT_FALSE(steps.empty());
        EXPECT_TRUE(steps.back().status == PM_DONE || steps.back().status == PM_EWORKER)
            << describe(steps.back());
        size_t ok = 0;
        for (const Step &s : steps) ok += s.status == PM_OK;
        EXPECT_GT(ok, 0u);  // the live far end served its share
    }
    EXPECT_TRUE(WIFSIGNALED(reap(ends[1].pid)));
    const int st = reap(ends[0].pid);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
    EXPECT_TRUE(no_children());
}

TEST(StreamPools, CancelThenMapAgain) {
    std::vector<FarEnd> ends;
    {
        Pool pool = stream_pool(2, "checksum", &ends);
        ASSERT_TRUE(pool);
        EndlessGen endless;
        pm_input *in = nullptr;
        ASSERT_EQ(pm_input_create_pull(&in, endless_fn, &endless, nullptr), PM_OK);
        Map map = pool_map(pool.get(), Config{}, in);
        ASSERT_TRUE(map);
        for (int i = 0; i < 500; ++i) ASSERT_EQ(next_step(map.get()).status, PM_OK);
        EXPECT_EQ(pm_map_cancel(map.get()), PM_OK);
        Step s;
        do s = next_step(map.get());
        while (s.status == PM_OK);
        EXPECT_EQ(s.status, PM_ECANCELED);
        map.reset();
        const std::vector<uint64_t> items = make_items(300);
        Map again = pool_map(pool.get(), Config{}, array_input(items));
        ASSERT_TRUE(again);
        EXPECT_EQ(check_ordered(drain(again.get()), expected_results(items)), 0u);
    }
    expect_far_ends_done(ends);
}

TEST(StreamServe, RunsOnAThreadOfTheCallerToo) {
    int t[2], r[2];
    ASSERT_EQ(pipe2(t, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(r, O_CLOEXEC), 0);
    // The near end first: its descriptors are the library's before the far
    // end forks its pool, whose processes then do not hold them.
    pm_pool *raw = nullptr;
    ASSERT_EQ(pm_pool_create_streams(&raw, nullptr, 1, &t[1], &r[0], nullptr, nullptr), PM_OK);
    Pool pool(raw);
    int served = -100;
    std::atomic<pid_t> far_tid{0};
    std::thread far([&] {
        far_tid = gettid();
        served = pm_stream_serve(t[0], r[1], nullptr, "checksum", nullptr);
    });
    // This thread stays out of malloc until the far end has forked its
    // pool's template: a sanitizer's allocator is not fork-safe, and a lock
    // it held here at the fork would stay held in the child.
    while (far_tid.load() == 0) sched_yield();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d/children", static_cast<int>(far_tid.load()));
    for (int i = 0; i < 10000; ++i) {
        char buf[32];
        const int fd = open(path, O_RDONLY | O_CLOEXEC);
        const ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
        if (fd >= 0) close(fd);
        if (n > 0) break;
        usleep(1000);
    }
    {
        const std::vector<uint64_t> items = make_items(1000);
        Map map = pool_map(pool.get(), Config{}, array_input(items));
        ASSERT_TRUE(map);
        EXPECT_EQ(check_ordered(drain(map.get()), expected_results(items)), 0u);
    }
    pool.reset();  // the stop frame: the far end returns
    far.join();
    EXPECT_EQ(served, PM_OK) << pm_last_error();
}

TEST(StreamArgs, BadArgumentsAreRefusedAndTheDescriptorsClosed) {
    pm_pool *raw = nullptr;
    EXPECT_EQ(pm_pool_create_streams(nullptr, nullptr, 1, nullptr, nullptr, nullptr, nullptr),
              PM_EINVAL);
    EXPECT_EQ(pm_pool_create_streams(&raw, nullptr, 0, nullptr, nullptr, nullptr, nullptr),
              PM_EINVAL);
    EXPECT_EQ(raw, nullptr);
    int bad[1] = {-1};
    EXPECT_EQ(pm_pool_create_streams(&raw, nullptr, 1, bad, bad, nullptr, nullptr), PM_EINVAL);
    const auto before = open_fds();
    int t[2], r[2];
    ASSERT_EQ(pipe2(t, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(r, O_CLOEXEC), 0);
    EXPECT_EQ(pm_stream_serve(t[0], r[1], nullptr, "no such work", nullptr), PM_EINVAL);
    EXPECT_NE(std::string(pm_last_error()).find("no such work"), std::string::npos)
        << pm_last_error();
    close(t[1]);
    close(r[0]);
    EXPECT_EQ(fd_diff(before, open_fds()), "");  // the call closed its two
    ASSERT_EQ(pipe2(r, O_CLOEXEC), 0);
    EXPECT_EQ(pm_stream_serve(-1, r[1], nullptr, "checksum", nullptr), PM_EINVAL);
    close(r[0]);
    EXPECT_EQ(fd_diff(before, open_fds()), "");
    EXPECT_TRUE(no_children());
}

}  // namespace
