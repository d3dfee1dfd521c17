// Shared helpers for the C API tests. These tests link only libparmapper.so
// and use nothing but the public header.
#ifndef PARMAPPER_TESTS_CAPI_TEST_UTIL_HPP
#define PARMAPPER_TESTS_CAPI_TEST_UTIL_HPP

#include <parmapper.h>

#include <gtest/gtest.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace pmtest {

// ---------------------------------------------------------------------------
// Watchdog: a hang must fail the test binary instead of blocking the suite.
// Armed for every test by a listener; a test that legitimately runs longer
// re-arms it with set_watchdog().

inline char g_watchdog_test[512];
inline unsigned g_watchdog_seconds = 20;

static void watchdog_fired(int) {
    // Only async-signal-safe calls here.
    static const char head[] = "\n*** watchdog: test hung: ";
    ssize_t r = write(2, head, sizeof head - 1);
    r = write(2, g_watchdog_test, strlen(g_watchdog_test));
    r = write(2, "\n", 1);
    (void)r;
    _exit(124);
}

class WatchdogListener : public ::testing::EmptyTestEventListener {
    void OnTestStart(const ::testing::TestInfo &info) override {
        snprintf(g_watchdog_test, sizeof g_watchdog_test, "%s.%s",
                 info.test_suite_name(), info.name());
        alarm(g_watchdog_seconds);
    }
    void OnTestEnd(const ::testing::TestInfo &) override { alarm(0); }
};

inline void set_watchdog(unsigned seconds) { alarm(seconds); }

inline bool install_watchdog() {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watchdog_fired;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, nullptr);
    // Crash tests kill workers with SIGSEGV/SIGABRT: no core files.
    struct rlimit rl = {0, 0};
    setrlimit(RLIMIT_CORE, &rl);
    ::testing::UnitTest::GetInstance()->listeners().Append(new WatchdogListener);
    return true;
}

[[maybe_unused]] static const bool kWatchdogInstalled = install_watchdog();

// ---------------------------------------------------------------------------
// Exec mode: PARMAPPER_START=exec runs every map's workers as fresh runs of
// the test program (meson's *-exec tests). A case that depends on what a
// forked worker inherits (memory set up before the map, user_data, an
// inherited mapping to count calls across processes) skips there and says
// why.

inline bool exec_mode() {
    const char *s = getenv("PARMAPPER_START");
    return s && strcmp(s, "exec") == 0;
}

#define PM_SKIP_IN_EXEC_MODE(why)                                                \
    do {                                                                         \
        if (::pmtest::exec_mode()) GTEST_SKIP() << "depends on fork: " << (why); \
    } while (0)

// ---------------------------------------------------------------------------
// RAII owners for the opaque handles.

struct OptionsDeleter {
    void operator()(pm_options *o) const { pm_options_destroy(o); }
};
struct MapDeleter {
    void operator()(pm_map *m) const { pm_map_destroy(m); }
};
struct PoolDeleter {
    void operator()(pm_pool *p) const { pm_pool_destroy(p); }
};
using Options = std::unique_ptr<pm_options, OptionsDeleter>;
using Map = std::unique_ptr<pm_map, MapDeleter>;
using Pool = std::unique_ptr<pm_pool, PoolDeleter>;

struct Config {
    uint32_t processes = 2;
    uint32_t threads = 1;
    size_t chunk = PM_CHUNK_AUTO;
    bool ordered = true;
    int error_mode = PM_ERRORS_RAISE;
    size_t max_in_flight = 0;
    uint64_t total = PM_TOTAL_UNKNOWN;
    uint64_t item_timeout_ms = 0;  // 0: none
};

inline Options make_options(const Config &c) {
    pm_options *o = nullptr;
    EXPECT_EQ(pm_options_create(&o), PM_OK) << pm_last_error();
    if (!o) return Options();
    EXPECT_EQ(pm_options_set_processes(o, c.processes), PM_OK);
    EXPECT_EQ(pm_options_set_threads(o, c.threads), PM_OK);
    EXPECT_EQ(pm_options_set_chunk_size(o, c.chunk), PM_OK);
    EXPECT_EQ(pm_options_set_ordered(o, c.ordered ? 1 : 0), PM_OK);
    EXPECT_EQ(pm_options_set_error_mode(o, c.error_mode), PM_OK);
    EXPECT_EQ(pm_options_set_max_in_flight(o, c.max_in_flight), PM_OK);
    EXPECT_EQ(pm_options_set_total(o, c.total), PM_OK);
    EXPECT_EQ(pm_options_set_item_timeout(o, c.item_timeout_ms), PM_OK);
    return Options(o);
}

// Starts a one-shot map with cfg's options; an empty Map (and a test
// failure) if it did not start. The input is consumed either way.
inline Map start_map(const Config &cfg, pm_input *input, pm_work_fn work,
                     void *user_data = nullptr) {
    Options opts = make_options(cfg);
    pm_map *raw = nullptr;
    const int rc = pm_map_create(&raw, opts.get(), input, work, user_data, nullptr);
    EXPECT_EQ(rc, PM_OK) << pm_status_str(rc) << ": " << pm_last_error();
    return Map(raw);
}

// Creates a pool with cfg's options; an empty Pool (and a test failure) if
// it was not created.
inline Pool start_pool(const Config &cfg, pm_work_fn work, void *user_data = nullptr) {
    Options opts = make_options(cfg);
    pm_pool *raw = nullptr;
    const int rc = pm_pool_create(&raw, opts.get(), work, user_data, nullptr);
    EXPECT_EQ(rc, PM_OK) << pm_status_str(rc) << ": " << pm_last_error();
    return Pool(raw);
}

// ---------------------------------------------------------------------------
// Stepping a map.

struct Step {
    int status = 0;
    uint64_t index = UINT64_MAX;
    std::string data;
    std::string error;
};

inline Step next_step(pm_map *m) {
    Step s;
    const void *d = nullptr;
    size_t n = 0;
    s.status = pm_map_next(m, &s.index, &d, &n);
    if (n > 0 && d == nullptr) {
        ADD_FAILURE() << "pm_map_next gave len " << n << " with a NULL data pointer";
        n = 0;
    }
    if (s.status == PM_OK) s.data.assign(static_cast<const char *>(d), n);
    const char *e = pm_map_error(m);
    if (e == nullptr) {
        ADD_FAILURE() << "pm_map_error returned NULL";
    } else {
        s.error = e;
    }
    return s;
}

// Steps until PM_DONE or a final failure. With keep_going, PM_EITEM and
// PM_EWORKER are treated as in-place results (PM_ERRORS_RETURN).
inline std::vector<Step> drain(pm_map *m, bool keep_going = false,
                               size_t limit = 10000000) {
    std::vector<Step> out;
    for (;;) {
        out.push_back(next_step(m));
        const int rc = out.back().status;
        if (rc == PM_DONE) break;
        if (rc < 0 && !(keep_going && (rc == PM_EITEM || rc == PM_EWORKER || rc == PM_ETIMEOUT))) break;
        if (out.size() > limit) {
            ADD_FAILURE() << "map yielded more than " << limit << " steps";
            break;
        }
    }
    return out;
}

inline std::string describe(const Step &s) {
    std::ostringstream os;
    os << "{status " << s.status << " (" << pm_status_str(s.status) << "), index "
       << s.index << ", " << s.data.size() << " bytes, error \"" << s.error << "\"}";
    return os.str();
}

// ---------------------------------------------------------------------------
// Deterministic items and results.

inline uint64_t mix64(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

inline uint64_t fnv1a64(const void *data, size_t len) {
    const unsigned char *p = static_cast<const unsigned char *>(data);
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

inline std::vector<uint64_t> make_items(size_t n, uint64_t seed = 1) {
    std::vector<uint64_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = mix64(i * 31 + seed);
    return v;
}

// A result that depends on the item's bytes AND its index, with a length
// that varies per item (16..19 bytes), so that misrouted or misframed
// results are caught.
inline std::string expected_result(const void *item, size_t len, uint64_t index) {
    const uint64_t h = fnv1a64(item, len);
    const uint64_t a = index;
    const uint64_t b = mix64(h ^ (index * 0x9e3779b97f4a7c15ull));
    std::string r(reinterpret_cast<const char *>(&a), 8);
    r.append(reinterpret_cast<const char *>(&b), 8);
    r.append(static_cast<size_t>(h % 4), static_cast<char>('a' + index % 26));
    return r;
}

// expected_result() for the first n items (all of them by default).
inline std::vector<std::string> expected_results(const std::vector<uint64_t> &items,
                                                 size_t n = SIZE_MAX) {
    std::vector<std::string> out;
    for (size_t i = 0; i < items.size() && i < n; ++i)
        out.push_back(expected_result(&items[i], sizeof items[i], i));
    return out;
}

// Work function computing expected_result(); thread-safe.
inline int checksum_work(const void *item, size_t len, uint64_t index, pm_sink *out,
                         void *) {
    const std::string r = expected_result(item, len, index);
    return pm_sink_write(out, r.data(), r.size()) == PM_OK ? 0 : 1;
}

// Checks an ordered run: results 0..n-1 in order, then PM_DONE. Returns the
// number of mismatching steps (and reports the first few).
inline size_t check_ordered(const std::vector<Step> &steps,
                            const std::vector<std::string> &expected) {
    size_t bad = 0;
    auto report = [&](const std::string &what) {
        if (++bad <= 5) ADD_FAILURE() << what;
    };
    if (steps.size() != expected.size() + 1)
        report("expected " + std::to_string(expected.size()) +
               " results and PM_DONE, got " + std::to_string(steps.size()) +
               " steps; last " + (steps.empty() ? "-" : describe(steps.back())));
    for (size_t i = 0; i < steps.size() && i < expected.size(); ++i) {
        const Step &s = steps[i];
        if (s.status != PM_OK || s.index != i || s.data != expected[i] || !s.error.empty())
            report("step " + std::to_string(i) + ": " + describe(s));
    }
    if (steps.size() == expected.size() + 1 && steps.back().status != PM_DONE)
        report("last step is not PM_DONE: " + describe(steps.back()));
    return bad;
}

// Checks that steps[0..n) are the ordered results 0..n-1 (a run that goes
// on, or fails, after them). Returns the number of mismatching steps.
inline size_t check_prefix(const std::vector<Step> &steps,
                           const std::vector<std::string> &expected, size_t n) {
    size_t bad = 0;
    if (steps.size() < n || expected.size() < n) {
        ADD_FAILURE() << "expected at least " << n << " steps, got " << steps.size();
        return n;
    }
    for (size_t i = 0; i < n; ++i) {
        const Step &s = steps[i];
        if (s.status != PM_OK || s.index != i || s.data != expected[i]) {
            if (++bad <= 5) ADD_FAILURE() << "step " << i << ": " << describe(s);
        }
    }
    return bad;
}

// Checks an unordered run: each index exactly once with its expected bytes.
inline size_t check_unordered(const std::vector<Step> &steps,
                              const std::vector<std::string> &expected) {
    size_t bad = 0;
    auto report = [&](const std::string &what) {
        if (++bad <= 5) ADD_FAILURE() << what;
    };
    std::vector<bool> seen(expected.size());
    for (size_t i = 0; i < steps.size(); ++i) {
        const Step &s = steps[i];
        if (i + 1 == steps.size()) {
            if (s.status != PM_DONE) report("last step is not PM_DONE: " + describe(s));
            break;
        }
        if (s.status != PM_OK || s.index >= expected.size() || seen[s.index] ||
            s.data != expected[s.index]) {
            report("step " + std::to_string(i) + ": " + describe(s) +
                   (s.index < seen.size() && seen[s.index] ? " (duplicate)" : ""));
            continue;
        }
        seen[s.index] = true;
    }
    size_t missing = 0;
    for (bool b : seen) missing += !b;
    if (missing) report(std::to_string(missing) + " indices never delivered");
    return bad;
}

// ---------------------------------------------------------------------------
// Pull inputs.

struct Counter {
    std::atomic<int> n{0};
};
inline void count_destroy(void *ud) { static_cast<Counter *>(ud)->n++; }

// Pushes items[0..count) per_call at a time. With done_with_last, the call
// that pushes the last item returns PM_DONE; otherwise one more call does.
struct VectorGen {
    const std::vector<uint64_t> *items = nullptr;
    size_t next = 0;
    size_t per_call = 1;
    bool done_with_last = false;
    std::atomic<int> destroyed{0};
    std::atomic<uint64_t> calls{0};
};

inline int vector_gen_fn(pm_feed *feed, void *ud) {
    VectorGen *g = static_cast<VectorGen *>(ud);
    g->calls++;
    size_t pushed = 0;
    for (; pushed < g->per_call && g->next < g->items->size(); ++pushed, ++g->next)
        if (pm_feed_push(feed, &(*g->items)[g->next], sizeof(uint64_t)) != PM_OK) return -1;
    if (g->next < g->items->size()) return PM_OK;
    return g->done_with_last || pushed == 0 ? PM_DONE : PM_OK;
}

inline void vector_gen_destroy(void *ud) { static_cast<VectorGen *>(ud)->destroyed++; }

inline pm_input *vector_pull(VectorGen &g) {
    pm_input *in = nullptr;
    EXPECT_EQ(pm_input_create_pull(&in, vector_gen_fn, &g, vector_gen_destroy), PM_OK)
        << pm_last_error();
    return in;
}

inline pm_input *array_input(const std::vector<uint64_t> &items) {
    pm_input *in = nullptr;
    EXPECT_EQ(pm_input_create_array(&in, items.empty() ? nullptr : items.data(),
                                    sizeof(uint64_t), items.size()),
              PM_OK)
        << pm_last_error();
    return in;
}

// Endless generator of uint64 counters.
struct EndlessGen {
    std::atomic<uint64_t> pushed{0};
    std::atomic<int> destroyed{0};
};
inline int endless_fn(pm_feed *feed, void *ud) {
    EndlessGen *g = static_cast<EndlessGen *>(ud);
    const uint64_t v = g->pushed.load();
    if (pm_feed_push(feed, &v, sizeof v) != PM_OK) return -1;
    g->pushed++;
    return PM_OK;
}
inline void endless_destroy(void *ud) { static_cast<EndlessGen *>(ud)->destroyed++; }

// ---------------------------------------------------------------------------
// Process hygiene.

// Open descriptors as "fd -> target", without the one used for listing.
inline std::map<int, std::string> open_fds() {
    std::map<int, std::string> fds;
    DIR *d = opendir("/proc/self/fd");
    if (!d) {
        ADD_FAILURE() << "opendir /proc/self/fd: " << strerror(errno);
        return fds;
    }
    const int self = dirfd(d);
    while (struct dirent *e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        const int fd = atoi(e->d_name);
        if (fd == self) continue;
        char buf[512];
        const std::string path = std::string("/proc/self/fd/") + e->d_name;
        const ssize_t n = readlink(path.c_str(), buf, sizeof buf - 1);
        fds[fd] = n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string("?");
    }
    closedir(d);
    return fds;
}

inline std::string fd_diff(const std::map<int, std::string> &before,
                           const std::map<int, std::string> &after) {
    std::ostringstream os;
    for (const auto &kv : after) {
        auto it = before.find(kv.first);
        if (it == before.end())
            os << " new fd " << kv.first << " -> " << kv.second << ";";
        else if (it->second != kv.second)
            os << " fd " << kv.first << " changed " << it->second << " -> " << kv.second << ";";
    }
    for (const auto &kv : before)
        if (!after.count(kv.first)) os << " closed fd " << kv.first << " -> " << kv.second << ";";
    return os.str();
}

// No child process at all, running or zombie.
inline ::testing::AssertionResult no_children() {
    int st = 0;
    errno = 0;
    const pid_t p = waitpid(-1, &st, WNOHANG);
    if (p == -1 && errno == ECHILD) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "waitpid(-1, WNOHANG) returned " << p << " (errno " << errno
           << "): a child process remains";
}

// Waits for a child we forked ourselves; returns its wait status.
inline int reap(pid_t pid) {
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return st;
}

} // namespace pmtest

#endif
