// Exec mode itself (issue 10): work functions found by name or by their place
// in the executable, what an exec-mode worker sees (nothing inherited), the
// caller never forked, registered hooks, and the failures of a worker that
// cannot find its work. The other suites run again in exec mode as their
// *-exec tests; this one sets the start method on its options.
#include "capi_test_util.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <atomic>
#include <string>
#include <vector>

namespace {

using namespace pmtest;

Options exec_options(Config cfg = Config{}) {
    Options opts = make_options(cfg);
    EXPECT_EQ(pm_options_set_start_method(opts.get(), PM_START_EXEC), PM_OK);
    return opts;
}

// ---------------------------------------------------------------------------
// Registered at static initialization, so in the caller and in every worker
// run alike, as a program would before pm_worker_serve().

const uint64_t kFactor = 7;  // the user_data given at registration

int times_factor(const void *item, size_t len, uint64_t, pm_sink *out, void *ud) {
    uint64_t v = 0;
    memcpy(&v, item, std::min(len, sizeof v));
    v *= ud ? *static_cast<const uint64_t *>(ud) : 0;
    return pm_sink_write(out, &v, sizeof v) == PM_OK ? 0 : 1;
}

struct WorkerState {
    uint64_t tag;
};
int tag_init(uint32_t worker_id, void **state, void *) {
    *state = new WorkerState{1000 + worker_id};
    return 0;
}
void tag_exit(uint32_t, void *state, void *) { delete static_cast<WorkerState *>(state); }
int report_state(const void *, size_t, uint64_t, pm_sink *out, void *) {
    const WorkerState *ws = static_cast<const WorkerState *>(pm_sink_worker_state(out));
    const uint64_t v = ws ? ws->tag : 0;
    return pm_sink_write(out, &v, sizeof v) == PM_OK ? 0 : 1;
}

const bool kRegistered = [] {
    return pm_register_work("times-factor", times_factor,
                            const_cast<uint64_t *>(&kFactor)) == PM_OK &&
           pm_register_work("report-state", report_state, nullptr) == PM_OK &&
           pm_register_worker_hooks("tag-hooks", tag_init, tag_exit, nullptr, nullptr,
                                    nullptr) == PM_OK;
}();

std::vector<uint64_t> values(const std::vector<Step> &steps) {
    std::vector<uint64_t> out;
    for (const Step &s : steps) {
        if (s.status != PM_OK) continue;
        uint64_t v = 0;
        memcpy(&v, s.data.data(), std::min(s.data.size(), sizeof v));
        out.push_back(v);
    }
    return out;
}

TEST(ExecMode, ARegisteredFunctionRunsWithItsRegisteredUserData) {
    ASSERT_TRUE(kRegistered);
    std::vector<uint64_t> items(300);
    for (size_t i = 0; i < items.size(); ++i) items[i] = i;
    Config cfg;
    cfg.threads = 2;
    Options opts = exec_options(cfg);
    pm_map *raw = nullptr;
    // By its pointer: found in the registry.
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), times_factor,
                            const_cast<uint64_t *>(&kFactor), nullptr),
              PM_OK)
        << pm_last_error();
    Map map(raw);
    std::vector<Step> steps = drain(map.get());
    ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    const std::vector<uint64_t> got = values(steps);
    ASSERT_EQ(got.size(), items.size());
    for (size_t i = 0; i < items.size(); ++i) EXPECT_EQ(got[i], i * kFactor) << "item " << i;
}

TEST(ExecMode, MapsAndPoolsByName) {
    std::vector<uint64_t> items(50);
    for (size_t i = 0; i < items.size(); ++i) items[i] = i + 1;
    Options opts = exec_options();
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create_named(&raw, opts.get(), array_input(items), "times-factor"), PM_OK)
        << pm_last_error();
    Map map(raw);
    EXPECT_EQ(values(drain(map.get())).at(49), 50 * kFactor);
    map.reset();

    pm_pool *praw = nullptr;
    ASSERT_EQ(pm_pool_create_named(&praw, opts.get(), "times-factor"), PM_OK) << pm_last_error();
    Pool pool(praw);
    for (int round = 0; round < 3; ++round) {
        pm_map *m = nullptr;
        ASSERT_EQ(pm_pool_map(&m, pool.get(), nullptr, array_input(items)), PM_OK);
        Map pm(m);
        const std::vector<uint64_t> got = values(drain(pm.get()));
        ASSERT_EQ(got.size(), items.size());
        EXPECT_EQ(got[0], kFactor);
    }
    pool.reset();
    EXPECT_TRUE(no_children());

    pm_pool *bad = nullptr;
    EXPECT_EQ(pm_pool_create_named(&bad, opts.get(), "no-such-work"), PM_EINVAL);
    EXPECT_EQ(bad, nullptr);
    pm_input *in = array_input(items);
    EXPECT_EQ(pm_map_create_named(&raw, opts.get(), in, "no-such-work"), PM_EINVAL);
    EXPECT_NE(std::string(pm_last_error()).find("no-such-work"), std::string::npos)
        << pm_last_error();
}

TEST(ExecMode, RegisteredHooksByName) {
    Config cfg;
    cfg.chunk = 1;
    Options opts = exec_options(cfg);
    ASSERT_EQ(pm_options_set_worker_hooks_name(opts.get(), "tag-hooks"), PM_OK);
    const std::vector<uint64_t> items = make_items(40);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create_named(&raw, opts.get(), array_input(items), "report-state"), PM_OK)
        << pm_last_error();
    Map map(raw);
    for (uint64_t v : values(drain(map.get()))) EXPECT_TRUE(v == 1000 || v == 1001) << v;
    // A name nobody registered fails the map's creation.
    ASSERT_EQ(pm_options_set_worker_hooks_name(opts.get(), "no-such-hooks"), PM_OK);
    EXPECT_EQ(pm_map_create_named(&raw, opts.get(), array_input(items), "report-state"),
              PM_EINVAL);
    EXPECT_NE(std::string(pm_last_error()).find("no-such-hooks"), std::string::npos)
        << pm_last_error();
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Unregistered functions of the executable, and what a worker sees.

uint64_t g_set_by_caller = 0;

int report_world(const void *, size_t, uint64_t, pm_sink *out, void *ud) {
    // The global as the worker sees it, whether user_data arrived, and the
    // descriptors it holds above its standard streams.
    uint64_t fds = 0;
    if (DIR *d = opendir("/proc/self/fd")) {
        const int skip = dirfd(d);
        while (struct dirent *e = readdir(d)) {
            const int fd = atoi(e->d_name);
            if (e->d_name[0] != '.' && fd > 2 && fd != skip) ++fds;
        }
        closedir(d);
    }
    const uint64_t r[3] = {g_set_by_caller, ud != nullptr, fds};
    return pm_sink_write(out, r, sizeof r) == PM_OK ? 0 : 1;
}

TEST(ExecMode, AWorkerInheritsNothingButWhatTravels) {
    g_set_by_caller = 42;
    // A descriptor without CLOEXEC, which a forked worker would keep.
    const int leaky = open("/dev/null", O_RDONLY);
    ASSERT_GE(leaky, 0);
    std::atomic<int> fork_hooks{0};
    Config cfg;
    cfg.chunk = 1;
    Options opts = exec_options(cfg);
    ASSERT_EQ(pm_options_set_fork_hooks(
                  opts.get(), [](void *ud) { ++*static_cast<std::atomic<int> *>(ud); }, nullptr,
                  nullptr, &fork_hooks),
              PM_OK);
    const std::vector<uint64_t> items = make_items(20);
    int token = 0;
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), report_world, &token, nullptr),
              PM_OK)
        << pm_last_error();
    Map map(raw);
    const std::vector<Step> steps = drain(map.get());
    close(leaky);
    g_set_by_caller = 0;
    ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    ASSERT_EQ(steps.size(), items.size() + 1);
    for (size_t i = 0; i < items.size(); ++i) {
        uint64_t r[3];
        ASSERT_EQ(steps[i].data.size(), sizeof r);
        memcpy(r, steps[i].data.data(), sizeof r);
        EXPECT_EQ(r[0], 0u) << "a worker is a fresh run: the caller's global is not there";
        EXPECT_EQ(r[1], 0u) << "the caller's user_data must not reach the worker";
        EXPECT_EQ(r[2], 2u) << "a worker holds its two pipe ends (its board is mapped), nothing more";
    }
    // The caller itself was never forked.
    EXPECT_EQ(fork_hooks.load(), 0);
}

TEST(ExecMode, AFunctionOutsideTheExecutableIsRefused) {
    Options opts = exec_options();
    // A function of the library, not of this program: a worker could not
    // find it. (Only its address is used; it is never called.)
    pm_work_fn foreign = reinterpret_cast<pm_work_fn>(reinterpret_cast<void (*)()>(&pm_map_destroy));
    const std::vector<uint64_t> items = make_items(4);
    Counter destroyed;
    pm_map *raw = nullptr;
    EXPECT_EQ(pm_map_create(&raw, opts.get(), array_input(items), foreign, &destroyed,
                            count_destroy),
              PM_EINVAL);
    EXPECT_EQ(raw, nullptr);
    EXPECT_NE(std::string(pm_last_error()).find("pm_register_work"), std::string::npos)
        << pm_last_error();
    EXPECT_EQ(destroyed.n.load(), 1);
    pm_pool *pool = nullptr;
    EXPECT_EQ(pm_pool_create(&pool, opts.get(), foreign, nullptr, nullptr), PM_EINVAL);
    EXPECT_EQ(pm_options_set_start_method(opts.get(), 7), PM_EINVAL);
    EXPECT_EQ(pm_options_set_start_method(nullptr, PM_START_EXEC), PM_EINVAL);
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// A name the worker's run does not know: registered here, in the test body,
// which a worker's run never reaches.

int late_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    return pm_sink_write(out, "x", 1) == PM_OK ? 0 : 1;
}

TEST(ExecMode, AWorkerThatCannotFindItsWorkExitsWith68AndTheMapSaysSo) {
    ASSERT_EQ(pm_register_work("registered-too-late", late_work, nullptr), PM_OK);
    for (int mode : {PM_ERRORS_RAISE, PM_ERRORS_RETURN}) {
        SCOPED_TRACE(mode == PM_ERRORS_RAISE ? "raise" : "return");
        Config cfg;
        cfg.error_mode = mode;
        Options opts = exec_options(cfg);
        const std::vector<uint64_t> items = make_items(6);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create_named(&raw, opts.get(), array_input(items), "registered-too-late"),
                  PM_OK)
            << pm_last_error();
        Map map(raw);
        const std::vector<Step> steps = drain(map.get(), mode == PM_ERRORS_RETURN, 100);
        bool named = false;
        for (const Step &s : steps)
            named = named || s.error.find("68") != std::string::npos;
        EXPECT_TRUE(named) << describe(steps.back());
        EXPECT_NE(steps.back().status, PM_OK);
        map.reset();
        EXPECT_TRUE(no_children());
    }
}

}  // namespace
