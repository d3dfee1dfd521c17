// Worker faults the engine recovers from (issue 4): item timeouts, retries,
// replacement workers, recycling, worker hooks, and cancellation from
// another thread. Every test also checks that no process is left over.
#include "capi_test_util.hpp"

#include <sys/mman.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

using namespace pmtest;

namespace {

// Counters shared with every worker: a MAP_SHARED page mapped before the
// map forks, so workers and the test see the same memory.
struct Shared {
    std::atomic<uint64_t> attempts[256];
};
Shared *shared_page() {
    void *p = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    EXPECT_NE(p, MAP_FAILED);
    return new (p) Shared();
}
void free_shared(Shared *s) { munmap(s, sizeof(Shared)); }

struct Fault {
    uint64_t item;      // the item that misbehaves
    uint64_t times;     // on its first `times` attempts (UINT64_MAX: always)
    int kind;           // 0: endless loop, 1: abort, 2: _exit(3)
    Shared *shared;
};

int faulty_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    auto *f = static_cast<Fault *>(ud);
    if (index == f->item) {
        uint64_t attempt = f->shared->attempts[index % 256].fetch_add(1) + 1;
        if (attempt <= f->times) {
            if (f->kind == 0)
                for (volatile unsigned spin = 0;; spin = spin + 1) {  // unsigned: wraps, no UB
                }
            if (f->kind == 1) abort();
            _exit(3);
        }
    }
    return checksum_work(item, len, index, out, nullptr);
}

Options options_with(const Config &cfg, uint64_t timeout_ms, uint32_t retries) {
    Options o = make_options(cfg);
    EXPECT_EQ(pm_options_set_item_timeout(o.get(), timeout_ms), PM_OK);
    EXPECT_EQ(pm_options_set_retries(o.get(), retries), PM_OK);
    return o;
}

std::vector<Step> run_map(const Options &opts, const std::vector<uint64_t> &items, Fault &f,
                          bool keep_going) {
    pm_map *raw = nullptr;
    EXPECT_EQ(pm_map_create(&raw, opts.get(), array_input(items), faulty_work, &f, nullptr),
              PM_OK)
        << pm_last_error();
    Map map(raw);
    return drain(raw, keep_going);
}

}  // namespace

TEST(Options, FaultSettersRefuseAbsurdValues) {
    Options o = make_options(Config{});
    EXPECT_EQ(pm_options_set_item_timeout(o.get(), uint64_t(1) << 32), PM_EINVAL);
    EXPECT_EQ(pm_options_set_retries(o.get(), 1001), PM_EINVAL);
    EXPECT_EQ(pm_options_set_item_timeout(nullptr, 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_retries(nullptr, 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_max_items_per_worker(nullptr, 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_max_worker_rss(nullptr, 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_worker_hooks(nullptr, nullptr, nullptr, nullptr), PM_EINVAL);
    EXPECT_EQ(pm_map_cancel(nullptr), PM_EINVAL);
    EXPECT_EQ(pm_sink_worker_id(nullptr), 0u);
    EXPECT_EQ(pm_sink_worker_state(nullptr), nullptr);
}

TEST(Timeout, ReturnModeReportsTheItemAndGoesOn) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its plan from user_data (the fault matrix covers timeouts in exec mode)");
    for (uint32_t threads : {1u, 2u}) {
        SCOPED_TRACE("threads " + std::to_string(threads));
        Shared *sh = shared_page();
        Fault f{7, UINT64_MAX, 0, sh};
        const std::vector<uint64_t> items = make_items(40);
        Config cfg;
        cfg.threads = threads;
        cfg.chunk = 4;
        cfg.error_mode = PM_ERRORS_RETURN;
        std::vector<Step> steps = run_map(options_with(cfg, 200, 0), items, f, true);
        ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
        steps.pop_back();
        ASSERT_EQ(steps.size(), items.size());
        const std::vector<std::string> expected = expected_results(items);
        for (size_t i = 0; i < steps.size(); ++i) {
            EXPECT_EQ(steps[i].index, i);
            if (i == 7) {
                EXPECT_EQ(steps[i].status, PM_ETIMEOUT) << describe(steps[i]);
                EXPECT_NE(steps[i].error.find("200 ms item timeout"), std::string::npos)
                    << steps[i].error;
            } else {
                // The items its worker held but was not running run again.
                EXPECT_EQ(steps[i].status, PM_OK) << describe(steps[i]);
                EXPECT_EQ(steps[i].data, expected[i]);
            }
        }
        free_shared(sh);
        EXPECT_TRUE(no_children());
    }
}

TEST(Timeout, RaiseModeEndsTheMapAfterEveryEarlierResult) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its plan from user_data (the fault matrix covers timeouts in exec mode)");
    Shared *sh = shared_page();
    Fault f{5, UINT64_MAX, 0, sh};
    const std::vector<uint64_t> items = make_items(30);
    Config cfg;
    cfg.chunk = 2;
    std::vector<Step> steps = run_map(options_with(cfg, 150, 0), items, f, false);
    ASSERT_EQ(steps.size(), 6u) << describe(steps.back());
    EXPECT_EQ(check_prefix(steps, expected_results(items, 5), 5), 0u);
    EXPECT_EQ(steps.back().status, PM_ETIMEOUT) << describe(steps.back());
    EXPECT_EQ(steps.back().index, 5u);
    free_shared(sh);
    EXPECT_TRUE(no_children());
}

TEST(Retries, AnItemThatCrashesOnceSucceedsOnItsSecondAttempt) {
    PM_SKIP_IN_EXEC_MODE("attempts are counted in an inherited shared mapping (the recovery matrix covers retries in exec mode)");
    for (int kind : {1, 2}) {
        SCOPED_TRACE("kind " + std::to_string(kind));
        Shared *sh = shared_page();
        Fault f{13, 1, kind, sh};
        const std::vector<uint64_t> items = make_items(50);
        Config cfg;
        cfg.chunk = 5;
        std::vector<Step> steps = run_map(options_with(cfg, 0, 1), items, f, false);
        EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
        EXPECT_EQ(sh->attempts[13].load(), 2u);
        free_shared(sh);
        EXPECT_TRUE(no_children());
    }
}

TEST(Retries, AnItemOutOfAttemptsFailsAndSaysHowManyWereMade) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its plan from user_data (the recovery matrix covers retries in exec mode)");
    Shared *sh = shared_page();
    Fault f{13, UINT64_MAX, 2, sh};
    const std::vector<uint64_t> items = make_items(50);
    Config cfg;
    cfg.chunk = 5;
    cfg.error_mode = PM_ERRORS_RETURN;
    std::vector<Step> steps = run_map(options_with(cfg, 0, 2), items, f, true);
    ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    const std::vector<std::string> expected = expected_results(items);
    for (size_t i = 0; i < items.size(); ++i) {
        if (i == 13) {
            EXPECT_EQ(steps[i].status, PM_EWORKER) << describe(steps[i]);
            EXPECT_NE(steps[i].error.find("failed 3 attempts"), std::string::npos)
                << steps[i].error;
            EXPECT_NE(steps[i].error.find("exited with status 3"), std::string::npos)
                << steps[i].error;
        } else {
            EXPECT_EQ(steps[i].status, PM_OK) << describe(steps[i]);
            EXPECT_EQ(steps[i].data, expected[i]);
        }
    }
    EXPECT_EQ(sh->attempts[13].load(), 3u);
    free_shared(sh);
    EXPECT_TRUE(no_children());
}

TEST(Retries, TimedOutItemIsRetried) {
    PM_SKIP_IN_EXEC_MODE("attempts are counted in an inherited shared mapping (the recovery matrix covers retries in exec mode)");
    Shared *sh = shared_page();
    Fault f{3, 1, 0, sh};
    const std::vector<uint64_t> items = make_items(20);
    Config cfg;
    cfg.chunk = 1;
    std::vector<Step> steps = run_map(options_with(cfg, 150, 1), items, f, false);
    EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
    EXPECT_EQ(sh->attempts[3].load(), 2u);
    free_shared(sh);
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Recycling.

// Where leaked blocks go, so that the compiler cannot drop them.
char *volatile g_leaked;

int pid_work(const void *, size_t, uint64_t, pm_sink *out, void *ud) {
    const pid_t self = getpid();
    if (ud) {
        // Leak 4 MiB per item, touched so that it is resident.
        const size_t n = 4u << 20;
        char *p = static_cast<char *>(malloc(n));
        if (!p) return 1;
        memset(p, 1, n);
        g_leaked = p;
        usleep(3000);  // memory is checked at most every 10 ms per worker
    }
    return pm_sink_write(out, &self, sizeof self);
}

std::map<pid_t, int> items_per_pid(const std::vector<Step> &steps) {
    std::map<pid_t, int> per;
    for (const Step &s : steps) {
        if (s.status != PM_OK) continue;
        pid_t p;
        memcpy(&p, s.data.data(), sizeof p);
        per[p]++;
    }
    return per;
}

TEST(Recycling, AWorkerIsReplacedAfterMaxItems) {
    const std::vector<uint64_t> items = make_items(120);
    Config cfg;
    cfg.chunk = 1;
    Options opts = make_options(cfg);
    ASSERT_EQ(pm_options_set_max_items_per_worker(opts.get(), 10), PM_OK);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), pid_work, nullptr, nullptr),
              PM_OK);
    Map map(raw);
    std::vector<Step> steps = drain(raw);
    ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    ASSERT_EQ(steps.size(), items.size() + 1);
    auto per = items_per_pid(steps);
    // 10 items, plus at most the two chunks it held when it reached them.
    for (const auto &[pid, n] : per) EXPECT_LE(n, 12) << "pid " << pid;
    EXPECT_GE(per.size(), 120u / 12);
    map.reset();
    EXPECT_TRUE(no_children());
}

TEST(Recycling, AWorkerIsReplacedWhenItsMemoryGrows) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its growth from user_data");
    const std::vector<uint64_t> items = make_items(60);
    Config cfg;
    cfg.chunk = 1;
    cfg.processes = 1 + 1;
    Options opts = make_options(cfg);
    // Each item leaks 4 MiB; a worker starts far below 64 MiB over its base.
    ASSERT_EQ(pm_options_set_max_worker_rss(opts.get(), 96u << 20), PM_OK);
    int leak = 1;
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), pid_work, &leak, nullptr),
              PM_OK);
    Map map(raw);
    std::vector<Step> steps = drain(raw);
    ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    auto per = items_per_pid(steps);
    EXPECT_GE(per.size(), 3u);
    for (const auto &[pid, n] : per) EXPECT_LE(n, 30) << "pid " << pid;
    map.reset();
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Worker hooks.

int g_hook_pipe[2] = {-1, -1};

struct WorkerState {
    uint32_t id;
    uint64_t magic;
};

int init_hook(uint32_t id, void **state, void *ud) {
    if (ud && id == 1) return 1;  // fail worker 1
    *state = new WorkerState{id, 0xfeedu + id};
    return 0;
}

void exit_hook(uint32_t id, void *state, void *) {
    auto *s = static_cast<WorkerState *>(state);
    uint32_t msg[2] = {id, s && s->id == id ? 1u : 0u};
    if (write(g_hook_pipe[1], msg, sizeof msg) != sizeof msg) abort();
    delete s;
}

int state_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    auto *s = static_cast<WorkerState *>(pm_sink_worker_state(out));
    uint64_t v[2] = {pm_sink_worker_id(out), s ? s->magic : 0};
    return pm_sink_write(out, v, sizeof v);
}

TEST(Hooks, InitStateReachesTheWorkAndExitRunsOncePerWorker) {
    PM_SKIP_IN_EXEC_MODE("the hooks count into an inherited shared mapping (the recovery matrix covers hooks in exec mode)");
    for (uint32_t processes : {1u, 3u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        ASSERT_EQ(pipe2(g_hook_pipe, O_CLOEXEC), 0);
        const std::vector<uint64_t> items = make_items(60);
        Config cfg;
        cfg.processes = processes;
        cfg.chunk = 1;
        Options opts = make_options(cfg);
        ASSERT_EQ(pm_options_set_worker_hooks(opts.get(), init_hook, exit_hook, nullptr), PM_OK);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), state_work, nullptr,
                                nullptr),
                  PM_OK);
        std::vector<Step> steps = drain(raw);
        pm_map_destroy(raw);
        ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
        std::set<uint64_t> ids;
        for (size_t i = 0; i + 1 < steps.size(); ++i) {
            uint64_t v[2];
            ASSERT_EQ(steps[i].data.size(), sizeof v);
            memcpy(v, steps[i].data.data(), sizeof v);
            EXPECT_LT(v[0], processes);
            EXPECT_EQ(v[1], 0xfeedu + v[0]);
            ids.insert(v[0]);
        }
        close(g_hook_pipe[1]);
        std::multiset<uint32_t> exits;
        uint32_t msg[2];
        while (read(g_hook_pipe[0], msg, sizeof msg) == sizeof msg) {
            EXPECT_EQ(msg[1], 1u) << "exit hook of worker " << msg[0] << " got the wrong state";
            exits.insert(msg[0]);
        }
        close(g_hook_pipe[0]);
        EXPECT_EQ(exits.size(), processes);
        for (uint32_t id = 0; id < processes; ++id) EXPECT_EQ(exits.count(id), 1u) << id;
        EXPECT_TRUE(no_children());
    }
}

TEST(Hooks, AFailingInitHookFailsThatWorkersItemsAndTheMapEnds) {
    ASSERT_EQ(pipe2(g_hook_pipe, O_CLOEXEC), 0);
    const std::vector<uint64_t> items = make_items(40);
    Config cfg;
    cfg.processes = 2;
    cfg.chunk = 1;
    cfg.error_mode = PM_ERRORS_RETURN;
    Options opts = make_options(cfg);
    int fail_one = 1;
    ASSERT_EQ(pm_options_set_worker_hooks(opts.get(), init_hook, exit_hook, &fail_one), PM_OK);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), state_work, nullptr, nullptr),
              PM_OK);
    std::vector<Step> steps = drain(raw, true);
    pm_map_destroy(raw);
    close(g_hook_pipe[0]);
    close(g_hook_pipe[1]);
    // Worker 1 never runs an item: its chunks fail naming exit status 67,
    // it is replaced a few times, then given up; worker 0 does the rest.
    ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    size_t ok = 0, lost = 0;
    for (size_t i = 0; i + 1 < steps.size(); ++i) {
        if (steps[i].status == PM_OK) {
            ++ok;
        } else {
            EXPECT_EQ(steps[i].status, PM_EWORKER);
            EXPECT_NE(steps[i].error.find("status 67"), std::string::npos) << steps[i].error;
            ++lost;
        }
    }
    EXPECT_EQ(ok + lost, items.size());
    EXPECT_GT(ok, 0u);
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Cancellation from another thread.

int stuck_work(const void *, size_t, uint64_t, pm_sink *, void *) {
    for (volatile unsigned spin = 0;; spin = spin + 1) {  // unsigned: wraps, no UB
    }
}

TEST(Cancel, FromAnotherThreadWhileTheConsumerIsBlocked) {
    for (bool destroy : {false, true}) {
        SCOPED_TRACE(destroy ? "destroy" : "cancel");
        const std::vector<uint64_t> items = make_items(20);
        Config cfg;
        Map map = start_map(cfg, array_input(items), stuck_work);
        ASSERT_TRUE(map);
        pm_map *raw = destroy ? map.release() : map.get();
        std::thread other([raw, destroy] {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            if (destroy)
                pm_map_destroy(raw);
            else
                EXPECT_EQ(pm_map_cancel(raw), PM_OK);
        });
        const auto start = std::chrono::steady_clock::now();
        uint64_t index;
        const void *data;
        size_t len;
        EXPECT_EQ(pm_map_next(raw, &index, &data, &len), PM_ECANCELED);
        const auto waited = std::chrono::steady_clock::now() - start;
        // Only catches a hang: the bound is generous for a loaded machine.
        EXPECT_LT(waited, std::chrono::seconds(5));
        other.join();
        if (!destroy) {
            EXPECT_EQ(pm_map_next(raw, &index, &data, &len), PM_ECANCELED);
            map.reset();
        }
        EXPECT_TRUE(no_children());
    }
}

TEST(Cancel, APoolMapWithStuckWorkersLeavesThePoolWhole) {
    Config cfg;
    Pool pool = start_pool(cfg, stuck_work);
    ASSERT_TRUE(pool);
    const std::vector<uint64_t> items = make_items(10);
    for (bool cancel : {true, false}) {
        SCOPED_TRACE(cancel ? "cancel" : "destroy part-way");
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, pool.get(), nullptr, array_input(items)), PM_OK);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        const auto start = std::chrono::steady_clock::now();
        if (cancel) {
            EXPECT_EQ(pm_map_cancel(raw), PM_OK);
        }
        pm_map_destroy(raw);
        EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
        EXPECT_EQ(pm_pool_processes(pool.get()), 2u);
    }
    pool.reset();
    EXPECT_TRUE(no_children());
}

TEST(Cancel, InProcessMapStopsAtTheNextItem) {
    const std::vector<uint64_t> items = make_items(10);
    Config cfg;
    cfg.processes = 1;
    Map map = start_map(cfg, array_input(items), checksum_work);
    ASSERT_TRUE(map);
    EXPECT_EQ(next_step(map.get()).status, PM_OK);
    EXPECT_EQ(pm_map_cancel(map.get()), PM_OK);
    EXPECT_EQ(next_step(map.get()).status, PM_ECANCELED);
}

// ---------------------------------------------------------------------------
// The template process killed from outside: its workers die with it, and
// the map ends with errors, never hangs.

int slow_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    usleep(2000);
    return checksum_work(item, len, index, out, ud);
}

TEST(Template, KilledFromOutsideEndsTheMapWithoutHang) {
    const std::vector<uint64_t> items = make_items(400);
    Config cfg;
    cfg.chunk = 1;
    cfg.error_mode = PM_ERRORS_RETURN;
    Map map = start_map(cfg, array_input(items), slow_work);
    ASSERT_TRUE(map);
    EXPECT_EQ(next_step(map.get()).status, PM_OK);
    // Our only direct child is the template; the workers are its children.
    std::string kids;
    {
        FILE *f = fopen(("/proc/self/task/" + std::to_string(getpid()) + "/children").c_str(),
                        "r");
        ASSERT_NE(f, nullptr);
        char buf[256] = {0};
        if (fgets(buf, sizeof buf, f)) kids = buf;
        fclose(f);
    }
    const pid_t template_pid = static_cast<pid_t>(atoi(kids.c_str()));
    ASSERT_GT(template_pid, 0) << kids;
    ASSERT_EQ(kill(template_pid, SIGKILL), 0);
    std::vector<Step> steps = drain(map.get(), true);
    EXPECT_NE(steps.back().status, PM_OK);
    size_t failed = 0;
    for (const Step &s : steps) failed += s.status < 0 ? 1 : 0;
    EXPECT_GT(failed, 0u);
    map.reset();
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Calls in the wrong place are refused, not obeyed.

struct SelfStep {
    pm_map *map = nullptr;
    int next_status = 0;
    bool destroy = false;
    int calls = 0;
};

void self_stepping_progress(uint64_t, uint64_t, void *ud) {
    auto *s = static_cast<SelfStep *>(ud);
    if (++s->calls != 2) return;
    if (s->destroy) {
        pm_map_destroy(s->map);
    } else {
        uint64_t index;
        s->next_status = pm_map_next(s->map, &index, nullptr, nullptr);
    }
}

TEST(WrongPlace, NextOrDestroyFromTheMapsOwnProgressCallback) {
    for (bool destroy : {false, true}) {
        for (uint32_t processes : {1u, 2u}) {
            SCOPED_TRACE(std::string(destroy ? "destroy" : "next") + " processes " +
                         std::to_string(processes));
            const std::vector<uint64_t> items = make_items(10);
            Config cfg;
            cfg.processes = processes;
            Options opts = make_options(cfg);
            SelfStep self;
            self.destroy = destroy;
            ASSERT_EQ(pm_options_set_progress(opts.get(), self_stepping_progress, &self), PM_OK);
            ASSERT_EQ(pm_map_create(&self.map, opts.get(), array_input(items), checksum_work,
                                    nullptr, nullptr),
                      PM_OK);
            uint64_t index;
            EXPECT_EQ(pm_map_next(self.map, &index, nullptr, nullptr), PM_OK);
            const int second = pm_map_next(self.map, &index, nullptr, nullptr);
            if (destroy) {
                // The map is gone now; the step that destroyed it says so.
                EXPECT_EQ(second, PM_ECANCELED);
            } else {
                EXPECT_EQ(second, PM_OK);
                EXPECT_EQ(self.next_status, PM_ESTATE);
                EXPECT_EQ(drain(self.map).back().status, PM_DONE);
                pm_map_destroy(self.map);
            }
            EXPECT_TRUE(no_children());
        }
    }
}

// A worker that inherited the parent's pool and map handles tries to use
// them: refused with PM_ESTATE, and destroying them does nothing.
struct Inherited {
    pm_pool *pool = nullptr;
    pm_map *map = nullptr;
};

int use_inherited_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    auto *h = static_cast<Inherited *>(ud);
    int codes[3] = {0, 0, 0};
    pm_map *m = nullptr;
    pm_input *in = nullptr;
    if (pm_input_create_array(&in, item, len, 1) != PM_OK) return 1;
    codes[0] = pm_pool_map(&m, h->pool, nullptr, in);
    uint64_t i;
    codes[1] = h->map ? pm_map_next(h->map, &i, nullptr, nullptr) : PM_ESTATE;
    codes[2] = h->map ? pm_map_cancel(h->map) : PM_ESTATE;
    pm_map_destroy(h->map);
    pm_pool_destroy(h->pool);
    (void)index;
    return pm_sink_write(out, codes, sizeof codes);
}

TEST(WrongPlace, HandlesInheritedByAWorkerAreRefused) {
    PM_SKIP_IN_EXEC_MODE("it uses handles that a forked worker inherits");
    Inherited h;
    Config cfg;
    Options opts = make_options(cfg);
    ASSERT_EQ(pm_pool_create(&h.pool, opts.get(), checksum_work, nullptr, nullptr), PM_OK);
    const std::vector<uint64_t> items = make_items(4);
    ASSERT_EQ(pm_pool_map(&h.map, h.pool, nullptr, array_input(items)), PM_OK);
    // The pool and its live map exist when this map forks: its workers
    // inherit both handles.
    Map map = start_map(cfg, array_input(items), use_inherited_work, &h);
    ASSERT_TRUE(map);
    std::vector<Step> steps = drain(map.get());
    ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    for (size_t i = 0; i + 1 < steps.size(); ++i) {
        int codes[3];
        ASSERT_EQ(steps[i].data.size(), sizeof codes);
        memcpy(codes, steps[i].data.data(), sizeof codes);
        EXPECT_EQ(codes[0], PM_ESTATE);
        EXPECT_EQ(codes[1], PM_ESTATE);
        EXPECT_EQ(codes[2], PM_ESTATE);
    }
    map.reset();
    // The parent's handles are untouched by all that.
    EXPECT_EQ(check_ordered(drain(h.map), expected_results(items)), 0u);
    pm_map_destroy(h.map);
    EXPECT_EQ(pm_pool_processes(h.pool), 2u);
    pm_pool_destroy(h.pool);
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// A host whose SIGCHLD handler reaps every child it can: workers are the
// template's children, so their exit statuses still reach the map.

void greedy_reaper(int) {
    const int saved = errno;
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    errno = saved;
}

// A return-mode map of n items, one per chunk, whose item `dying` always
// makes its worker _exit(3); checks what a caller must see: every item in
// its place, item `dying` and at most the other chunk its worker held (its
// credit) lost with the exit status named, then PM_DONE.
static void expect_exit3_seen_and_survived(uint64_t dying, size_t n) {
    Shared *sh = shared_page();
    Fault f{dying, UINT64_MAX, 2, sh};
    const std::vector<uint64_t> items = make_items(n);
    Config cfg;
    cfg.chunk = 1;
    cfg.error_mode = PM_ERRORS_RETURN;
    std::vector<Step> steps = run_map(make_options(cfg), items, f, true);
    free_shared(sh);
    ASSERT_EQ(steps.size(), items.size() + 1) << describe(steps.back());
    EXPECT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    size_t failed = 0;
    for (size_t i = 0; i < items.size(); ++i) {
        if (steps[i].status == PM_OK) continue;
        ++failed;
        EXPECT_EQ(steps[i].status, PM_EWORKER) << describe(steps[i]);
        EXPECT_NE(steps[i].error.find("exited with status 3"), std::string::npos)
            << steps[i].error;
    }
    EXPECT_EQ(steps[dying].status, PM_EWORKER);
    EXPECT_LE(failed, 2u);
}

TEST(HostSignals, AGreedySigchldHandlerCannotStealWorkerStatuses) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its exit status from user_data");
    struct sigaction sa = {}, old = {};
    sa.sa_handler = greedy_reaper;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGCHLD, &sa, &old), 0);
    expect_exit3_seen_and_survived(9, 30);
    sigaction(SIGCHLD, &old, nullptr);
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// How the caller watches its workers: pidfds where the kernel offers them,
// pipes closed by the template where it does not (or under valgrind, or with
// PARMAPPER_NO_PIDFD=1, which the suite's "-no-pidfd" runs set).

static size_t open_pidfds() {
    size_t n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 0;
    while (struct dirent *e = readdir(d)) {
        char link[128] = {0};
        std::string path = std::string("/proc/self/fd/") + e->d_name;
        if (readlink(path.c_str(), link, sizeof link - 1) > 0 &&
            std::string(link).find("pidfd") != std::string::npos)
            ++n;
    }
    closedir(d);
    return n;
}

static bool pidfds_wanted() {
    const char *off = getenv("PARMAPPER_NO_PIDFD");
    return !(off && std::string(off) == "1");
}

TEST(Template, WatchesEachWorkerThroughAPidfdOrItsFallback) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its exit status from user_data");
    Config cfg;
    cfg.processes = 3;
    Pool pool = start_pool(cfg, checksum_work);
    ASSERT_TRUE(pool);
    const size_t pidfds = open_pidfds();
    if (pidfds_wanted())
        EXPECT_EQ(pidfds, 3u);
    else
        EXPECT_EQ(pidfds, 0u);
    pool.reset();
    EXPECT_EQ(open_pidfds(), 0u);
    // Either way a worker's death is seen at once, named, and replaced.
    expect_exit3_seen_and_survived(7, 40);
    EXPECT_TRUE(no_children());
    EXPECT_EQ(open_pidfds(), 0u);
}

// The template blocks SIGCHLD for itself when it reaps through a signalfd;
// the work function must see the caller's signal mask all the same.
static int report_mask(const void *, size_t, uint64_t, pm_sink *out, void *) {
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, nullptr, &now);
    const char r[2] = {static_cast<char>('0' + sigismember(&now, SIGCHLD)),
                       static_cast<char>('0' + sigismember(&now, SIGUSR2))};
    return pm_sink_write(out, r, 2) == PM_OK ? 0 : 1;
}

TEST(HostSignals, TheWorkFunctionSeesTheCallersSignalMask) {
    PM_SKIP_IN_EXEC_MODE("an exec-mode worker starts with every signal unblocked and at its default action (said in the header)");
    sigset_t usr2, old;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &usr2, &old), 0);
    const std::vector<uint64_t> items = make_items(8);
    Config cfg;
    cfg.chunk = 1;
    Map map = start_map(cfg, array_input(items), report_mask);
    ASSERT_TRUE(map);
    std::vector<Step> steps = drain(map.get(), true);
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    ASSERT_EQ(steps.size(), items.size() + 1);
    for (size_t i = 0; i < items.size(); ++i)
        EXPECT_EQ(steps[i].data, "01") << "item " << i;
    map.reset();
    EXPECT_TRUE(no_children());
}
