// Every API function given NULL or invalid arguments returns its documented
// error code and never crashes; consumed inputs and destroy callbacks run
// exactly once on failure paths. Also: version and status strings.
#include "capi_test_util.hpp"

#include <set>
#include <thread>

namespace {

using namespace pmtest;

// ---------------------------------------------------------------------------
// Version.

TEST(Version, RuntimeMatchesHeader) {
    ASSERT_NE(pm_version_string(), nullptr);
    EXPECT_STREQ(pm_version_string(), PM_VERSION_STRING);
    EXPECT_EQ(pm_version_number(), static_cast<uint32_t>(PM_VERSION_NUMBER));
    const std::string parts = std::to_string(PM_VERSION_MAJOR) + "." +
                              std::to_string(PM_VERSION_MINOR) + "." +
                              std::to_string(PM_VERSION_PATCH);
    EXPECT_EQ(parts, PM_VERSION_STRING);
    EXPECT_EQ(PM_VERSION_NUMBER,
              PM_VERSION_MAJOR * 10000 + PM_VERSION_MINOR * 100 + PM_VERSION_PATCH);
    EXPECT_TRUE(PM_VERSION_AT_LEAST(PM_VERSION_MAJOR, PM_VERSION_MINOR, PM_VERSION_PATCH));
    EXPECT_FALSE(PM_VERSION_AT_LEAST(PM_VERSION_MAJOR, PM_VERSION_MINOR, PM_VERSION_PATCH + 1));
}

// ---------------------------------------------------------------------------
// Status codes and error messages.

TEST(Status, EveryCodeHasDistinctText) {
    const int codes[] = {PM_OK,       PM_DONE,      PM_EINVAL,    PM_ENOMEM,
                         PM_ESTATE,   PM_EIO,       PM_EWORKER,   PM_ECANCELED,
                         PM_EINTERNAL, PM_EITEM,    PM_EINPUT,    PM_ESYS};
    std::set<std::string> texts;
    for (int c : codes) {
        const char *t = pm_status_str(c);
        ASSERT_NE(t, nullptr) << c;
        EXPECT_STRNE(t, "") << c;
        texts.insert(t);
    }
    EXPECT_EQ(texts.size(), sizeof codes / sizeof codes[0]) << "status texts must differ";
    for (int unknown : {2, 12345, -11, -999, INT32_MIN, INT32_MAX}) {
        const char *t = pm_status_str(unknown);
        ASSERT_NE(t, nullptr) << unknown;
        EXPECT_STRNE(t, "") << unknown;
    }
}

TEST(Status, CodeValuesArePinned) {
    EXPECT_EQ(PM_OK, 0);
    EXPECT_EQ(PM_DONE, 1);
    EXPECT_EQ(PM_EINVAL, -1);
    EXPECT_EQ(PM_ENOMEM, -2);
    EXPECT_EQ(PM_ESTATE, -3);
    EXPECT_EQ(PM_EIO, -4);
    EXPECT_EQ(PM_EWORKER, -5);
    EXPECT_EQ(PM_ECANCELED, -6);
    EXPECT_EQ(PM_EINTERNAL, -7);
    EXPECT_EQ(PM_EITEM, -8);
    EXPECT_EQ(PM_EINPUT, -9);
    EXPECT_EQ(PM_ESYS, -10);
    EXPECT_EQ(PM_ERRORS_RAISE, 0);
    EXPECT_EQ(PM_ERRORS_RETURN, 1);
    EXPECT_EQ(PM_ERRORS_INLINE, 2);
}

TEST(LastError, IsPerThreadAndSetByFailingCalls) {
    std::string other_thread_before;
    std::thread([&] {
        const char *e = pm_last_error();
        other_thread_before = e ? e : "(null)";
    }).join();
    EXPECT_EQ(other_thread_before, "") << "fresh thread has no error";

    ASSERT_NE(pm_last_error(), nullptr);
    EXPECT_EQ(pm_options_create(nullptr), PM_EINVAL);
    ASSERT_NE(pm_last_error(), nullptr);
    EXPECT_STRNE(pm_last_error(), "");
    const std::string mine = pm_last_error();

    std::string other;
    std::thread([&] {
        EXPECT_EQ(pm_options_set_threads(nullptr, 1), PM_EINVAL);
        other = pm_last_error();
        EXPECT_NE(other, "");
    }).join();
    // The other thread's failure did not overwrite ours.
    EXPECT_EQ(std::string(pm_last_error()), mine);
}

// ---------------------------------------------------------------------------
// Options.

TEST(ApiArgs, OptionsRejectNullAndOutOfRange) {
    EXPECT_EQ(pm_options_create(nullptr), PM_EINVAL);
    pm_options_destroy(nullptr);

    Options opts = make_options(Config{});
    pm_options *o = opts.get();
    ASSERT_NE(o, nullptr);

    EXPECT_EQ(pm_options_set_processes(nullptr, 2), PM_EINVAL);
    EXPECT_EQ(pm_options_set_processes(o, PM_MAX_PROCESSES + 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_processes(o, UINT32_MAX), PM_EINVAL);
    EXPECT_EQ(pm_options_set_processes(o, PM_MAX_PROCESSES), PM_OK);
    EXPECT_EQ(pm_options_set_processes(o, 0), PM_OK);

    EXPECT_EQ(pm_options_set_threads(nullptr, 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_threads(o, 0), PM_EINVAL);
    EXPECT_EQ(pm_options_set_threads(o, PM_MAX_THREADS + 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_threads(o, UINT32_MAX), PM_EINVAL);
    EXPECT_EQ(pm_options_set_threads(o, PM_MAX_THREADS), PM_OK);
    EXPECT_EQ(pm_options_set_threads(o, 1), PM_OK);

    EXPECT_EQ(pm_options_set_chunk_size(nullptr, 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_chunk_size(o, PM_MAX_CHUNK_SIZE + 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_chunk_size(o, SIZE_MAX), PM_EINVAL);
    EXPECT_EQ(pm_options_set_chunk_size(o, PM_MAX_CHUNK_SIZE), PM_OK);
    EXPECT_EQ(pm_options_set_chunk_size(o, PM_CHUNK_AUTO), PM_OK);

    EXPECT_EQ(pm_options_set_ordered(nullptr, 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_ordered(o, 0), PM_OK);
    EXPECT_EQ(pm_options_set_ordered(o, 5), PM_OK);

    EXPECT_EQ(pm_options_set_total(nullptr, 10), PM_EINVAL);
    EXPECT_EQ(pm_options_set_total(o, 0), PM_OK);
    EXPECT_EQ(pm_options_set_total(o, PM_TOTAL_UNKNOWN), PM_OK);

    EXPECT_EQ(pm_options_set_error_mode(nullptr, PM_ERRORS_RAISE), PM_EINVAL);
    for (int bad : {7, 3, -1, INT32_MIN, INT32_MAX})
        EXPECT_EQ(pm_options_set_error_mode(o, bad), PM_EINVAL) << bad;
    for (int good : {PM_ERRORS_RAISE, PM_ERRORS_RETURN, PM_ERRORS_INLINE})
        EXPECT_EQ(pm_options_set_error_mode(o, good), PM_OK) << good;

    EXPECT_EQ(pm_options_set_max_in_flight(nullptr, 10), PM_EINVAL);
    EXPECT_EQ(pm_options_set_max_in_flight(o, PM_MAX_IN_FLIGHT + 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_max_in_flight(o, SIZE_MAX), PM_EINVAL);
    EXPECT_EQ(pm_options_set_max_in_flight(o, PM_MAX_IN_FLIGHT), PM_OK);
    EXPECT_EQ(pm_options_set_max_in_flight(o, 0), PM_OK);

    EXPECT_EQ(pm_options_set_daemon(nullptr, 1), PM_EINVAL);
    EXPECT_EQ(pm_options_set_daemon(o, 0), PM_OK);
    EXPECT_EQ(pm_options_set_daemon(o, 1), PM_OK);

    EXPECT_EQ(pm_options_set_progress(nullptr, [](uint64_t, uint64_t, void *) {}, nullptr),
              PM_EINVAL);
    EXPECT_EQ(pm_options_set_progress(o, nullptr, nullptr), PM_OK);
}

pid_t g_parent_pid;
int pid_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    const int in_parent = getpid() == g_parent_pid;
    return pm_sink_write(out, &in_parent, sizeof in_parent) == PM_OK ? 0 : 1;
}

// Runs a 4-item map with opts and returns how many items ran in this process.
int items_run_in_caller(const pm_options *opts) {
    g_parent_pid = getpid();
    const std::vector<uint64_t> items = make_items(4);
    pm_map *raw = nullptr;
    EXPECT_EQ(pm_map_create(&raw, opts, array_input(items), pid_work, nullptr, nullptr), PM_OK);
    if (!raw) return -1;
    Map map(raw);
    int n = 0;
    for (const Step &s : drain(raw)) {
        if (s.status != PM_OK) continue;
        int v = 0;
        memcpy(&v, s.data.data(), sizeof v);
        n += v;
    }
    return n;
}

TEST(ApiArgs, RejectedSetterKeepsPreviousValue) {
    // processes = 1 runs in the caller; a rejected value must not change it.
    Options opts = make_options(Config{});
    ASSERT_EQ(pm_options_set_processes(opts.get(), 1), PM_OK);
    EXPECT_EQ(pm_options_set_processes(opts.get(), PM_MAX_PROCESSES + 1), PM_EINVAL);
    EXPECT_EQ(items_run_in_caller(opts.get()), 4);

    ASSERT_EQ(pm_options_set_processes(opts.get(), 2), PM_OK);
    EXPECT_EQ(items_run_in_caller(opts.get()), 0);
    ASSERT_EQ(pm_options_set_error_mode(opts.get(), PM_ERRORS_INLINE), PM_OK);
    EXPECT_EQ(pm_options_set_error_mode(opts.get(), 7), PM_EINVAL);
    EXPECT_EQ(items_run_in_caller(opts.get()), 4);
    EXPECT_TRUE(no_children());
}

TEST(ApiArgs, OptionsAreCopiedAtCreate) {
    // Changing or destroying options after pm_map_create has no effect.
    pm_options *o = nullptr;
    ASSERT_EQ(pm_options_create(&o), PM_OK);
    ASSERT_EQ(pm_options_set_processes(o, 1), PM_OK);
    g_parent_pid = getpid();
    const std::vector<uint64_t> items = make_items(4);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, o, array_input(items), pid_work, nullptr, nullptr), PM_OK);
    ASSERT_EQ(pm_options_set_processes(o, 2), PM_OK);
    pm_options_destroy(o);
    Map map(raw);
    int n = 0;
    for (const Step &s : drain(raw))
        if (s.status == PM_OK) n += s.data[0];
    EXPECT_EQ(n, 4);
}

// ---------------------------------------------------------------------------
// Inputs.

int noop_gen(pm_feed *, void *) { return PM_DONE; }

TEST(ApiArgs, InputCreateRejectsNullAndConsumesDestroy) {
    Counter destroyed;
    pm_input *in = nullptr;
    EXPECT_EQ(pm_input_create_pull(nullptr, noop_gen, &destroyed, count_destroy), PM_EINVAL);
    EXPECT_EQ(destroyed.n.load(), 1) << "destroy runs even when create fails";
    EXPECT_EQ(pm_input_create_pull(&in, nullptr, &destroyed, count_destroy), PM_EINVAL);
    EXPECT_EQ(destroyed.n.load(), 2);
    // destroy may be NULL.
    EXPECT_EQ(pm_input_create_pull(&in, nullptr, nullptr, nullptr), PM_EINVAL);

    const uint64_t data[4] = {1, 2, 3, 4};
    EXPECT_EQ(pm_input_create_array(nullptr, data, 8, 4), PM_EINVAL);
    EXPECT_EQ(pm_input_create_array(&in, nullptr, 8, 4), PM_EINVAL);
    // Sizes whose product overflows.
    EXPECT_EQ(pm_input_create_array(&in, data, SIZE_MAX, 2), PM_EINVAL);
    EXPECT_EQ(pm_input_create_array(&in, data, SIZE_MAX / 2 + 1, 4), PM_EINVAL);
    // base may be NULL when count or record_size is 0.
    in = nullptr;
    EXPECT_EQ(pm_input_create_array(&in, nullptr, 8, 0), PM_OK);
    EXPECT_NE(in, nullptr);
    pm_input_destroy(in);
    in = nullptr;
    EXPECT_EQ(pm_input_create_array(&in, nullptr, 0, 3), PM_OK);
    EXPECT_NE(in, nullptr);
    pm_input_destroy(in);

    const void *items[2] = {data, data + 1};
    const size_t lens[2] = {8, 8};
    const void *null_item[2] = {data, nullptr};
    EXPECT_EQ(pm_input_create_records(nullptr, items, lens, 2), PM_EINVAL);
    EXPECT_EQ(pm_input_create_records(&in, nullptr, lens, 2), PM_EINVAL);
    EXPECT_EQ(pm_input_create_records(&in, items, nullptr, 2), PM_EINVAL);
    EXPECT_EQ(pm_input_create_records(&in, null_item, lens, 2), PM_EINVAL)
        << "item NULL with a nonzero length";
    in = nullptr;
    EXPECT_EQ(pm_input_create_records(&in, items, lens, 2), PM_OK);
    pm_input_destroy(in);

    pm_input_destroy(nullptr);
}

struct FeedProbe {
    int push_null_feed = 99, push_null_data = 99, set_error_null_feed = 99,
        set_error_null_msg = 99, push_empty = 99, push_ok = 99;
};

int feed_probe_fn(pm_feed *feed, void *ud) {
    FeedProbe *p = static_cast<FeedProbe *>(ud);
    const uint64_t v = 42;
    p->push_null_feed = pm_feed_push(nullptr, &v, sizeof v);
    p->push_null_data = pm_feed_push(feed, nullptr, 5);
    p->set_error_null_feed = pm_feed_set_error(nullptr, "x");
    p->set_error_null_msg = pm_feed_set_error(feed, nullptr);
    p->push_empty = pm_feed_push(feed, &v, 0);
    p->push_ok = pm_feed_push(feed, &v, sizeof v);
    return PM_DONE;
}

int len_work(const void *, size_t len, uint64_t, pm_sink *out, void *) {
    const uint64_t l = len;
    return pm_sink_write(out, &l, sizeof l) == PM_OK ? 0 : 1;
}

TEST(ApiArgs, FeedFunctionsRejectNull) {
    const uint64_t v = 1;
    EXPECT_EQ(pm_feed_push(nullptr, &v, sizeof v), PM_EINVAL);
    EXPECT_EQ(pm_feed_set_error(nullptr, "x"), PM_EINVAL);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        FeedProbe probe;
        pm_input *in = nullptr;
        ASSERT_EQ(pm_input_create_pull(&in, feed_probe_fn, &probe, nullptr), PM_OK);
        Config cfg;
        cfg.processes = processes;
        Map map = start_map(cfg, in, len_work);
        ASSERT_TRUE(map);
        const std::vector<Step> steps = drain(map.get());
        EXPECT_EQ(probe.push_null_feed, PM_EINVAL);
        EXPECT_EQ(probe.push_null_data, PM_EINVAL);
        EXPECT_EQ(probe.set_error_null_feed, PM_EINVAL);
        EXPECT_EQ(probe.set_error_null_msg, PM_EINVAL);
        EXPECT_EQ(probe.push_empty, PM_OK);
        EXPECT_EQ(probe.push_ok, PM_OK);
        // Only the two valid pushes became items: an empty one and 8 bytes.
        const uint64_t zero = 0, eight = 8;
        EXPECT_EQ(check_ordered(steps, {std::string(reinterpret_cast<const char *>(&zero), 8),
                                        std::string(reinterpret_cast<const char *>(&eight), 8)}),
                  0u);
    }
}

// ---------------------------------------------------------------------------
// Sink functions, called in a worker: the return codes travel as the result.

int sink_probe_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    int rc[8];
    void *buf = reinterpret_cast<void *>(1);
    if (pm_sink_write(out, "head", 4) != PM_OK) return 1;
    rc[0] = pm_sink_write(nullptr, "x", 1);
    rc[1] = pm_sink_write(out, nullptr, 5);
    rc[2] = pm_sink_reserve(nullptr, 5, &buf);
    rc[3] = pm_sink_reserve(out, 5, nullptr);
    rc[4] = pm_sink_set_error(nullptr, "x");
    rc[5] = pm_sink_set_error(out, nullptr);
    rc[6] = pm_sink_reserve(out, SIZE_MAX, &buf);
    rc[7] = pm_sink_write(out, "x", 0);
    return pm_sink_write(out, rc, sizeof rc) == PM_OK ? 0 : 1;
}

TEST(ApiArgs, SinkFunctionsRejectNull) {
    void *buf = nullptr;
    EXPECT_EQ(pm_sink_write(nullptr, "x", 1), PM_EINVAL);
    EXPECT_EQ(pm_sink_reserve(nullptr, 1, &buf), PM_EINVAL);
    EXPECT_EQ(pm_sink_set_error(nullptr, "x"), PM_EINVAL);
    // In a worker (processes 2) a crash would be reported rather than kill
    // the test; in-process (1) it must not crash either.
    for (uint32_t processes : {2u, 1u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        const std::vector<uint64_t> items = make_items(3);
        Config cfg;
        cfg.processes = processes;
        Map map = start_map(cfg, array_input(items), sink_probe_work);
        ASSERT_TRUE(map);
        const std::vector<Step> steps = drain(map.get());
        ASSERT_EQ(steps.size(), 4u) << describe(steps.back());
        for (size_t i = 0; i < 3; ++i) {
            ASSERT_EQ(steps[i].status, PM_OK) << describe(steps[i]);
            // Failed calls appended nothing: "head" then the codes.
            ASSERT_EQ(steps[i].data.size(), 4 + 8 * sizeof(int));
            EXPECT_EQ(steps[i].data.substr(0, 4), "head");
            int rc[8];
            memcpy(rc, steps[i].data.data() + 4, sizeof rc);
            EXPECT_EQ(rc[0], PM_EINVAL) << "pm_sink_write(NULL sink)";
            EXPECT_EQ(rc[1], PM_EINVAL) << "pm_sink_write(NULL data, 5)";
            EXPECT_EQ(rc[2], PM_EINVAL) << "pm_sink_reserve(NULL sink)";
            EXPECT_EQ(rc[3], PM_EINVAL) << "pm_sink_reserve(NULL buf)";
            EXPECT_EQ(rc[4], PM_EINVAL) << "pm_sink_set_error(NULL sink)";
            EXPECT_EQ(rc[5], PM_EINVAL) << "pm_sink_set_error(NULL message)";
            EXPECT_TRUE(rc[6] == PM_ENOMEM || rc[6] == PM_EINVAL)
                << "pm_sink_reserve(SIZE_MAX) gave " << rc[6];
            EXPECT_EQ(rc[7], PM_OK) << "pm_sink_write(len 0)";
        }
    }
}

// ---------------------------------------------------------------------------
// Maps and pools.

TEST(ApiArgs, MapCreateConsumesInputAndRunsDestroyOnFailure) {
    const std::vector<uint64_t> items = make_items(5);
    Options opts = make_options(Config{});
    struct Case {
        const char *what;
        bool null_out, null_input, null_work;
    };
    const Case cases[] = {{"NULL out", true, false, false},
                          {"NULL input", false, true, false},
                          {"NULL work", false, false, true},
                          {"all NULL", true, true, true}};
    for (const Case &c : cases) {
        SCOPED_TRACE(c.what);
        VectorGen gen;
        gen.items = &items;
        Counter map_destroyed;
        pm_input *in = c.null_input ? nullptr : vector_pull(gen);
        pm_map *raw = nullptr;
        EXPECT_EQ(pm_map_create(c.null_out ? nullptr : &raw, opts.get(), in,
                                c.null_work ? nullptr : checksum_work, &map_destroyed,
                                count_destroy),
                  PM_EINVAL);
        EXPECT_STRNE(pm_last_error(), "");
        EXPECT_EQ(map_destroyed.n.load(), 1) << "map destroy callback";
        EXPECT_EQ(gen.destroyed.load(), c.null_input ? 0 : 1) << "input destroy callback";
        EXPECT_EQ(gen.calls.load(), 0u) << "the input was never read";
    }
    EXPECT_TRUE(no_children());
}

TEST(ApiArgs, MapStepFunctionsHandleNull) {
    uint64_t index;
    const void *data;
    size_t len;
    EXPECT_EQ(pm_map_next(nullptr, &index, &data, &len), PM_EINVAL);
    EXPECT_EQ(pm_map_next(nullptr, nullptr, nullptr, nullptr), PM_EINVAL);
    ASSERT_NE(pm_map_error(nullptr), nullptr);
    EXPECT_STREQ(pm_map_error(nullptr), "");
    pm_map_destroy(nullptr);

    // Every output pointer of pm_map_next may be NULL.
    const std::vector<uint64_t> items = make_items(20);
    for (uint32_t processes : {1u, 2u}) {
        Config cfg;
        cfg.processes = processes;
        Map map = start_map(cfg, array_input(items), checksum_work);
        ASSERT_TRUE(map);
        int n = 0, rc;
        while ((rc = pm_map_next(map.get(), nullptr, nullptr, nullptr)) == PM_OK) {
            EXPECT_STREQ(pm_map_error(map.get()), "");
            ++n;
        }
        EXPECT_EQ(rc, PM_DONE);
        EXPECT_EQ(n, 20);
        EXPECT_STREQ(pm_map_error(map.get()), "");
        EXPECT_EQ(pm_map_next(map.get(), &index, &data, &len), PM_ESTATE);
    }
}

TEST(ApiArgs, PoolFunctionsRejectNullAndConsumeInputs) {
    Options opts = make_options(Config{});
    Counter destroyed;
    pm_pool *praw = nullptr;
    EXPECT_EQ(pm_pool_create(nullptr, opts.get(), checksum_work, &destroyed, count_destroy),
              PM_EINVAL);
    EXPECT_EQ(destroyed.n.load(), 1);
    EXPECT_EQ(pm_pool_create(&praw, opts.get(), nullptr, &destroyed, count_destroy), PM_EINVAL);
    EXPECT_EQ(destroyed.n.load(), 2);
    EXPECT_TRUE(no_children()) << "a failed pool create forks nothing";

    EXPECT_EQ(pm_pool_processes(nullptr), 0u);
    pm_pool_destroy(nullptr);

    ASSERT_EQ(pm_pool_create(&praw, nullptr, checksum_work, nullptr, nullptr), PM_OK)
        << "NULL options mean defaults";
    Pool pool(praw);
    const std::vector<uint64_t> items = make_items(5);
    struct Case {
        const char *what;
        bool null_out, null_pool, null_input;
    };
    const Case cases[] = {{"NULL out", true, false, false},
                          {"NULL pool", false, true, false},
                          {"NULL input", false, false, true}};
    for (const Case &c : cases) {
        SCOPED_TRACE(c.what);
        VectorGen gen;
        gen.items = &items;
        pm_map *raw = nullptr;
        EXPECT_EQ(pm_pool_map(c.null_out ? nullptr : &raw, c.null_pool ? nullptr : praw,
                              nullptr, c.null_input ? nullptr : vector_pull(gen)),
                  PM_EINVAL);
        EXPECT_EQ(gen.destroyed.load(), c.null_input ? 0 : 1);
        EXPECT_EQ(gen.calls.load(), 0u);
    }
    // The pool still works after the refused calls.
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_pool_map(&raw, praw, nullptr, array_input(items)), PM_OK);
    Map map(raw);
    std::vector<std::string> expected;
    for (size_t i = 0; i < items.size(); ++i) expected.push_back(expected_result(&items[i], 8, i));
    EXPECT_EQ(check_ordered(drain(raw), expected), 0u);
}

TEST(ApiArgs, DefaultOptionsMapWorks) {
    // NULL options: defaults (online CPUs, ordered, RAISE).
    const std::vector<uint64_t> items = make_items(1000);
    std::vector<std::string> expected;
    for (size_t i = 0; i < items.size(); ++i) expected.push_back(expected_result(&items[i], 8, i));
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, nullptr, array_input(items), checksum_work, nullptr, nullptr),
              PM_OK);
    Map map(raw);
    EXPECT_EQ(check_ordered(drain(raw), expected), 0u);
}

} // namespace
