// What the engine recovers from, over the same grid as the fault matrix
// ({ordered, unordered} x {2, 4 processes} x {1, 2 threads} x {raise,
// return}):
//   Faults/Retry.Case/<fault>_<once|always>_...   a crash or timeout on the
//       item's first attempt only (retries 1: every result arrives), or on
//       every attempt (retries 2: the item fails after 3 attempts);
//   Faults/Recycle.Case/<fault>_...   workers recycled every 5 items, with
//       init/exit hooks whose state the work function checks, and a fault;
//   Faults/Cancel.Case/<stuck|busy>_..._<oneshot|pool>   pm_map_cancel()
//       from another thread while the consumer is blocked in pm_map_next()
//       and a work function is stuck in an endless loop (or, in-process,
//       busy with slow items).
// Every case checks that no process or descriptor is left over.
#include "capi_test_util.hpp"
#include "fault_kit.hpp"

#include <set>
#include <thread>

namespace {

using namespace faultkit;
using namespace pmtest;

[[maybe_unused]] const bool kAdopting = adopt_orphans();

constexpr uint64_t kItems = 48;
constexpr uint64_t kFaultAt = 17;
constexpr uint64_t kTimeoutMs = 150;

const char *mode_name(int mode) {
    return mode == PM_ERRORS_RAISE ? "raise" : mode == PM_ERRORS_RETURN ? "return" : "inline";
}

struct Grid {
    bool ordered;
    uint32_t processes;
    uint32_t threads;
    int mode;
};

std::string grid_name(const Grid &g) {
    return std::string(g.ordered ? "ordered" : "unordered") + "_p" +
           std::to_string(g.processes) + "_t" + std::to_string(g.threads) + "_" +
           mode_name(g.mode);
}

std::vector<Grid> forked_grid() {
    std::vector<Grid> out;
    for (bool ordered : {true, false})
        for (uint32_t threads : {1u, 2u})
            for (uint32_t processes : {2u, 4u})
                for (int mode : {PM_ERRORS_RAISE, PM_ERRORS_RETURN})
                    out.push_back({ordered, processes, threads, mode});
    return out;
}

bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}

// Shared page, descriptors and children around each case.
class Hygienic {
protected:
    void start() {
        fds_before_ = open_fds();
        ASSERT_TRUE(no_children()) << "a child was left by an earlier test";
        shared_ = map_shared();
        ASSERT_NE(shared_, nullptr);
    }
    void finish() {
        unmap_shared(shared_);
        EXPECT_TRUE(no_children());
        const auto after = open_fds();
        EXPECT_EQ(fds_before_, after) << fd_diff(fds_before_, after);
    }
    Shared *shared_ = nullptr;

private:
    std::map<int, std::string> fds_before_;
};

// Steps a map over good_items(kItems) to its end; checks every result that
// is not the fault item's, each index at most once, in order if ordered.
// Returns the steps that were not results, the final one last.
std::vector<Step> run_and_check(pm_map *map, const Grid &g,
                                const std::vector<std::string> &expected,
                                std::vector<int> &delivered) {
    std::vector<Step> failures;
    delivered.assign(kItems, 0);
    for (size_t k = 0;; ++k) {
        Step s = next_step(map);
        if (s.status == PM_DONE || (s.status < 0 && g.mode != PM_ERRORS_RETURN)) {
            failures.push_back(s);
            break;
        }
        if (s.status < 0 && s.status != PM_EITEM && s.status != PM_EWORKER &&
            s.status != PM_ETIMEOUT) {
            failures.push_back(s);
            break;
        }
        if (s.index >= kItems || k > 2 * kItems) {
            ADD_FAILURE() << "step " << k << ": " << describe(s);
            failures.push_back(s);
            break;
        }
        if (g.ordered) {
            EXPECT_EQ(s.index, k) << describe(s);
        }
        EXPECT_EQ(++delivered[s.index], 1) << "item " << s.index << " delivered twice";
        if (s.status == PM_OK) {
            EXPECT_EQ(s.data, expected[s.index]) << "item " << s.index;
        } else {
            failures.push_back(s);
        }
    }
    return failures;
}

// Every step in failures, one per line, for a failed expectation's message.
std::string describe_all(const std::vector<Step> &failures) {
    std::string out;
    for (const Step &s : failures) out += "\n  " + describe(s);
    return out;
}

// ---------------------------------------------------------------------------
// Retries.

struct RetryParam {
    Fault fault;
    bool always;  // the fault fires on every attempt, not only the first
    Grid grid;
};

class Retry : public ::testing::TestWithParam<RetryParam>, protected Hygienic {
protected:
    void SetUp() override { start(); }
    void TearDown() override { finish(); }
};

TEST_P(Retry, Case) {
    const RetryParam &p = GetParam();
    const Grid &g = p.grid;
    const std::vector<uint64_t> items = good_items(kItems, 21);
    const std::vector<std::string> expected = good_results(items);
    const uint32_t retries = p.always ? 2 : 1;
    FaultPlan plan;
    plan.fault = p.fault;
    plan.at = kFaultAt;
    plan.shared = shared_;
    plan.fail_attempts = p.always ? UINT32_MAX : 1;
    Config cfg;
    cfg.processes = g.processes;
    cfg.threads = g.threads;
    cfg.ordered = g.ordered;
    cfg.error_mode = g.mode;
    cfg.chunk = 3;
    Options opts = make_options(cfg);
    ASSERT_EQ(pm_options_set_retries(opts.get(), retries), PM_OK);
    if (p.fault == Fault::timeout) {
        ASSERT_EQ(pm_options_set_item_timeout(opts.get(), kTimeoutMs), PM_OK);
    }
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), fault_work, publish(plan), nullptr),
              PM_OK)
        << pm_last_error();
    Map map(raw);
    std::vector<int> delivered;
    const std::vector<Step> failures = run_and_check(map.get(), g, expected, delivered);
    const Step &last = failures.back();
    if (!p.always) {
        // Once: the second attempt succeeds, nothing fails.
        EXPECT_EQ(failures.size(), 1u) << describe_all(failures);
        EXPECT_EQ(last.status, PM_DONE) << describe(last);
        for (size_t i = 0; i < kItems; ++i) EXPECT_EQ(delivered[i], 1) << "item " << i;
        EXPECT_EQ(shared_->attempts.load(), 2u) << describe_all(failures);
    } else {
        // Always: the item fails after retries + 1 attempts, and says so.
        const Step &f = g.mode == PM_ERRORS_RETURN ? failures.front() : last;
        if (g.mode == PM_ERRORS_RETURN) {
            EXPECT_EQ(failures.size(), 2u) << describe_all(failures);
            EXPECT_EQ(last.status, PM_DONE) << describe(last);
            for (size_t i = 0; i < kItems; ++i) EXPECT_EQ(delivered[i], 1) << "item " << i;
        } else if (g.ordered) {
            EXPECT_EQ(delivered[f.index], 0);
            for (size_t i = 0; i < kFaultAt; ++i) EXPECT_EQ(delivered[i], 1) << "item " << i;
        }
        EXPECT_EQ(f.status, fault_status(p.fault)) << describe(f);
        EXPECT_EQ(f.index, kFaultAt);
        EXPECT_TRUE(contains(f.error, "failed 3 attempts")) << f.error;
        EXPECT_TRUE(message_names_death(p.fault, f.error))
            << f.error;
        EXPECT_EQ(shared_->attempts.load(), 3u) << describe_all(failures);
    }
    EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
    map.reset();
}

std::vector<RetryParam> retry_cases() {
    std::vector<RetryParam> out;
    for (Fault f : {Fault::segfault, Fault::abort_, Fault::exit0, Fault::exit3, Fault::sigkill,
                    Fault::timeout})
        for (bool always : {false, true})
            for (const Grid &g : forked_grid()) out.push_back({f, always, g});
    return out;
}

std::string retry_name(const ::testing::TestParamInfo<RetryParam> &info) {
    return std::string(fault_name(info.param.fault)) + (info.param.always ? "_always_" : "_once_") +
           grid_name(info.param.grid);
}

void PrintTo(const RetryParam &p, std::ostream *os) {
    *os << fault_name(p.fault) << (p.always ? " always " : " once ") << grid_name(p.grid);
}

INSTANTIATE_TEST_SUITE_P(Faults, Retry, ::testing::ValuesIn(retry_cases()), retry_name);

// ---------------------------------------------------------------------------
// Recycling with hooks.

constexpr uint64_t kRecycleEvery = 5;

struct RecycleParam {
    Fault fault;
    bool none;  // no fault: a clean map
    Grid grid;
};

class Recycle : public ::testing::TestWithParam<RecycleParam>, protected Hygienic {
protected:
    void SetUp() override { start(); }
    void TearDown() override { finish(); }
};

TEST_P(Recycle, Case) {
    const RecycleParam &p = GetParam();
    const Grid &g = p.grid;
    const std::vector<uint64_t> items = good_items(kItems, 22);
    const std::vector<std::string> expected = good_results(items);
    FaultPlan plan;
    plan.fault = p.fault;
    plan.at = p.none ? UINT64_MAX : kFaultAt;
    plan.shared = shared_;
    plan.processes = g.processes;
    Config cfg;
    cfg.processes = g.processes;
    cfg.threads = g.threads;
    cfg.ordered = g.ordered;
    cfg.error_mode = g.mode;
    cfg.chunk = 1;
    Options opts = make_options(cfg);
    ASSERT_EQ(pm_options_set_max_items_per_worker(opts.get(), kRecycleEvery), PM_OK);
    ASSERT_EQ(pm_options_set_worker_hooks(opts.get(), init_hook, exit_hook, shared_), PM_OK);
    if (p.fault == Fault::timeout) {
        ASSERT_EQ(pm_options_set_item_timeout(opts.get(), kTimeoutMs), PM_OK);
    }
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), fault_work, publish(plan), nullptr),
              PM_OK)
        << pm_last_error();
    Map map(raw);
    std::vector<int> delivered;
    const std::vector<Step> failures = run_and_check(map.get(), g, expected, delivered);
    const Step &last = failures.back();
    if (p.none || g.mode == PM_ERRORS_RETURN) {
        EXPECT_EQ(last.status, PM_DONE) << describe(last);
        for (size_t i = 0; i < kItems; ++i) EXPECT_EQ(delivered[i], 1) << "item " << i;
    }
    if (p.none) {
        EXPECT_EQ(failures.size(), 1u) << describe_all(failures);
    } else {
        // The fault item fails (with a crash, perhaps with another item its
        // worker held); recycling loses nothing else.
        bool saw = false;
        for (const Step &f : failures) {
            if (f.status == PM_DONE) continue;
            EXPECT_EQ(f.status, fault_status(p.fault)) << describe(f);
            if (fails_item(p.fault) || p.fault == Fault::timeout) {
                EXPECT_EQ(f.index, kFaultAt) << describe(f);
            } else {
                EXPECT_TRUE(message_names_death(p.fault, f.error)) << f.error;
            }
            saw = saw || f.index == kFaultAt ||
                  (g.mode != PM_ERRORS_RETURN && kills_worker(p.fault) && f.index < kFaultAt);
        }
        EXPECT_TRUE(saw) << "the fault item's failure is missing";
    }
    const bool ran_all = last.status == PM_DONE;
    map.reset();
    // Init ran once per worker that got an item. A map that ran all 48
    // items on workers recycled every 5 started more workers than it has
    // processes (one that ended early at the fault may not have). Exit ran
    // for every worker that stopped normally, and never twice.
    const uint32_t inits = shared_->inits.load(), exits = shared_->exits.load();
    if (ran_all) {
        EXPECT_GT(inits, g.processes) << "no worker was recycled";
    }
    EXPECT_LE(exits, inits);
    if (p.none) {
        EXPECT_EQ(exits, inits) << "a worker that stopped normally skipped its exit hook";
    }
    EXPECT_EQ(shared_->bad_state.load(), 0u) << "the work function saw the wrong worker state";
}

std::vector<RecycleParam> recycle_cases() {
    std::vector<RecycleParam> out;
    for (const Grid &g : forked_grid()) {
        out.push_back({Fault::error, true, g});
        for (Fault f : {Fault::segfault, Fault::error, Fault::timeout}) out.push_back({f, false, g});
    }
    return out;
}

std::string recycle_name(const ::testing::TestParamInfo<RecycleParam> &info) {
    return std::string(info.param.none ? "clean" : fault_name(info.param.fault)) + "_" +
           grid_name(info.param.grid);
}

void PrintTo(const RecycleParam &p, std::ostream *os) {
    *os << (p.none ? "clean" : fault_name(p.fault)) << " " << grid_name(p.grid);
}

INSTANTIATE_TEST_SUITE_P(Faults, Recycle, ::testing::ValuesIn(recycle_cases()), recycle_name);

// ---------------------------------------------------------------------------
// Cancellation from another thread.

struct CancelParam {
    bool stuck;  // a work function in an endless loop (forked); else slow items
    bool pool;
    Grid grid;
};

class Cancel : public ::testing::TestWithParam<CancelParam>, protected Hygienic {
protected:
    void SetUp() override { start(); }
    void TearDown() override { finish(); }
};

int slow_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    usleep(300);
    return fault_work(item, len, index, out, ud);
}

TEST_P(Cancel, Case) {
    const CancelParam &p = GetParam();
    const Grid &g = p.grid;
    EndlessGen gen;
    FaultPlan plan;
    plan.fault = Fault::timeout;  // an endless loop, and no timeout set
    plan.at = p.stuck ? kFaultAt : UINT64_MAX;
    plan.shared = shared_;
    Config cfg;
    cfg.processes = g.processes;
    cfg.threads = g.threads;
    cfg.ordered = g.ordered;
    cfg.error_mode = g.mode;
    cfg.max_in_flight = 64;
    Options opts = make_options(cfg);
    pm_work_fn work = p.stuck ? fault_work : slow_work;
    Pool pool;
    if (p.pool) {
        pm_pool *praw = nullptr;
        ASSERT_EQ(pm_pool_create(&praw, opts.get(), work, publish(plan), nullptr), PM_OK);
        pool.reset(praw);
    }
    pm_input *in = nullptr;
    ASSERT_EQ(pm_input_create_pull(&in, endless_fn, &gen, endless_destroy), PM_OK);
    pm_map *raw = nullptr;
    ASSERT_EQ(p.pool ? pm_pool_map(&raw, pool.get(), opts.get(), in)
                     : pm_map_create(&raw, opts.get(), in, work, publish(plan), nullptr),
              PM_OK)
        << pm_last_error();

    // The consumer steps until the map stops giving results: blocked behind
    // the stuck item (or, unordered, once every other worker is stuck too
    // or the in-flight bound is full), or until the cancel.
    std::atomic<uint64_t> results{0};
    std::atomic<int> final_status{PM_OK};
    std::atomic<bool> consumer_done{false};
    std::chrono::steady_clock::time_point returned;
    std::thread consumer([&] {
        for (;;) {
            const Step s = next_step(raw);
            if (s.status != PM_OK) {
                returned = std::chrono::steady_clock::now();
                final_status = s.status;
                break;
            }
            const uint64_t v = s.index;  // the endless input's value is its index
            EXPECT_EQ(s.data, good_result(&v, sizeof v, s.index));
            results++;
        }
        consumer_done = true;
    });
    // Wait until the map is well under way: the stuck item has started, or
    // some slow items have come back.
    const auto t_start = std::chrono::steady_clock::now();
    while (seconds_since(t_start) < 10 &&
           (p.stuck ? shared_->stuck.load() == 0 : results.load() < 20))
        usleep(1000);
    ASSERT_TRUE(p.stuck ? shared_->stuck.load() > 0 : results.load() >= 20);
    usleep(50000);  // let the consumer block behind it
    if (p.stuck && g.ordered) {
        EXPECT_FALSE(consumer_done.load()) << "the consumer passed the stuck item";
    }
    const auto t_cancel = std::chrono::steady_clock::now();
    EXPECT_EQ(pm_map_cancel(raw), PM_OK);
    EXPECT_LT(seconds_since(t_cancel), 5.0) << "pm_map_cancel blocked";
    consumer.join();
    // Generous bounds that catch a hang, not a speed test.
    EXPECT_LT(std::chrono::duration<double>(returned - t_cancel).count(), 5.0);
    EXPECT_EQ(final_status.load(), PM_ECANCELED);
    EXPECT_EQ(pm_map_next(raw, nullptr, nullptr, nullptr), PM_ECANCELED);
    EXPECT_EQ(pm_map_cancel(raw), PM_OK);  // idempotent
    const auto t_destroy = std::chrono::steady_clock::now();
    pm_map_destroy(raw);
    EXPECT_LT(seconds_since(t_destroy), 5.0) << "pm_map_destroy blocked after a cancel";
    EXPECT_EQ(gen.destroyed.load(), 1);
    if (p.pool) {
        // The pool stays whole (stuck workers were replaced) and works.
        if (g.processes > 1) {
            EXPECT_EQ(pm_pool_processes(pool.get()), g.processes);
        }
        const std::vector<uint64_t> items = good_items(kFaultAt, 23);  // never reaches it
        pm_map *next = nullptr;
        ASSERT_EQ(pm_pool_map(&next, pool.get(), opts.get(), array_input(items)), PM_OK)
            << pm_last_error();
        Map after(next);
        const std::vector<Step> steps = drain(after.get());
        if (g.ordered)
            EXPECT_EQ(check_ordered(steps, good_results(items)), 0u);
        else
            EXPECT_EQ(check_unordered(steps, good_results(items)), 0u);
        after.reset();
        pool.reset();
    }
}

std::vector<CancelParam> cancel_cases() {
    std::vector<CancelParam> out;
    for (bool pool : {false, true}) {
        for (const Grid &g : forked_grid()) out.push_back({true, pool, g});
        // In-process: nothing can interrupt a stuck work function there, so
        // its items are slow instead and the map stops at the next item.
        for (bool ordered : {true, false})
            for (uint32_t threads : {1u, 2u}) {
                out.push_back({false, pool, {ordered, 1, threads, PM_ERRORS_RAISE}});
                out.push_back({false, pool, {ordered, 1, threads, PM_ERRORS_RETURN}});
                if (!pool) out.push_back({false, pool, {ordered, 2, threads, PM_ERRORS_INLINE}});
            }
    }
    return out;
}

std::string cancel_name(const ::testing::TestParamInfo<CancelParam> &info) {
    return std::string(info.param.stuck ? "stuck_" : "busy_") + grid_name(info.param.grid) +
           (info.param.pool ? "_pool" : "_oneshot");
}

void PrintTo(const CancelParam &p, std::ostream *os) {
    *os << (p.stuck ? "stuck " : "busy ") << grid_name(p.grid) << (p.pool ? " pool" : " one-shot");
}

INSTANTIATE_TEST_SUITE_P(Faults, Cancel, ::testing::ValuesIn(cancel_cases()), cancel_name);

}  // namespace
