// The fault matrix: every fault kind (an endless loop ended by the item
// timeout among them) x {ordered, unordered} x {2, 4 processes} x {1, 2
// threads} x {raise, return}, plus the in-process path (one process, or
// PM_ERRORS_INLINE) for the faults it survives. Each case checks the
// reported index, status and message, that every other result is intact,
// and that no process or descriptor is left over.
//
// Case names read as fault_order_pN_tN_mode, e.g.
// Faults/Matrix.Case/segfault_ordered_p2_t1_return.
#include "capi_test_util.hpp"
#include "fault_kit.hpp"

#include <set>
#include <tuple>

namespace {

using namespace faultkit;
using namespace pmtest;

constexpr uint64_t kItems = 48;       // items of an array input
constexpr uint64_t kFaultAt = 17;     // the item that faults
constexpr uint64_t kGenFailAt = 31;   // where the generator fails
constexpr uint64_t kAbandonAfter = 25;
constexpr size_t kAbandonInFlight = 64;
constexpr uint64_t kTimeoutMs = 250;  // the endless loop's item timeout

// Workers are the library's grandchildren (its template process forks
// them): as subreaper, the test inherits any that outlive the template.
[[maybe_unused]] const bool kAdopting = adopt_orphans();

struct Param {
    Fault fault;
    bool ordered;
    uint32_t processes;
    uint32_t threads;
    int mode;
};

const char *mode_name(int mode) {
    return mode == PM_ERRORS_RAISE ? "raise" : mode == PM_ERRORS_RETURN ? "return" : "inline";
}

std::string case_name(const ::testing::TestParamInfo<Param> &info) {
    const Param &p = info.param;
    return std::string(fault_name(p.fault)) + (p.ordered ? "_ordered" : "_unordered") + "_p" +
           std::to_string(p.processes) + "_t" + std::to_string(p.threads) + "_" +
           mode_name(p.mode);
}

// Failure messages show the case by name, not as bytes.
void PrintTo(const Param &p, std::ostream *os) {
    *os << fault_name(p.fault) << (p.ordered ? " ordered" : " unordered") << ", "
        << p.processes << " processes, " << p.threads << " threads, " << mode_name(p.mode);
}

std::vector<Param> all_cases() {
    const Fault forked[] = {Fault::segfault,  Fault::abort_,    Fault::exit0,
                            Fault::exit3,     Fault::sigkill,   Fault::timeout,
                            Fault::exception, Fault::error,     Fault::huge,
                            Fault::generator, Fault::abandon};
    // A crash in the calling process takes the test with it: the in-process
    // path gets only the faults it can survive.
    const Fault in_process[] = {Fault::exception, Fault::error, Fault::huge,
                                Fault::generator, Fault::abandon};
    std::vector<Param> out;
    for (bool ordered : {true, false})
        for (uint32_t threads : {1u, 2u}) {
            for (Fault f : forked)
                for (uint32_t processes : {2u, 4u})
                    for (int mode : {PM_ERRORS_RAISE, PM_ERRORS_RETURN})
                        out.push_back({f, ordered, processes, threads, mode});
            for (Fault f : in_process) {
                out.push_back({f, ordered, 1, threads, PM_ERRORS_RAISE});
                out.push_back({f, ordered, 1, threads, PM_ERRORS_RETURN});
                out.push_back({f, ordered, 2, threads, PM_ERRORS_INLINE});
            }
        }
    return out;
}

bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}

// "worker 1 (pid 4242)" from a worker-loss message, to tell which worker
// an item was lost with.
std::string worker_of(const std::string &message) {
    const size_t close = message.find(')');
    return close == std::string::npos ? message : message.substr(0, close + 1);
}

class Matrix : public ::testing::TestWithParam<Param> {
protected:
    void SetUp() override {
        fds_before_ = open_fds();
        ASSERT_TRUE(no_children()) << "a child was left by an earlier test";
    }

    // The map's options for this case. Crashes use one-item chunks so that
    // the dead worker's items are known exactly; the others use chunks of 3,
    // so a failure sits inside a chunk with good items around it.
    Options options() const {
        const Param &p = GetParam();
        Config cfg;
        cfg.processes = p.processes;
        cfg.threads = p.threads;
        cfg.ordered = p.ordered;
        cfg.error_mode = p.mode;
        cfg.chunk = kills_worker(p.fault) ? 1 : 3;
        if (p.fault == Fault::abandon) {
            cfg.chunk = PM_CHUNK_AUTO;
            cfg.max_in_flight = kAbandonInFlight;
        }
        Options opts = make_options(cfg);
        if (p.fault == Fault::timeout) {
            EXPECT_EQ(pm_options_set_item_timeout(opts.get(), kTimeoutMs), PM_OK);
        }
        return opts;
    }

    bool forked() const {
        const Param &p = GetParam();
        return p.processes > 1 && p.mode != PM_ERRORS_INLINE;
    }
    bool keeps_going() const { return GetParam().mode == PM_ERRORS_RETURN; }

    // After the final step: the map refuses more steps, has reaped its
    // workers, and destroy leaves no process or descriptor behind.
    void finish(pm_map *raw, int destroyed_before_free) {
        EXPECT_EQ(pm_map_next(raw, nullptr, nullptr, nullptr), PM_ESTATE);
        EXPECT_TRUE(no_children()) << "workers must be reaped once the map is over";
        EXPECT_EQ(destroyed_before_free, 0);
        pm_map_destroy(raw);
    }

    void TearDown() override {
        EXPECT_TRUE(no_children());
        const auto after = open_fds();
        EXPECT_EQ(fds_before_, after) << fd_diff(fds_before_, after);
    }

    void run_array_case();
    void run_generator_case();
    void run_abandon_case();

private:
    std::map<int, std::string> fds_before_;
};

// Faults on item kFaultAt of an array input: crashes, failing items and a
// huge result.
void Matrix::run_array_case() {
    const Param &p = GetParam();
    const std::vector<uint64_t> items = good_items(kItems, 77);
    const std::vector<std::string> expected = good_results(items);
    FaultPlan plan;
    plan.fault = p.fault;
    plan.at = kFaultAt;
    Options opts = options();
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), fault_work, publish(plan),
                            plan_destroy),
              PM_OK)
        << pm_last_error();
    Map map(raw);

    // The one failure the work function or the timeout gives, by its text.
    const std::string failure_text =
        p.fault == Fault::timeout
            ? "item " + std::to_string(kFaultAt) + " ran past the " +
                  std::to_string(kTimeoutMs) + " ms item timeout"
            : item_failure_text(p.fault, kFaultAt);
    const bool exact = fails_item(p.fault) || p.fault == Fault::timeout;

    // The good items' results, and the failed items' steps.
    std::vector<int> delivered(kItems, 0);
    std::vector<Step> failures;
    std::vector<Step> order;  // every step's index and status, for ordering
    size_t bad = 0;
    auto report = [&](const std::string &what) {
        if (++bad <= 5) ADD_FAILURE() << what;
    };
    Step last;
    for (;;) {
        const void *d = nullptr;
        size_t n = 0;
        Step s;
        s.status = pm_map_next(map.get(), &s.index, &d, &n);
        s.error = pm_map_error(map.get());
        if (s.status == PM_OK) {
            if (s.index >= kItems) {
                report("index out of range: " + describe(s));
                continue;
            }
            delivered[s.index]++;
            const bool huge_item = p.fault == Fault::huge && s.index == kFaultAt;
            if (huge_item ? !(n == kHugeBytes && matches_pattern(d, n, s.index))
                          : std::string(static_cast<const char *>(d), n) != expected[s.index])
                report("result of item " + std::to_string(s.index) + " is wrong (" +
                       std::to_string(n) + " bytes)");
            if (!s.error.empty()) report("an OK step has a message: " + describe(s));
        } else if (s.status < 0) {
            failures.push_back(s);
            if (s.index < kItems) delivered[s.index]++;
        }
        order.push_back(Step{s.status, s.index, {}, {}});
        if (s.status == PM_DONE || (s.status < 0 && !keeps_going()) ||
            (s.status < 0 && s.status != PM_EITEM && s.status != PM_EWORKER &&
             s.status != PM_ETIMEOUT)) {
            last = s;
            break;
        }
        if (order.size() > 10 * kItems) {
            report("the map does not end");
            break;
        }
    }
    for (size_t i = 0; i < kItems; ++i)
        if (delivered[i] > 1) report("item " + std::to_string(i) + " delivered twice");
    if (p.ordered) {
        // In order, every step up to the last one.
        for (size_t k = 0; k + 1 < order.size(); ++k)
            if (order[k].index != k)
                report("step " + std::to_string(k) + " has index " +
                       std::to_string(order[k].index));
    }

    if (p.fault == Fault::huge) {
        EXPECT_EQ(last.status, PM_DONE) << describe(last);
        EXPECT_TRUE(failures.empty()) << describe(failures.front());
        for (size_t i = 0; i < kItems; ++i) EXPECT_EQ(delivered[i], 1) << "item " << i;
    } else if (keeps_going()) {
        // Return mode: every index exactly once, the map ends with PM_DONE.
        EXPECT_EQ(last.status, PM_DONE) << describe(last);
        for (size_t i = 0; i < kItems; ++i) EXPECT_EQ(delivered[i], 1) << "item " << i;
        ASSERT_FALSE(failures.empty());
        if (exact) {
            // Only the failing item: the other items of a timed-out
            // worker's chunks run again on its replacement.
            ASSERT_EQ(failures.size(), 1u) << describe(failures[1]);
            EXPECT_EQ(failures[0].status, fault_status(p.fault)) << describe(failures[0]);
            EXPECT_EQ(failures[0].index, kFaultAt);
            EXPECT_TRUE(contains(failures[0].error, failure_text)) << failures[0].error;
        } else {
            // The crashed worker's items come back failed, naming it and how
            // it died; it held at most its credit (two chunks per thread).
            bool saw_fault_item = false;
            const std::string who = worker_of(failures[0].error);
            for (const Step &f : failures) {
                EXPECT_EQ(f.status, PM_EWORKER) << describe(f);
                EXPECT_TRUE(message_names_death(p.fault, f.error)) << f.error;
                EXPECT_TRUE(contains(f.error, "item " + std::to_string(f.index))) << f.error;
                EXPECT_EQ(worker_of(f.error), who) << "items lost with two workers";
                saw_fault_item = saw_fault_item || f.index == kFaultAt;
            }
            EXPECT_TRUE(saw_fault_item) << "the crashing item was not reported";
            EXPECT_LE(failures.size(), 2u * p.threads);
        }
    } else {
        // Raise (and inline) mode: the map ends at one failure.
        ASSERT_EQ(failures.size(), 1u);
        const Step &f = failures[0];
        EXPECT_EQ(last.status, f.status);
        if (exact) {
            EXPECT_EQ(f.status, fault_status(p.fault)) << describe(f);
            EXPECT_EQ(f.index, kFaultAt);
            EXPECT_TRUE(contains(f.error, failure_text)) << f.error;
            EXPECT_TRUE(contains(pm_last_error(), failure_text)) << pm_last_error();
        } else {
            EXPECT_EQ(f.status, PM_EWORKER) << describe(f);
            EXPECT_TRUE(message_names_death(p.fault, f.error)) << f.error;
            EXPECT_TRUE(contains(f.error, "item " + std::to_string(f.index))) << f.error;
            // The dead worker's lowest unanswered item is reported: the
            // crashing one, or with two threads possibly an earlier item the
            // other thread was running.
            EXPECT_LE(f.index, kFaultAt);
            if (p.threads == 1) {
                EXPECT_EQ(f.index, kFaultAt);
            }
        }
        // Ordered: everything before the failure came first (checked above
        // as step k == index k); unordered: the failed item never came as a
        // result.
        if (p.ordered) {
            EXPECT_EQ(order.size(), f.index + 1);
        }
        if (f.index < kItems) {
            EXPECT_EQ(delivered[f.index], 1);
        }
    }
    EXPECT_EQ(bad, 0u);
    finish(map.release(), plan.destroyed.load());
    EXPECT_EQ(plan.destroyed.load(), 1);
}

// The input callback fails at kGenFailAt: every result before it arrives
// (in order when ordered), then PM_EINPUT with that position, in any mode.
void Matrix::run_generator_case() {
    const Param &p = GetParam();
    FailingGen gen;
    gen.fail_at = kGenFailAt;
    pm_input *in = nullptr;
    ASSERT_EQ(pm_input_create_pull(&in, failing_gen_fn, &gen, failing_gen_destroy), PM_OK);
    FaultPlan plan;
    plan.fault = Fault::generator;
    Options opts = options();
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), in, fault_work, publish(plan), plan_destroy), PM_OK)
        << pm_last_error();
    Map map(raw);
    const std::vector<Step> steps = drain(map.get(), keeps_going(), 10 * kItems);
    ASSERT_EQ(steps.size(), kGenFailAt + 1) << describe(steps.back());
    std::vector<bool> seen(kGenFailAt);
    for (size_t k = 0; k < kGenFailAt; ++k) {
        const Step &s = steps[k];
        ASSERT_EQ(s.status, PM_OK) << describe(s);
        ASSERT_LT(s.index, kGenFailAt) << describe(s);
        if (p.ordered) {
            EXPECT_EQ(s.index, k);
        }
        EXPECT_FALSE(seen[s.index]) << "duplicate " << s.index;
        seen[s.index] = true;
        const uint64_t v = gen_value(s.index);
        EXPECT_EQ(s.data, good_result(&v, sizeof v, s.index)) << "item " << s.index;
    }
    const Step &f = steps.back();
    EXPECT_EQ(f.status, PM_EINPUT) << describe(f);
    EXPECT_EQ(f.index, kGenFailAt);
    const std::string text = "generator broke at " + std::to_string(kGenFailAt);
    EXPECT_TRUE(contains(f.error, text)) << f.error;
    EXPECT_TRUE(contains(pm_last_error(), text)) << pm_last_error();
    finish(map.release(), plan.destroyed.load());
    EXPECT_EQ(plan.destroyed.load(), 1);
    EXPECT_EQ(gen.destroyed.load(), 1);
}

// The caller takes kAbandonAfter results of an endless input and destroys
// the map: it returns promptly, reaps everything, and the input stops.
void Matrix::run_abandon_case() {
    const Param &p = GetParam();
    EndlessGen gen;
    pm_input *in = nullptr;
    ASSERT_EQ(pm_input_create_pull(&in, endless_fn, &gen, endless_destroy), PM_OK);
    FaultPlan plan;
    plan.fault = Fault::abandon;
    Options opts = options();
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), in, fault_work, publish(plan), plan_destroy), PM_OK)
        << pm_last_error();
    std::set<uint64_t> seen;
    for (uint64_t k = 0; k < kAbandonAfter; ++k) {
        const Step s = next_step(raw);
        ASSERT_EQ(s.status, PM_OK) << describe(s);
        if (p.ordered) {
            EXPECT_EQ(s.index, k);
        }
        EXPECT_TRUE(seen.insert(s.index).second) << "duplicate " << s.index;
        // The endless generator pushes its counter: value == index.
        EXPECT_EQ(s.data, good_result(&s.index, sizeof s.index, s.index));
    }
    EXPECT_EQ(plan.destroyed.load(), 0);
    const auto t0 = std::chrono::steady_clock::now();
    pm_map_destroy(raw);
    // A bound to catch hangs, not a speed test.
    EXPECT_LT(seconds_since(t0), 5.0);
    EXPECT_EQ(plan.destroyed.load(), 1);
    EXPECT_EQ(gen.destroyed.load(), 1);
    // The feeder read no further than the in-flight bound (plus a chunk
    // being filled) past what was delivered.
    EXPECT_LE(gen.pushed.load(), kAbandonAfter + 2 * kAbandonInFlight);
}

TEST_P(Matrix, Case) {
    switch (GetParam().fault) {
    case Fault::generator: run_generator_case(); break;
    case Fault::abandon: run_abandon_case(); break;
    default: run_array_case(); break;
    }
}

INSTANTIATE_TEST_SUITE_P(Faults, Matrix, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
