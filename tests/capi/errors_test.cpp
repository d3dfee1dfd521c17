// Error modes (RAISE, RETURN, INLINE), dead workers and failing inputs: the
// reported index, message and what comes before and after.
#include "capi_test_util.hpp"

#include <set>

namespace {

using namespace pmtest;

bool contains(const std::string &s, const std::string &part) {
    return s.find(part) != std::string::npos;
}

// Fails the items listed in the set given as user_data, with a message
// naming the item. Other items get checksum results.
int failing_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    const std::set<uint64_t> *fail = static_cast<const std::set<uint64_t> *>(ud);
    if (fail->count(index)) {
        pm_sink_write(out, "discarded", 9);
        const std::string msg = "bad item " + std::to_string(index);
        pm_sink_set_error(out, msg.c_str());
        return 1;
    }
    return checksum_work(item, len, index, out, nullptr);
}

std::vector<std::string> expected_for(const std::vector<uint64_t> &items) {
    std::vector<std::string> e;
    for (size_t i = 0; i < items.size(); ++i) e.push_back(expected_result(&items[i], 8, i));
    return e;
}

// ---------------------------------------------------------------------------
// PM_ERRORS_RAISE

TEST(ErrorModeRaise, OrderedReportsLowestFailingIndexAfterEarlierResults) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its failing index from user_data");
    const std::vector<uint64_t> items = make_items(200);
    const std::vector<std::string> expected = expected_for(items);
    // 38 and 150 may well fail before 37; ordered mode must still report 37.
    std::set<uint64_t> fail = {37, 38, 150};
    for (uint32_t processes : {1u, 2u, 4u}) {
        for (size_t chunk : {size_t{1}, size_t{7}, size_t{PM_CHUNK_AUTO}}) {
            SCOPED_TRACE("processes " + std::to_string(processes) + " chunk " +
                         std::to_string(chunk));
            Config cfg;
            cfg.processes = processes;
            cfg.chunk = chunk;
            Map map = start_map(cfg, array_input(items), failing_work, &fail);
            ASSERT_TRUE(map);
            const std::vector<Step> steps = drain(map.get());
            ASSERT_EQ(steps.size(), 38u) << describe(steps.back());
            ASSERT_EQ(check_prefix(steps, expected, 37), 0u);
            const Step &f = steps.back();
            EXPECT_EQ(f.status, PM_EITEM) << describe(f);
            EXPECT_EQ(f.index, 37u);
            EXPECT_TRUE(contains(f.error, "bad item 37")) << f.error;
            EXPECT_TRUE(contains(pm_last_error(), "bad item 37")) << pm_last_error();
            EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
            EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
            // "all workers are stopped and reaped" once the failure is reported.
            EXPECT_TRUE(no_children()) << "before pm_map_destroy";
            map.reset();
            EXPECT_TRUE(no_children());
        }
    }
}

TEST(ErrorModeRaise, UnorderedStopsAtTheFailingItem) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its failing index from user_data");
    const std::vector<uint64_t> items = make_items(500);
    const std::vector<std::string> expected = expected_for(items);
    std::set<uint64_t> fail = {321};
    Config cfg;
    cfg.processes = 3;
    cfg.chunk = 5;
    cfg.ordered = false;
    Map map = start_map(cfg, array_input(items), failing_work, &fail);
    ASSERT_TRUE(map);
    const std::vector<Step> steps = drain(map.get());
    std::set<uint64_t> seen;
    for (size_t i = 0; i + 1 < steps.size(); ++i) {
        ASSERT_EQ(steps[i].status, PM_OK) << describe(steps[i]);
        ASSERT_LT(steps[i].index, items.size());
        ASSERT_TRUE(seen.insert(steps[i].index).second) << "duplicate " << steps[i].index;
        ASSERT_EQ(steps[i].data, expected[steps[i].index]);
    }
    const Step &f = steps.back();
    EXPECT_EQ(f.status, PM_EITEM) << describe(f);
    EXPECT_EQ(f.index, 321u);
    EXPECT_FALSE(seen.count(321));
    EXPECT_TRUE(contains(f.error, "bad item 321")) << f.error;
    EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
}

int fail_without_message(const void *, size_t, uint64_t index, pm_sink *, void *) {
    return index == 3 ? -42 : 0;
}

TEST(ErrorModeRaise, FailureWithoutMessageGetsGenericMessage) {
    const std::vector<uint64_t> items = make_items(10);
    for (uint32_t processes : {1u, 2u}) {
        Config cfg;
        cfg.processes = processes;
        Map map = start_map(cfg, array_input(items), fail_without_message);
        ASSERT_TRUE(map);
        const std::vector<Step> steps = drain(map.get());
        ASSERT_EQ(steps.size(), 4u);
        EXPECT_EQ(steps[3].status, PM_EITEM);
        EXPECT_EQ(steps[3].index, 3u);
        EXPECT_FALSE(steps[3].error.empty());
        EXPECT_STRNE(pm_last_error(), "");
    }
}

// ---------------------------------------------------------------------------
// PM_ERRORS_RETURN

TEST(ErrorModeReturn, FailedItemsComeBackInPlaceAndMapFinishes) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its failing indexes from user_data");
    const std::vector<uint64_t> items = make_items(300);
    const std::vector<std::string> expected = expected_for(items);
    std::set<uint64_t> fail;
    for (uint64_t i = 3; i < items.size(); i += 10) fail.insert(i);
    fail.insert(299);
    for (uint32_t processes : {1u, 2u}) {
        for (bool ordered : {true, false}) {
            SCOPED_TRACE("processes " + std::to_string(processes) +
                         (ordered ? " ordered" : " unordered"));
            Config cfg;
            cfg.processes = processes;
            cfg.threads = 2;
            cfg.chunk = 3;
            cfg.ordered = ordered;
            cfg.error_mode = PM_ERRORS_RETURN;
            Map map = start_map(cfg, array_input(items), failing_work, &fail);
            ASSERT_TRUE(map);
            const std::vector<Step> steps = drain(map.get(), true);
            ASSERT_EQ(steps.size(), items.size() + 1);
            EXPECT_EQ(steps.back().status, PM_DONE);
            std::vector<bool> seen(items.size());
            for (size_t k = 0; k < items.size(); ++k) {
                const Step &s = steps[k];
                ASSERT_LT(s.index, items.size());
                if (ordered) {
                    ASSERT_EQ(s.index, k);
                }
                ASSERT_FALSE(seen[s.index]) << "duplicate " << s.index;
                seen[s.index] = true;
                if (fail.count(s.index)) {
                    EXPECT_EQ(s.status, PM_EITEM) << describe(s);
                    EXPECT_TRUE(contains(s.error, "bad item " + std::to_string(s.index)))
                        << s.error;
                } else {
                    EXPECT_EQ(s.status, PM_OK) << describe(s);
                    EXPECT_EQ(s.data, expected[s.index]);
                    EXPECT_EQ(s.error, "");
                }
            }
            EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
        }
    }
}

// Item i % 3 == 0 fails with a message and a payload, i % 3 == 1 fails with
// neither, the rest succeed: items of one chunk run through one sink.
int mixed_failure_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    if (index % 3 == 0) {
        const std::string msg = "bad item " + std::to_string(index);
        const std::string payload = "payload " + std::to_string(index);
        pm_sink_write(out, "discarded", 9);
        pm_sink_set_error(out, msg.c_str());
        pm_sink_set_error_payload(out, payload.data(), payload.size());
        return 1;
    }
    if (index % 3 == 1) return 7;
    return checksum_work(item, len, index, out, nullptr);
}

TEST(ErrorModeReturn, AFailedItemLeavesNoMessageOrPayloadToTheNextItem) {
    const std::vector<uint64_t> items = make_items(600);
    const std::vector<std::string> expected = expected_for(items);
    Config cfg;
    cfg.processes = 2;
    cfg.chunk = 60;
    cfg.error_mode = PM_ERRORS_RETURN;
    Map map = start_map(cfg, array_input(items), mixed_failure_work, nullptr);
    ASSERT_TRUE(map);
    for (uint64_t k = 0; k < items.size(); ++k) {
        const Step s = next_step(map.get());
        ASSERT_EQ(s.index, k);
        const void *payload = nullptr;
        size_t payload_len = 0;
        ASSERT_EQ(pm_map_error_payload(map.get(), &payload, &payload_len), PM_OK);
        const std::string got_payload(static_cast<const char *>(payload), payload_len);
        if (k % 3 == 0) {
            EXPECT_EQ(s.status, PM_EITEM);
            EXPECT_EQ(s.error, "bad item " + std::to_string(k));
            EXPECT_EQ(got_payload, "payload " + std::to_string(k));
        } else if (k % 3 == 1) {
            EXPECT_EQ(s.status, PM_EITEM);
            EXPECT_EQ(s.error, "work function returned 7") << "item " << k;
            EXPECT_EQ(got_payload, "") << "item " << k;
        } else {
            EXPECT_EQ(s.status, PM_OK) << describe(s);
            EXPECT_EQ(s.data, expected[k]);
            EXPECT_EQ(got_payload, "") << "item " << k;
        }
    }
    EXPECT_EQ(next_step(map.get()).status, PM_DONE);
}

// ---------------------------------------------------------------------------
// PM_ERRORS_INLINE

pid_t g_test_pid;
std::atomic<uint64_t> g_inline_calls;
std::atomic<uint64_t> g_inline_wrong_pid;

int inline_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    g_inline_calls++;
    if (getpid() != g_test_pid) g_inline_wrong_pid++;
    return failing_work(item, len, index, out, ud);
}

TEST(ErrorModeInline, RunsInCallerProcess) {
    g_test_pid = getpid();
    g_inline_calls = 0;
    g_inline_wrong_pid = 0;
    const std::vector<uint64_t> items = make_items(100);
    std::set<uint64_t> fail;
    Config cfg;
    cfg.processes = 4;
    cfg.error_mode = PM_ERRORS_INLINE;
    Map map = start_map(cfg, array_input(items), inline_work, &fail);
    ASSERT_TRUE(map);
    const Step first = next_step(map.get());
    EXPECT_EQ(first.status, PM_OK);
    EXPECT_TRUE(no_children()) << "inline mode must not fork";
    std::vector<Step> steps = drain(map.get());
    steps.insert(steps.begin(), first);
    EXPECT_EQ(check_ordered(steps, expected_for(items)), 0u);
    // The work function's writes to globals are the caller's own.
    EXPECT_EQ(g_inline_calls.load(), items.size());
    EXPECT_EQ(g_inline_wrong_pid.load(), 0u);
}

TEST(ErrorModeInline, StopsAtFirstFailure) {
    g_test_pid = getpid();
    g_inline_calls = 0;
    const std::vector<uint64_t> items = make_items(100);
    const std::vector<std::string> expected = expected_for(items);
    std::set<uint64_t> fail = {42, 43, 90};
    Config cfg;
    cfg.processes = 2;
    cfg.chunk = 4;
    cfg.error_mode = PM_ERRORS_INLINE;
    Map map = start_map(cfg, array_input(items), inline_work, &fail);
    ASSERT_TRUE(map);
    const std::vector<Step> steps = drain(map.get());
    ASSERT_EQ(steps.size(), 43u) << describe(steps.back());
    ASSERT_EQ(check_prefix(steps, expected, 42), 0u);
    EXPECT_EQ(steps[42].status, PM_EITEM);
    EXPECT_EQ(steps[42].index, 42u);
    EXPECT_TRUE(contains(steps[42].error, "bad item 42")) << steps[42].error;
    EXPECT_TRUE(contains(pm_last_error(), "bad item 42")) << pm_last_error();
    EXPECT_GE(g_inline_calls.load(), 43u);
    EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
}

TEST(ErrorModeInline, OneProcessAlsoRunsInCallerProcess) {
    // processes = 1 is the serial fallback: no fork in RAISE mode either.
    g_test_pid = getpid();
    g_inline_calls = 0;
    g_inline_wrong_pid = 0;
    const std::vector<uint64_t> items = make_items(20);
    std::set<uint64_t> fail;
    Config cfg;
    cfg.processes = 1;
    Map map = start_map(cfg, array_input(items), inline_work, &fail);
    ASSERT_TRUE(map);
    EXPECT_EQ(check_ordered(drain(map.get()), expected_for(items)), 0u);
    EXPECT_EQ(g_inline_calls.load(), items.size());
    EXPECT_EQ(g_inline_wrong_pid.load(), 0u);
}

// ---------------------------------------------------------------------------
// Dead workers. The crashing item is given as user_data.

struct Crash {
    uint64_t item;
    int how; // 0: raise(SIGSEGV), 1: _exit(0), 2: abort()
};

int crashing_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    const Crash *c = static_cast<const Crash *>(ud);
    if (index == c->item) {
        if (c->how == 0) raise(SIGSEGV);
        if (c->how == 1) _exit(0);
        abort();
    }
    return checksum_work(item, len, index, out, nullptr);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitizedSegv = true;
#else
constexpr bool kSanitizedSegv = false;
#endif

const char *crash_name(int how) {
    return how == 0 ? "SIGSEGV" : how == 1 ? "_exit(0)" : "abort";
}

TEST(WorkerDeath, RaiseReportsTheCrashingItem) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its crashing index from user_data");
    const std::vector<uint64_t> items = make_items(60);
    const std::vector<std::string> expected = expected_for(items);
    const auto fds_before = open_fds();
    for (int how : {0, 1, 2}) {
        for (uint32_t processes : {2u, 3u}) {
            SCOPED_TRACE(std::string(crash_name(how)) + ", processes " +
                         std::to_string(processes));
            Crash crash{20, how};
            Config cfg;
            cfg.processes = processes;
            cfg.chunk = 1;
            Map map = start_map(cfg, array_input(items), crashing_work, &crash);
            ASSERT_TRUE(map);
            const std::vector<Step> steps = drain(map.get());
            ASSERT_EQ(steps.size(), 21u) << describe(steps.back());
            ASSERT_EQ(check_prefix(steps, expected, 20), 0u);
            const Step &f = steps.back();
            EXPECT_EQ(f.status, PM_EWORKER) << describe(f);
            EXPECT_EQ(f.index, 20u);
            // The message names the lost item and the signal or exit status.
            EXPECT_TRUE(contains(f.error, "20")) << f.error;
            // (ASan and TSan turn SIGSEGV into exit status 1.)
            if (how == 0 && !kSanitizedSegv) {
                EXPECT_TRUE(contains(f.error, "11") || contains(f.error, "SEGV") ||
                            contains(f.error, "egmentation"))
                    << f.error;
            }
            if (how == 2) {
                EXPECT_TRUE(contains(f.error, "6") || contains(f.error, "ABRT") ||
                            contains(f.error, "bort"))
                    << f.error;
            }
            EXPECT_STRNE(pm_last_error(), "");
            EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
            map.reset();
            EXPECT_TRUE(no_children());
        }
    }
    const auto fds_after = open_fds();
    EXPECT_EQ(fds_before, fds_after) << fd_diff(fds_before, fds_after);
}

TEST(WorkerDeath, RaiseWithChunksReportsALostItem) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its crashing index from user_data");
    // Chunks of 7 from an array: the crash on 20 loses chunk [14, 20] at
    // least; the reported index is among the lost items, all earlier
    // results have been delivered.
    const std::vector<uint64_t> items = make_items(100);
    const std::vector<std::string> expected = expected_for(items);
    Crash crash{20, 0};
    Config cfg;
    cfg.processes = 2;
    cfg.chunk = 7;
    Map map = start_map(cfg, array_input(items), crashing_work, &crash);
    ASSERT_TRUE(map);
    const std::vector<Step> steps = drain(map.get());
    const Step &f = steps.back();
    EXPECT_EQ(f.status, PM_EWORKER) << describe(f);
    EXPECT_GE(f.index, 14u);
    EXPECT_LE(f.index, 20u);
    ASSERT_EQ(steps.size(), f.index + 1);
    for (size_t i = 0; i < f.index; ++i) {
        ASSERT_EQ(steps[i].status, PM_OK);
        ASSERT_EQ(steps[i].index, i);
        ASSERT_EQ(steps[i].data, expected[i]);
    }
    map.reset();
    EXPECT_TRUE(no_children());
}

TEST(WorkerDeath, ReturnModeReportsLostItemsAndOthersFinish) {
    PM_SKIP_IN_EXEC_MODE("the work function reads its crashing indexes from user_data");
    const std::vector<uint64_t> items = make_items(200);
    const std::vector<std::string> expected = expected_for(items);
    const size_t in_flight = 8;
    for (int how : {0, 1}) {
        for (bool ordered : {true, false}) {
            SCOPED_TRACE(std::string(crash_name(how)) + (ordered ? " ordered" : " unordered"));
            Crash crash{50, how};
            Config cfg;
            cfg.processes = 2;
            cfg.chunk = 1;
            cfg.ordered = ordered;
            cfg.error_mode = PM_ERRORS_RETURN;
            cfg.max_in_flight = in_flight;
            Map map = start_map(cfg, array_input(items), crashing_work, &crash);
            ASSERT_TRUE(map);
            const std::vector<Step> steps = drain(map.get(), true);
            ASSERT_EQ(steps.size(), items.size() + 1) << describe(steps.back());
            EXPECT_EQ(steps.back().status, PM_DONE);
            std::vector<bool> seen(items.size());
            size_t lost = 0;
            for (size_t k = 0; k < items.size(); ++k) {
                const Step &s = steps[k];
                ASSERT_LT(s.index, items.size()) << describe(s);
                if (ordered) {
                    ASSERT_EQ(s.index, k);
                }
                ASSERT_FALSE(seen[s.index]) << "duplicate " << s.index;
                seen[s.index] = true;
                if (s.status == PM_EWORKER) {
                    ++lost;
                    EXPECT_FALSE(s.error.empty());
                    // Only items the dead worker held are lost: from the
                    // crashing one on, within the in-flight window.
                    EXPECT_GE(s.index, 50u) << describe(s);
                    EXPECT_LT(s.index, 50u + 2 * in_flight) << describe(s);
                } else {
                    ASSERT_EQ(s.status, PM_OK) << describe(s);
                    EXPECT_EQ(s.data, expected[s.index]);
                }
                if (s.index == 50) {
                    EXPECT_EQ(s.status, PM_EWORKER) << describe(s);
                }
            }
            // The dead worker held at most the in-flight bound; the surviving
            // worker processed everything else.
            EXPECT_GE(lost, 1u);
            EXPECT_LE(lost, in_flight);
            map.reset();
            EXPECT_TRUE(no_children());
        }
    }
}

// ---------------------------------------------------------------------------
// Failing input callback.

struct BrokenGen {
    uint64_t next = 0;
    uint64_t fail_at = 0;
    std::atomic<int> destroyed{0};
};

int broken_gen_fn(pm_feed *feed, void *ud) {
    BrokenGen *g = static_cast<BrokenGen *>(ud);
    if (g->next == g->fail_at) {
        EXPECT_EQ(pm_feed_set_error(feed, "generator broke"), PM_OK);
        return -1;
    }
    const uint64_t v = mix64(g->next++);
    return pm_feed_push(feed, &v, sizeof v) == PM_OK ? PM_OK : -1;
}

void broken_gen_destroy(void *ud) { static_cast<BrokenGen *>(ud)->destroyed++; }

TEST(InputError, ReportedAfterEarlierResults) {
    for (uint32_t processes : {1u, 2u}) {
        for (uint64_t fail_at : {uint64_t{0}, uint64_t{50}}) {
            SCOPED_TRACE("processes " + std::to_string(processes) + " fail at " +
                         std::to_string(fail_at));
            BrokenGen gen;
            gen.fail_at = fail_at;
            Config cfg;
            cfg.processes = processes;
            cfg.chunk = 3;
            Options opts = make_options(cfg);
            pm_input *in = nullptr;
            ASSERT_EQ(pm_input_create_pull(&in, broken_gen_fn, &gen, broken_gen_destroy),
                      PM_OK);
            pm_map *raw = nullptr;
            ASSERT_EQ(pm_map_create(&raw, opts.get(), in, checksum_work, nullptr, nullptr),
                      PM_OK);
            Map map(raw);
            const std::vector<Step> steps = drain(map.get());
            ASSERT_EQ(steps.size(), fail_at + 1) << describe(steps.back());
            for (uint64_t i = 0; i < fail_at; ++i) {
                const uint64_t v = mix64(i);
                ASSERT_EQ(steps[i].status, PM_OK) << describe(steps[i]);
                ASSERT_EQ(steps[i].index, i);
                ASSERT_EQ(steps[i].data, expected_result(&v, 8, i));
            }
            const Step &f = steps.back();
            EXPECT_EQ(f.status, PM_EINPUT) << describe(f);
            EXPECT_EQ(f.index, fail_at);
            EXPECT_TRUE(contains(f.error, "generator broke")) << f.error;
            EXPECT_TRUE(contains(pm_last_error(), "generator broke")) << pm_last_error();
            EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
            map.reset();
            EXPECT_EQ(gen.destroyed.load(), 1);
            EXPECT_TRUE(no_children());
        }
    }
}

} // namespace
