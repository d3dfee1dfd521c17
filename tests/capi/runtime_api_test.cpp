// The C API added for runtimes and bindings (0.3): fork hooks, worker-thread
// hooks, batched steps with a timeout, chunk work functions, failure
// payloads, error buffers, packed pushes, crash signals reset in workers.
#include "capi_test_util.hpp"

#include <pthread.h>
#include <sys/mman.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace {

using namespace pmtest;

bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}

// Counters in memory shared with every process the library forks.
struct Shared {
    std::atomic<int> prepare{0}, parent{0}, child{0};
    std::atomic<int> child_not_parent{0};  // child hooks that ran in a new process
    std::atomic<int> parent_wrong_thread{0};
    std::atomic<int> starts{0}, stops{0};
    std::atomic<int> thread_ids[64];
    pid_t test_pid = 0;
    pthread_t test_thread{};
};

Shared *shared_counters() {
    void *mem = mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                     -1, 0);
    EXPECT_NE(mem, MAP_FAILED);
    Shared *s = new (mem) Shared();
    s->test_pid = getpid();
    s->test_thread = pthread_self();
    return s;
}

void release(Shared *s) { munmap(s, sizeof(Shared)); }

// ---------------------------------------------------------------------------
// Fork hooks.

pid_t g_forking_pid = 0;  // which process forked: set in prepare, checked in parent

void on_prepare(void *ud) {
    auto *s = static_cast<Shared *>(ud);
    s->prepare++;
    g_forking_pid = getpid();
    // In the caller's process the library forks from the calling thread.
    if (getpid() == s->test_pid && !pthread_equal(pthread_self(), s->test_thread))
        s->parent_wrong_thread++;
}
void on_parent(void *ud) {
    auto *s = static_cast<Shared *>(ud);
    s->parent++;
    if (getpid() != g_forking_pid) s->parent_wrong_thread++;
}
void on_child(void *ud) {
    auto *s = static_cast<Shared *>(ud);
    s->child++;
    if (getpid() != g_forking_pid) s->child_not_parent++;
}

int text_fn(pm_sink *out, void *) { return pm_sink_write(out, "ok", 2); }

TEST(ForkHooks, RunAroundEveryForkOfMapsPoolsAndProcesses) {
    PM_SKIP_IN_EXEC_MODE("fork hooks run around forks of the caller, which exec mode does not make");
    Shared *s = shared_counters();
    Options opts = make_options(Config{});
    ASSERT_EQ(pm_options_set_fork_hooks(opts.get(), on_prepare, on_parent, on_child, s), PM_OK);
    const std::vector<uint64_t> items = make_items(20);
    {
        // One-shot map of 2 processes: the template, then 2 workers.
        pm_map *m = nullptr;
        ASSERT_EQ(pm_map_create(&m, opts.get(), array_input(items), checksum_work, nullptr, nullptr),
                  PM_OK);
        Map map(m);
        EXPECT_EQ(check_ordered(drain(map.get()), expected_results(items)), 0u);
    }
    EXPECT_EQ(s->prepare.load(), 3);
    EXPECT_EQ(s->parent.load(), 3);
    EXPECT_EQ(s->child.load(), 3);
    {
        // A pool: the same, once, whatever the number of maps.
        pm_pool *p = nullptr;
        ASSERT_EQ(pm_pool_create(&p, opts.get(), checksum_work, nullptr, nullptr), PM_OK);
        Pool pool(p);
        for (int k = 0; k < 3; ++k) {
            pm_map *m = nullptr;
            ASSERT_EQ(pm_pool_map(&m, pool.get(), nullptr, array_input(items)), PM_OK);
            Map map(m);
            EXPECT_EQ(check_ordered(drain(map.get()), expected_results(items)), 0u);
        }
    }
    EXPECT_EQ(s->prepare.load(), 6);
    EXPECT_EQ(s->child.load(), 6);
    {
        // A background process: its watcher, then the process.
        pm_process *p = nullptr;
        ASSERT_EQ(pm_process_start(&p, opts.get(), text_fn, nullptr, nullptr), PM_OK);
        const void *d = nullptr;
        size_t n = 0;
        EXPECT_EQ(pm_process_join(p, &d, &n), PM_OK);
        pm_process_destroy(p);
    }
    EXPECT_EQ(s->prepare.load(), 8);
    EXPECT_EQ(s->parent.load(), 8);
    EXPECT_EQ(s->child.load(), 8);
    EXPECT_EQ(s->child_not_parent.load(), 8);
    EXPECT_EQ(s->parent_wrong_thread.load(), 0);
    // In-process maps do not fork.
    Config one;
    one.processes = 1;
    Options in_process = make_options(one);
    ASSERT_EQ(pm_options_set_fork_hooks(in_process.get(), on_prepare, on_parent, on_child, s),
              PM_OK);
    pm_map *m = nullptr;
    ASSERT_EQ(pm_map_create(&m, in_process.get(), array_input(items), checksum_work, nullptr,
                            nullptr),
              PM_OK);
    drain(m);
    pm_map_destroy(m);
    EXPECT_EQ(s->prepare.load(), 8);
    EXPECT_EQ(pm_options_set_fork_hooks(nullptr, nullptr, nullptr, nullptr, nullptr), PM_EINVAL);
    EXPECT_TRUE(no_children());
    release(s);
}

// ---------------------------------------------------------------------------
// Worker-thread hooks.

thread_local bool t_attached = false;

void thread_start(uint32_t, uint32_t thread, void *ud) {
    auto *s = static_cast<Shared *>(ud);
    s->starts++;
    if (thread < 64) s->thread_ids[thread]++;
    t_attached = true;
}
void thread_stop(uint32_t, uint32_t, void *ud) {
    static_cast<Shared *>(ud)->stops++;
    t_attached = false;
}

// Fails any item that runs on a thread the start hook did not see.
int attached_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (!t_attached) {
        pm_sink_set_error(out, "item ran on a thread that was not attached");
        return 1;
    }
    return checksum_work(item, len, index, out, ud);
}

TEST(ThreadHooks, EveryWorkerThreadIsAttachedBeforeItsItemsAndDetachedAfter) {
    PM_SKIP_IN_EXEC_MODE("the hooks count into an inherited shared mapping");
    const std::vector<uint64_t> items = make_items(200);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Shared *s = shared_counters();
        Config cfg;
        cfg.processes = processes;
        cfg.threads = 3;
        cfg.chunk = 1;
        Options opts = make_options(cfg);
        ASSERT_EQ(pm_options_set_thread_hooks(opts.get(), thread_start, thread_stop, s), PM_OK);
        pm_map *m = nullptr;
        ASSERT_EQ(pm_map_create(&m, opts.get(), array_input(items), attached_work, nullptr,
                                nullptr),
                  PM_OK);
        Map map(m);
        EXPECT_EQ(check_ordered(drain(map.get()), expected_results(items)), 0u);
        map.reset();
        EXPECT_EQ(s->starts.load(), int(3 * processes));
        EXPECT_EQ(s->stops.load(), int(3 * processes));
        for (int t = 0; t < 3; ++t) EXPECT_EQ(s->thread_ids[t].load(), int(processes));
        release(s);
    }
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Batched steps.

struct Batch {
    int status = 0;
    std::vector<uint64_t> indices;
    std::vector<int> statuses;
    std::vector<std::string> data;
    std::vector<std::string> errors;
};

Batch next_batch(pm_map *m, size_t max, int timeout_ms = -1) {
    std::vector<uint64_t> idx(max);
    std::vector<int> st(max);
    std::vector<const void *> d(max);
    std::vector<size_t> l(max);
    size_t n = 99;
    Batch b;
    b.status = pm_map_next_batch(m, max, timeout_ms, idx.data(), st.data(), d.data(), l.data(), &n);
    EXPECT_LE(n, max);
    for (size_t i = 0; i < n && i < max; ++i) {
        b.indices.push_back(idx[i]);
        b.statuses.push_back(st[i]);
        b.data.emplace_back(static_cast<const char *>(d[i]), d[i] ? l[i] : 0);
        b.errors.emplace_back(pm_map_entry_error(m, i));
    }
    return b;
}

std::atomic<uint64_t> g_progress_calls{0};
std::atomic<uint64_t> g_progress_done{0};
void count_progress(uint64_t done, uint64_t, void *) {
    g_progress_calls++;
    g_progress_done = done;
}

// A map of checksum_work over items whose progress count_progress() records.
Map start_counted_map(const Config &cfg, const std::vector<uint64_t> &items) {
    Options opts = make_options(cfg);
    EXPECT_EQ(pm_options_set_progress(opts.get(), count_progress, nullptr), PM_OK);
    pm_map *m = nullptr;
    const int rc = pm_map_create(&m, opts.get(), array_input(items), checksum_work, nullptr,
                                 nullptr);
    EXPECT_EQ(rc, PM_OK) << pm_status_str(rc) << ": " << pm_last_error();
    return Map(m);
}

TEST(Batch, HandsOverReadyResultsInOrderUpToMax) {
    const std::vector<uint64_t> items = make_items(5000);
    const std::vector<std::string> expected = expected_results(items);
    for (uint32_t processes : {1u, 2u}) {
        for (bool ordered : {true, false}) {
            SCOPED_TRACE("processes " + std::to_string(processes) + (ordered ? " ordered" : ""));
            g_progress_calls = 0;
            Config cfg;
            cfg.processes = processes;
            cfg.ordered = ordered;
            Map map = start_counted_map(cfg, items);
            ASSERT_TRUE(map);
            std::vector<int> seen(items.size(), 0);
            size_t batches = 0, total = 0;
            int status = PM_OK;
            while (status == PM_OK) {
                const Batch b = next_batch(map.get(), 64);
                status = b.status;
                ++batches;
                if (status == PM_OK) {
                    EXPECT_GE(b.indices.size(), 1u);
                }
                for (size_t i = 0; i < b.indices.size(); ++i) {
                    ASSERT_LT(b.indices[i], items.size());
                    if (ordered) {
                        EXPECT_EQ(b.indices[i], total);
                    }
                    EXPECT_EQ(b.statuses[i], PM_OK);
                    EXPECT_EQ(b.data[i], expected[b.indices[i]]);
                    EXPECT_EQ(b.errors[i], "");
                    seen[b.indices[i]]++;
                    ++total;
                }
            }
            EXPECT_EQ(status, PM_DONE);
            EXPECT_EQ(total, items.size());
            for (int n : seen) EXPECT_EQ(n, 1);
            // Batches of up to 64, and one progress call for each.
            EXPECT_GE(batches, items.size() / 64);
            EXPECT_EQ(g_progress_done.load(), items.size());
            EXPECT_LE(g_progress_calls.load(), batches);
            // Over: further steps are refused.
            EXPECT_EQ(next_batch(map.get(), 4).status, PM_ESTATE);
        }
    }
}

// Item 3 fails with a message and a payload; item 7 too, without payload.
int failing_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (index == 3) {
        pm_sink_set_error(out, "three is bad");
        const char payload[] = {'p', '\0', 'y'};
        pm_sink_set_error_payload(out, payload, sizeof payload);
        return 1;
    }
    if (index == 7) {
        pm_sink_set_error(out, "seven too");
        return 1;
    }
    return checksum_work(item, len, index, out, ud);
}

// pm_map_next() hands out a chunk's results one per call from what it took
// ahead: mixed with batched steps every result still comes once, in order,
// the progress callback counts each, and a failure inside a chunk comes
// after exactly the results before it.
int fails_at_150(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (index == 150) {
        pm_sink_set_error(out, "one hundred fifty");
        return 1;
    }
    return checksum_work(item, len, index, out, ud);
}

TEST(Batch, SingleAndBatchedStepsMixWithinAChunk) {
    const std::vector<uint64_t> items = make_items(3000);
    const std::vector<std::string> expected = expected_results(items);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Config cfg;
        cfg.processes = processes;
        cfg.chunk = 100;
        Map map = start_counted_map(cfg, items);
        ASSERT_TRUE(map);
        uint64_t next = 0;
        int status = PM_OK;
        for (int round = 0; status == PM_OK; ++round) {
            for (int k = 0; k < 3 && status == PM_OK; ++k) {
                uint64_t index = 0;
                const void *data = nullptr;
                size_t len = 0;
                status = pm_map_next(map.get(), &index, &data, &len);
                if (status != PM_OK) break;
                ASSERT_EQ(index, next);
                ASSERT_EQ(std::string(static_cast<const char *>(data), len), expected[next]);
                ++next;
                ASSERT_EQ(g_progress_done.load(), next);
            }
            if (status != PM_OK) break;
            const Batch b = next_batch(map.get(), 1 + round % 9);
            status = b.status == PM_DONE && !b.indices.empty() ? PM_OK : b.status;
            for (size_t i = 0; i < b.indices.size(); ++i) {
                ASSERT_EQ(b.indices[i], next);
                ASSERT_EQ(b.data[i], expected[next]);
                ++next;
            }
            ASSERT_EQ(g_progress_done.load(), next);
            if (b.status == PM_DONE) status = PM_DONE;
        }
        EXPECT_EQ(status, PM_DONE);
        EXPECT_EQ(next, items.size());
    }
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("raise mode, processes " + std::to_string(processes));
        Config cfg;
        cfg.processes = processes;
        cfg.chunk = 100;
        Map map = start_map(cfg, array_input(items), fails_at_150);
        ASSERT_TRUE(map);
        uint64_t index = 0;
        const void *data = nullptr;
        size_t len = 0;
        uint64_t got = 0;
        int status;
        while ((status = pm_map_next(map.get(), &index, &data, &len)) == PM_OK) {
            ASSERT_EQ(index, got);
            ++got;
        }
        EXPECT_EQ(status, PM_EITEM);
        EXPECT_EQ(got, 150u);
        EXPECT_EQ(index, 150u);
        EXPECT_TRUE(contains(pm_last_error(), "one hundred fifty")) << pm_last_error();
    }
}

TEST(Batch, ReturnModeFailuresCarryTheirMessageAndPayload) {
    const std::vector<uint64_t> items = make_items(10);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Config cfg;
        cfg.processes = processes;
        cfg.error_mode = PM_ERRORS_RETURN;
        Map map = start_map(cfg, array_input(items), failing_work);
        ASSERT_TRUE(map);
        std::map<uint64_t, std::pair<int, std::pair<std::string, std::string>>> got;
        int status = PM_OK;
        while (status == PM_OK) {
            const Batch b = next_batch(map.get(), 100);
            status = b.status;
            for (size_t i = 0; i < b.indices.size(); ++i)
                got[b.indices[i]] = {b.statuses[i], {b.data[i], b.errors[i]}};
        }
        EXPECT_EQ(status, PM_DONE);
        ASSERT_EQ(got.size(), items.size());
        EXPECT_EQ(got[3].first, PM_EITEM);
        EXPECT_EQ(got[3].second.first, std::string("p\0y", 3));
        EXPECT_EQ(got[3].second.second, "three is bad");
        EXPECT_EQ(got[7].first, PM_EITEM);
        EXPECT_EQ(got[7].second.first, "");
        EXPECT_EQ(got[7].second.second, "seven too");
        EXPECT_EQ(got[4].first, PM_OK);
    }
}

TEST(Batch, RaiseModeEndsWithTheFailureAsItsLastEntry) {
    const std::vector<uint64_t> items = make_items(10);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Config cfg;
        cfg.processes = processes;
        Map map = start_map(cfg, array_input(items), failing_work);
        ASSERT_TRUE(map);
        std::vector<uint64_t> seen;
        Batch b;
        do {
            b = next_batch(map.get(), 100);
            seen.insert(seen.end(), b.indices.begin(), b.indices.end());
        } while (b.status == PM_OK);
        EXPECT_EQ(b.status, PM_EITEM);
        ASSERT_FALSE(b.indices.empty());
        EXPECT_EQ(b.indices.back(), 3u);
        EXPECT_EQ(b.statuses.back(), PM_EITEM);
        EXPECT_EQ(b.errors.back(), "three is bad");
        EXPECT_EQ(b.data.back(), std::string("p\0y", 3));
        EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2, 3}));
        EXPECT_STREQ(pm_map_error(map.get()), "three is bad");
    }
}

TEST(Batch, PayloadOfAFailedStepOfPmMapNext) {
    const std::vector<uint64_t> items = make_items(6);
    Config cfg;
    cfg.error_mode = PM_ERRORS_RETURN;
    cfg.chunk = 1;
    Map map = start_map(cfg, array_input(items), failing_work);
    ASSERT_TRUE(map);
    for (int k = 0; k < 6; ++k) {
        const Step s = next_step(map.get());
        const void *d = &d;
        size_t n = 99;
        ASSERT_EQ(pm_map_error_payload(map.get(), &d, &n), PM_OK);
        if (s.index == 3) {
            EXPECT_EQ(s.status, PM_EITEM);
            EXPECT_EQ(std::string(static_cast<const char *>(d), n), std::string("p\0y", 3));
        } else {
            EXPECT_EQ(d, nullptr);
            EXPECT_EQ(n, 0u);
        }
    }
    EXPECT_EQ(pm_map_error_payload(nullptr, nullptr, nullptr), PM_EINVAL);
}

int stuck_after_2(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (index >= 2) pause();
    return checksum_work(item, len, index, out, ud);
}

TEST(Batch, ATimeoutReturnsEagainAndTheMapGoesOn) {
    const std::vector<uint64_t> items = make_items(20);
    Config cfg;
    cfg.chunk = 1;
    Map map = start_map(cfg, array_input(items), stuck_after_2);
    ASSERT_TRUE(map);
    size_t got = 0;
    int eagain = 0;
    const auto t0 = std::chrono::steady_clock::now();
    // Items 0 and 1 come; then each wait times out, and the map is still
    // there to be waited on again.
    while (got < 2 || eagain < 3) {
        const Batch b = next_batch(map.get(), 10, 50);
        if (b.status == PM_EAGAIN) {
            EXPECT_TRUE(b.indices.empty());
            eagain += got == 2;
            continue;
        }
        ASSERT_EQ(b.status, PM_OK);
        got += b.indices.size();
        ASSERT_LE(got, 2u);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
    EXPECT_EQ(pm_map_cancel(map.get()), PM_OK);
    const Batch b = next_batch(map.get(), 10, 50);
    EXPECT_EQ(b.status, PM_ECANCELED);
    ASSERT_EQ(b.indices.size(), 1u);
    EXPECT_EQ(b.statuses[0], PM_ECANCELED);
}

TEST(Batch, RefusesBadArguments) {
    const std::vector<uint64_t> items = make_items(3);
    Map map = start_map(Config{}, array_input(items), checksum_work);
    uint64_t idx[4];
    int st[4];
    const void *d[4];
    size_t l[4], n = 7;
    EXPECT_EQ(pm_map_next_batch(nullptr, 4, -1, idx, st, d, l, &n), PM_EINVAL);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(pm_map_next_batch(map.get(), 0, -1, idx, st, d, l, &n), PM_EINVAL);
    EXPECT_EQ(pm_map_next_batch(map.get(), 4, -1, nullptr, st, d, l, &n), PM_EINVAL);
    EXPECT_EQ(pm_map_next_batch(map.get(), 4, -1, idx, st, d, l, nullptr), PM_EINVAL);
    EXPECT_STREQ(pm_map_entry_error(nullptr, 0), "");
    EXPECT_STREQ(pm_map_entry_error(map.get(), 1000), "");
    // Mixed with pm_map_next on the same map.
    EXPECT_EQ(next_step(map.get()).status, PM_OK);
    size_t total = 1;
    int rc;
    do {
        rc = pm_map_next_batch(map.get(), 4, -1, idx, st, d, l, &n);
        total += n;
    } while (rc == PM_OK);
    EXPECT_EQ(rc, PM_DONE);
    EXPECT_EQ(total, 3u);
}

// ---------------------------------------------------------------------------
// Chunk work functions.

// Results like checksum_work; item index % 5 == 4 fails with a payload; a
// chunk holding item 23 ends only the items before it and returns 0.
int chunk_work(uint64_t first, size_t count, const void *const *items, const size_t *lens,
               pm_sink *out, void *) {
    for (size_t i = 0; i < count; ++i) {
        const uint64_t index = first + i;
        if (index == 23) return 0;
        if (index % 5 == 4) {
            pm_sink_set_error(out, "fourth of five");
            pm_sink_set_error_payload(out, &index, sizeof index);
            if (pm_sink_end_item(out, 1) != PM_OK) return 2;
            continue;
        }
        const std::string r = expected_result(items[i], lens[i], index);
        if (pm_sink_write(out, r.data(), r.size()) != PM_OK) return 3;
        if (pm_sink_end_item(out, 0) != PM_OK) return 4;
    }
    // Every item is ended: one more is refused.
    return pm_sink_end_item(out, 0) == PM_EINVAL ? 0 : 5;
}

TEST(ChunkFn, EachItemGetsItsResultOrFailureOnePerItem) {
    const std::vector<uint64_t> items = make_items(60);
    const std::vector<std::string> expected = expected_results(items);
    for (uint32_t processes : {1u, 2u}) {
        for (uint32_t threads : {1u, 2u}) {
            for (size_t chunk : {size_t(1), size_t(7), size_t(PM_CHUNK_AUTO)}) {
                SCOPED_TRACE("processes " + std::to_string(processes) + " threads " +
                             std::to_string(threads) + " chunk " + std::to_string(chunk));
                Config cfg;
                cfg.processes = processes;
                cfg.threads = threads;
                cfg.chunk = chunk;
                cfg.error_mode = PM_ERRORS_RETURN;
                Options opts = make_options(cfg);
                pm_map *m = nullptr;
                ASSERT_EQ(pm_map_create_chunked(&m, opts.get(), array_input(items), chunk_work,
                                                nullptr, nullptr),
                          PM_OK)
                    << pm_last_error();
                Map map(m);
                const std::vector<Step> steps = drain(map.get(), true);
                ASSERT_EQ(steps.size(), items.size() + 1);
                for (size_t i = 0; i < items.size(); ++i) {
                    const Step &s = steps[i];
                    EXPECT_EQ(s.index, i);
                    if (i == 23) {
                        EXPECT_EQ(s.status, PM_EITEM);
                        EXPECT_TRUE(contains(s.error, "before ending item 23")) << s.error;
                    } else if (i > 23 && s.status == PM_EITEM &&
                               contains(s.error, "before ending item 23")) {
                        // Items after 23 in its chunk fail with it.
                    } else if (i % 5 == 4) {
                        EXPECT_EQ(s.status, PM_EITEM) << describe(s);
                        EXPECT_EQ(s.error, "fourth of five");
                    } else {
                        EXPECT_EQ(s.status, PM_OK) << describe(s);
                        EXPECT_EQ(s.data, expected[i]);
                    }
                }
            }
        }
    }
    EXPECT_TRUE(no_children());
}

int chunk_crash_at_9(uint64_t first, size_t count, const void *const *items, const size_t *lens,
                     pm_sink *out, void *) {
    for (size_t i = 0; i < count; ++i) {
        if (first + i == 9) abort();
        const std::string r = expected_result(items[i], lens[i], first + i);
        pm_sink_write(out, r.data(), r.size());
        pm_sink_end_item(out, 0);
    }
    return 0;
}

TEST(ChunkFn, ACrashBlamesTheFirstItemNotEnded) {
    const std::vector<uint64_t> items = make_items(20);
    Config cfg;
    cfg.chunk = 5;
    Options opts = make_options(cfg);
    pm_pool *p = nullptr;
    ASSERT_EQ(pm_pool_create_chunked(&p, opts.get(), chunk_crash_at_9, nullptr, nullptr), PM_OK);
    Pool pool(p);
    pm_map *m = nullptr;
    ASSERT_EQ(pm_pool_map(&m, pool.get(), opts.get(), array_input(items)), PM_OK);
    Map map(m);
    const std::vector<Step> steps = drain(map.get());
    ASSERT_EQ(steps.size(), 10u) << describe(steps.back());
    EXPECT_EQ(check_prefix(steps, expected_results(items), 9), 0u);
    EXPECT_EQ(steps.back().index, 9u);
    EXPECT_TRUE(contains(steps.back().error, "killed by signal 6 (SIGABRT) while running item 9"))
        << steps.back().error;
    EXPECT_EQ(pm_map_create_chunked(nullptr, nullptr, array_input(items), chunk_work, nullptr,
                                    nullptr),
              PM_EINVAL);
}

int plain_work_calls_end_item(const void *, size_t, uint64_t, pm_sink *out, void *) {
    return pm_sink_end_item(out, 0) == PM_EINVAL ? 0 : 1;
}

TEST(ChunkFn, EndItemOutsideAChunkFunctionIsRefused) {
    const std::vector<uint64_t> items = make_items(4);
    Map map = start_map(Config{}, array_input(items), plain_work_calls_end_item);
    const std::vector<Step> steps = drain(map.get());
    EXPECT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    EXPECT_EQ(pm_sink_end_item(nullptr, 0), PM_EINVAL);
}

// ---------------------------------------------------------------------------
// Error buffers.

TEST(ErrorBuffer, AFailingCallWritesItsMessageThere) {
    char buf[64];
    memset(buf, 'x', sizeof buf);
    Options opts = make_options(Config{});
    ASSERT_EQ(pm_options_set_error_buffer(opts.get(), buf, sizeof buf), PM_OK);
    EXPECT_EQ(buf[0], '\0');
    pm_map *m = nullptr;
    EXPECT_EQ(pm_map_create(&m, opts.get(), array_input(make_items(1)), nullptr, nullptr, nullptr),
              PM_EINVAL);
    EXPECT_STREQ(buf, "pm_map_create: out, input or work is NULL");
    // From another thread too: the buffer belongs to the options, not to a
    // thread.
    std::thread other([&] {
        pm_pool *p = nullptr;
        EXPECT_EQ(pm_pool_create(&p, opts.get(), nullptr, nullptr, nullptr), PM_EINVAL);
    });
    other.join();
    EXPECT_STREQ(buf, "pm_pool_create: out or work is NULL");
    // A busy pool refuses a second map.
    pm_pool *p = nullptr;
    ASSERT_EQ(pm_pool_create(&p, opts.get(), checksum_work, nullptr, nullptr), PM_OK);
    Pool pool(p);
    // The array input borrows its items until the map is destroyed.
    const std::vector<uint64_t> items = make_items(3);
    pm_map *a = nullptr, *b = nullptr;
    ASSERT_EQ(pm_pool_map(&a, pool.get(), opts.get(), array_input(items)), PM_OK);
    EXPECT_EQ(pm_pool_map(&b, pool.get(), opts.get(), array_input(items)), PM_ESTATE);
    EXPECT_TRUE(contains(buf, "another map of this pool is still alive")) << buf;
    pm_map_destroy(a);
    // A message longer than the buffer is cut, NUL-terminated.
    char tiny[8];
    ASSERT_EQ(pm_options_set_error_buffer(opts.get(), tiny, sizeof tiny), PM_OK);
    EXPECT_EQ(pm_map_create(&m, opts.get(), array_input(make_items(1)), nullptr, nullptr, nullptr),
              PM_EINVAL);
    EXPECT_STREQ(tiny, "pm_map_");
    EXPECT_EQ(pm_options_set_error_buffer(nullptr, buf, 4), PM_EINVAL);
}

// ---------------------------------------------------------------------------
// Packed pushes, and the wanted count.

struct PackedGen {
    std::atomic<uint64_t> pushed{0};
    std::atomic<uint64_t> over_wanted{0};
};

int packed_gen(pm_feed *feed, void *ud) {
    auto *g = static_cast<PackedGen *>(ud);
    const size_t wanted = pm_feed_wanted(feed);
    const size_t n = std::min<size_t>({wanted, 50, size_t(10000 - g->pushed)});
    std::vector<uint64_t> values(n);
    std::vector<size_t> lens(n, sizeof(uint64_t));
    for (size_t i = 0; i < n; ++i) values[i] = g->pushed + i;
    if (pm_feed_push_packed(feed, values.data(), lens.data(), n) != PM_OK) return -1;
    g->pushed += n;
    return g->pushed >= 10000 ? PM_DONE : PM_OK;
}

int echo_work(const void *item, size_t len, uint64_t, pm_sink *out, void *) {
    return pm_sink_write(out, item, len);
}

// Checks that steps are the n values 0 .. n-1 (8 bytes each, in order),
// then the end.
void expect_counted_values(const std::vector<Step> &steps, uint64_t n) {
    ASSERT_EQ(steps.size(), n + 1);
    for (uint64_t i = 0; i < n; ++i) {
        uint64_t v = 0;
        ASSERT_EQ(steps[i].data.size(), sizeof v);
        memcpy(&v, steps[i].data.data(), sizeof v);
        ASSERT_EQ(v, i);
    }
}

TEST(Feed, PackedPushesWithinTheWantedCountKeepTheBoundExact) {
    PackedGen gen;
    Config cfg;
    cfg.max_in_flight = 500;
    Options opts = make_options(cfg);
    pm_input *in = nullptr;
    ASSERT_EQ(pm_input_create_pull(&in, packed_gen, &gen, nullptr), PM_OK);
    pm_map *m = nullptr;
    ASSERT_EQ(pm_map_create(&m, opts.get(), in, echo_work, nullptr, nullptr), PM_OK);
    Map map(m);
    // Nothing consumed yet: the feeder stops at exactly the bound.
    for (int k = 0; k < 100 && gen.pushed < 500; ++k) usleep(5000);
    usleep(50000);
    EXPECT_EQ(gen.pushed.load(), 500u);
    expect_counted_values(drain(map.get()), 10000);
    EXPECT_EQ(pm_feed_push_packed(nullptr, nullptr, nullptr, 0), PM_EINVAL);
    EXPECT_EQ(pm_feed_wanted(nullptr), 0u);
}

// A callback pushing in small steps sees the wanted count go down by each
// item pushed, in the same call and in the next call of the same request
// (0.3 drafts counted the earlier pushes again, and overshot the bound).
struct SteppedGen {
    uint64_t pushed = 0;
    uint64_t miscounted = 0;
    uint64_t zero_at_start = 0;
};

int stepped_gen(pm_feed *feed, void *ud) {
    auto *g = static_cast<SteppedGen *>(ud);
    const size_t at_start = pm_feed_wanted(feed);
    if (at_start == 0) ++g->zero_at_start;
    const size_t n = std::min<size_t>({at_start, 3, size_t(2000 - g->pushed)});
    for (size_t i = 0; i < n; ++i) {
        const uint64_t v = g->pushed++;
        if (pm_feed_push(feed, &v, sizeof v) != PM_OK) return -1;
        if (pm_feed_wanted(feed) != at_start - i - 1) ++g->miscounted;
    }
    return g->pushed >= 2000 ? PM_DONE : PM_OK;
}

TEST(Feed, TheWantedCountGoesDownByEachItemPushed) {
    SteppedGen gen;
    Config cfg;
    cfg.max_in_flight = 64;
    cfg.chunk = 10;  // each request wants several pushes of 3
    Options opts = make_options(cfg);
    pm_input *in = nullptr;
    ASSERT_EQ(pm_input_create_pull(&in, stepped_gen, &gen, nullptr), PM_OK);
    pm_map *m = nullptr;
    ASSERT_EQ(pm_map_create(&m, opts.get(), in, echo_work, nullptr, nullptr), PM_OK);
    Map map(m);
    expect_counted_values(drain(map.get()), 2000);
    EXPECT_EQ(gen.miscounted, 0u);
    EXPECT_EQ(gen.zero_at_start, 0u);
}

// ---------------------------------------------------------------------------
// Crash signals reset in workers.

void exit_two_on_segv(int) { _exit(2); }  // what Go's runtime does, in effect

int segv_work(const void *, size_t, uint64_t, pm_sink *, void *) {
    // raise() rather than a null store: UBSan would stop at the store.
    raise(SIGSEGV);
    return 0;
}

TEST(CrashSignals, AHandlerInheritedFromTheHostHidesTheSignalUnlessReset) {
    PM_SKIP_IN_EXEC_MODE("an exec-mode worker does not inherit the host signal handler");
    struct sigaction sa = {}, old = {};
    sa.sa_handler = exit_two_on_segv;
    ASSERT_EQ(sigaction(SIGSEGV, &sa, &old), 0);
    const std::vector<uint64_t> items = make_items(2);
    for (int reset : {0, 1}) {
        SCOPED_TRACE(reset ? "reset" : "inherited");
        Config cfg;
        cfg.chunk = 1;
        Options opts = make_options(cfg);
        ASSERT_EQ(pm_options_set_reset_crash_signals(opts.get(), reset), PM_OK);
        pm_map *m = nullptr;
        ASSERT_EQ(pm_map_create(&m, opts.get(), array_input(items), segv_work, nullptr, nullptr),
                  PM_OK);
        Map map(m);
        const Step s = next_step(map.get());
        EXPECT_EQ(s.status, PM_EWORKER);
        EXPECT_TRUE(contains(s.error, reset ? "killed by signal 11 (SIGSEGV)"
                                            : "exited with status 2"))
            << s.error;
    }
    ASSERT_EQ(sigaction(SIGSEGV, &old, nullptr), 0);
    EXPECT_EQ(pm_options_set_reset_crash_signals(nullptr, 1), PM_EINVAL);
}

}  // namespace

namespace {

// A generator that waits for the result of the item it gave before it
// gives the next (a producer fed by its consumer): it returns PM_EAGAIN
// while it waits, and what it pushed must reach the workers meanwhile.
struct Lockstep {
    std::atomic<int> delivered{0};
    int pushed = 0;
};

int lockstep_gen(pm_feed *feed, void *ud) {
    auto *g = static_cast<Lockstep *>(ud);
    if (g->pushed == 6) return PM_DONE;
    if (g->delivered.load() < g->pushed) {
        usleep(1000);
        return PM_EAGAIN;
    }
    const uint64_t v = static_cast<uint64_t>(g->pushed++);
    return pm_feed_push(feed, &v, sizeof v);
}

TEST(Feed, AGeneratorWaitingForItsResultsIsNotLeftWaiting) {
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Lockstep gen;
        Config cfg;
        cfg.processes = processes;
        Options opts = make_options(cfg);
        pm_input *in = nullptr;
        ASSERT_EQ(pm_input_create_pull(&in, lockstep_gen, &gen, nullptr), PM_OK);
        pm_map *m = nullptr;
        ASSERT_EQ(pm_map_create(&m, opts.get(), in, echo_work, nullptr, nullptr), PM_OK);
        Map map(m);
        int status = PM_OK;
        for (int k = 0; k < 200 && status != PM_DONE; ++k) {
            const Batch b = next_batch(map.get(), 8, 100);
            status = b.status;
            ASSERT_TRUE(status == PM_OK || status == PM_EAGAIN || status == PM_DONE) << status;
            for (size_t i = 0; i < b.indices.size(); ++i) EXPECT_EQ(b.indices[i], uint64_t(gen.delivered + i));
            gen.delivered += static_cast<int>(b.indices.size());
        }
        EXPECT_EQ(status, PM_DONE);
        EXPECT_EQ(gen.delivered.load(), 6);
    }
    EXPECT_STREQ(pm_status_str(PM_EAGAIN), "nothing yet: the wait timed out");
}

// A one-shot map of echo_work over generator fn, 2 processes, chunk size 1.
Map start_item_by_item_map(pm_input_fn fn, void *gen) {
    Config cfg;
    cfg.processes = 2;
    cfg.chunk = 1;
    pm_input *in = nullptr;
    EXPECT_EQ(pm_input_create_pull(&in, fn, gen, nullptr), PM_OK);
    if (!in) return Map(nullptr);
    return start_map(cfg, in, echo_work);
}

// A generator that takes 2 ms per item and returns PM_OK: a full chunk goes
// out before the next call, so its first item is not held back while it
// makes the next ones (reading 64 chunks ahead to a write would hold it for
// 64 calls).
struct SlowGen {
    std::atomic<int> calls{0};
    int n = 200;
};

int slow_gen(pm_feed *feed, void *ud) {
    auto *g = static_cast<SlowGen *>(ud);
    const int k = g->calls.fetch_add(1);
    if (k == g->n) return PM_DONE;
    usleep(2000);
    const uint64_t v = static_cast<uint64_t>(k);
    return pm_feed_push(feed, &v, sizeof v);
}

TEST(Feed, ASlowGeneratorsItemsAreNotHeldBackToFillLaterChunks) {
    SlowGen gen;
    Map map = start_item_by_item_map(slow_gen, &gen);
    ASSERT_TRUE(map);
    uint64_t index = 99;
    ASSERT_EQ(pm_map_next(map.get(), &index, nullptr, nullptr), PM_OK);
    EXPECT_EQ(index, 0u);
    // Read ahead to the write's 64 chunks, the first result would come
    // after 64 calls (128 ms); the margin is for a loaded machine.
    EXPECT_LT(gen.calls.load(), 32) << "calls of the generator before its first result";
}

// A generator that blocks inside its call until the result of the item it
// gave last has been delivered (as the Go binding's inputs do: they wait for
// their next item): with chunk size 1 each item must go out before the
// next call, or the map deadlocks. The wait gives up after 10 s.
struct BlockingGen {
    std::mutex m;
    std::condition_variable delivered_cv;
    int delivered = 0;
    int pushed = 0;
    int n = 50;
};

int blocking_gen(pm_feed *feed, void *ud) {
    auto *g = static_cast<BlockingGen *>(ud);
    if (g->pushed == g->n) return PM_DONE;
    std::unique_lock<std::mutex> hold(g->m);
    if (!g->delivered_cv.wait_for(hold, std::chrono::seconds(10),
                                  [g] { return g->delivered >= g->pushed; })) {
        pm_feed_set_error(feed, "the result of the last item never came");
        return PM_EINPUT;
    }
    const uint64_t v = static_cast<uint64_t>(g->pushed++);
    return pm_feed_push(feed, &v, sizeof v);
}

TEST(Feed, AGeneratorBlockingForItsLastResultIsNotDeadlocked) {
    BlockingGen gen;
    Map map = start_item_by_item_map(blocking_gen, &gen);
    ASSERT_TRUE(map);
    for (int k = 0; k < gen.n; ++k) {
        uint64_t index = 99;
        ASSERT_EQ(pm_map_next(map.get(), &index, nullptr, nullptr), PM_OK)
            << "item " << k << ": " << pm_map_error(map.get());
        EXPECT_EQ(index, uint64_t(k));
        std::lock_guard<std::mutex> hold(gen.m);
        ++gen.delivered;
        gen.delivered_cv.notify_all();
    }
    EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_DONE);
}

}  // namespace
