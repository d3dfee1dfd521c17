// Process hygiene: descriptors, children, signal dispositions, SIGPIPE and
// stdout after many maps, crashes and destroys.
#include "capi_test_util.hpp"

#include <chrono>
#include <cstdlib>
#include <set>

namespace {

using namespace pmtest;

int crash_on_7_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (index == 7) {
        if (ud) raise(SIGSEGV);
        _exit(0);
    }
    return checksum_work(item, len, index, out, nullptr);
}

TEST(Hygiene, ThousandMapsLeaveSameDescriptorsAndNoChild) {
    set_watchdog(150);
    const std::vector<uint64_t> items = make_items(10);
    std::vector<std::string> expected;
    for (size_t i = 0; i < items.size(); ++i) expected.push_back(expected_result(&items[i], 8, i));
    Config cfg;
    cfg.processes = 2;
    Options opts = make_options(cfg);

    const auto before = open_fds();
    size_t bad = 0;
    for (int i = 0; i < 1000; ++i) {
        VectorGen gen;
        gen.items = &items;
        pm_input *in = i % 2 ? array_input(items) : vector_pull(gen);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), in, checksum_work, nullptr, nullptr), PM_OK)
            << "map " << i << ": " << pm_last_error();
        // Most maps run to the end; some are destroyed early.
        switch (i % 10) {
        case 3:
            break; // destroyed before the first step
        case 6:
            if (next_step(raw).status != PM_OK) ++bad;
            break;
        default:
            bad += check_ordered(drain(raw), expected);
        }
        pm_map_destroy(raw);
        if (bad) break;
    }
    EXPECT_EQ(bad, 0u);
    const auto after = open_fds();
    EXPECT_EQ(before, after) << fd_diff(before, after);
    EXPECT_TRUE(no_children());
}

TEST(Hygiene, PoolsLeaveSameDescriptorsAndNoChild) {
    set_watchdog(60);
    const std::vector<uint64_t> items = make_items(20);
    std::vector<std::string> expected;
    for (size_t i = 0; i < items.size(); ++i) expected.push_back(expected_result(&items[i], 8, i));
    Config cfg;
    cfg.processes = 2;
    Options opts = make_options(cfg);
    const auto before = open_fds();
    for (int i = 0; i < 100; ++i) {
        pm_pool *praw = nullptr;
        ASSERT_EQ(pm_pool_create(&praw, opts.get(), checksum_work, nullptr, nullptr), PM_OK);
        for (int k = 0; k < 3; ++k) {
            pm_map *raw = nullptr;
            ASSERT_EQ(pm_pool_map(&raw, praw, nullptr, array_input(items)), PM_OK);
            if (k < 2) {
                ASSERT_EQ(check_ordered(drain(raw), expected), 0u);
            }
            pm_map_destroy(raw);
        }
        pm_pool_destroy(praw);
    }
    const auto after = open_fds();
    EXPECT_EQ(before, after) << fd_diff(before, after);
    EXPECT_TRUE(no_children());
}

TEST(Hygiene, CrashedWorkersLeaveSameDescriptorsAndNoChild) {
    set_watchdog(60);
    const std::vector<uint64_t> items = make_items(40);
    const auto before = open_fds();
    int segv = 1;
    for (int i = 0; i < 40; ++i) {
        Config cfg;
        cfg.processes = 2 + i % 2;
        cfg.chunk = 1 + i % 3;
        cfg.error_mode = i % 4 < 2 ? PM_ERRORS_RAISE : PM_ERRORS_RETURN;
        Options opts = make_options(cfg);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), crash_on_7_work,
                                i % 2 ? &segv : nullptr, nullptr),
                  PM_OK);
        const std::vector<Step> steps = drain(raw, cfg.error_mode == PM_ERRORS_RETURN);
        pm_map_destroy(raw);
        bool saw_worker_error = false;
        for (const Step &s : steps) saw_worker_error |= s.status == PM_EWORKER;
        ASSERT_TRUE(saw_worker_error) << "map " << i << ": " << describe(steps.back());
    }
    const auto after = open_fds();
    EXPECT_EQ(before, after) << fd_diff(before, after);
    EXPECT_TRUE(no_children());
}

TEST(Hygiene, LibraryDescriptorsAreCloseOnExec) {
    const auto before = open_fds();
    EndlessGen gen;
    Config cfg;
    cfg.processes = 2;
    Options opts = make_options(cfg);
    pm_input *in = nullptr;
    ASSERT_EQ(pm_input_create_pull(&in, endless_fn, &gen, endless_destroy), PM_OK);
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), in, checksum_work, nullptr, nullptr), PM_OK);
    Map map(raw);
    ASSERT_EQ(next_step(raw).status, PM_OK);
    const auto during = open_fds();
    size_t new_fds = 0;
    for (const auto &kv : during) {
        if (before.count(kv.first)) continue;
        ++new_fds;
        const int flags = fcntl(kv.first, F_GETFD);
        EXPECT_TRUE(flags >= 0 && (flags & FD_CLOEXEC))
            << "fd " << kv.first << " -> " << kv.second << " is not close-on-exec";
    }
    EXPECT_GT(new_fds, 0u) << "a forked map should hold pipes to its workers";
}

// Counts this process's descriptors that are pipes.
size_t pipe_count() {
    size_t n = 0;
    for (const auto &fd : open_fds())
        n += fd.second.rfind("pipe:", 0) == 0;
    return n;
}

int count_pipes_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    const uint64_t n = pipe_count();
    return pm_sink_write(out, &n, sizeof n) == PM_OK ? 0 : 1;
}

TEST(Hygiene, WorkersHoldOnlyTheirOwnPipes) {
    // A worker holding another worker's pipe end would hide that worker's
    // death (no end of stream) or block writes to it instead of failing.
    // A forked worker keeps what the test process had; an exec-mode worker
    // keeps only its standard streams (which meson may have made pipes).
    uint64_t before = pipe_count();
    if (exec_mode()) {
        before = 0;
        for (const auto &fd : open_fds())
            before += fd.first <= 2 && fd.second.rfind("pipe:", 0) == 0;
    }
    const std::vector<uint64_t> items = make_items(64);
    for (uint32_t processes : {2u, 4u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Config cfg;
        cfg.processes = processes;
        cfg.chunk = 1;
        Map map = start_map(cfg, array_input(items), count_pipes_work);
        ASSERT_TRUE(map);
        const std::vector<Step> steps = drain(map.get());
        ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
        for (size_t k = 0; k + 1 < steps.size(); ++k) {
            uint64_t n = 0;
            ASSERT_EQ(steps[k].data.size(), sizeof n);
            memcpy(&n, steps[k].data.data(), sizeof n);
            // What it had, plus the worker's own two ends.
            EXPECT_EQ(n, before + 2) << "item " << k;
        }
    }
}

// The pipes and sockets a process holds, by kernel object ("pipe:[123]").
std::set<std::string> channels_of(pid_t pid) {
    std::set<std::string> found;
    const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
    DIR *d = opendir(dir.c_str());
    if (!d) return found;  // it has just exited
    while (struct dirent *e = readdir(d)) {
        if (e->d_name[0] == '.') continue;
        char buf[256];
        const ssize_t n = readlink((dir + "/" + e->d_name).c_str(), buf, sizeof buf - 1);
        if (n <= 0) continue;
        std::string target(buf, static_cast<size_t>(n));
        if (target.rfind("pipe:", 0) == 0 || target.rfind("socket:", 0) == 0)
            found.insert(target);
    }
    closedir(d);
    return found;
}

// Every process below this one (children, theirs, ...), from /proc/*/stat.
std::set<pid_t> descendants() {
    std::map<pid_t, pid_t> parent;
    DIR *d = opendir("/proc");
    while (struct dirent *e = d ? readdir(d) : nullptr) {
        const pid_t pid = atoi(e->d_name);
        if (pid <= 0) continue;
        FILE *f = fopen(("/proc/" + std::string(e->d_name) + "/stat").c_str(), "r");
        if (!f) continue;
        char line[1024];
        const bool got = fgets(line, sizeof line, f) != nullptr;
        fclose(f);
        const char *after_name = got ? strrchr(line, ')') : nullptr;
        char state;
        int ppid;
        if (after_name && sscanf(after_name + 1, " %c %d", &state, &ppid) == 2)
            parent[pid] = ppid;
    }
    if (d) closedir(d);
    std::set<pid_t> below{getpid()};
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto &kv : parent)
            if (below.count(kv.second) && below.insert(kv.first).second) grew = true;
    }
    below.erase(getpid());
    return below;
}

// Says it runs (one byte into the pipe whose write end user_data points
// at: the test's own descriptor, which a child keeps), then waits.
int say_ready_and_wait(pm_sink *, void *ready_fd) {
    const char byte = 1;
    if (write(*static_cast<int *>(ready_fd), &byte, 1) != 1) return 1;
    for (;;) pause();
}

TEST(Hygiene, ForkedProcessesHoldNoOtherMapsChannels) {
    // A template or background process forked while another map or pool
    // lived used to inherit that map's pipe ends and template socket: its
    // workers then never saw their task stream end, and destroying that pool
    // waited 2 s for a template that could not see its socket close.
    set_watchdog(60);
    const auto fds_before = open_fds();
    Config cfg;
    cfg.processes = 2;
    Pool first = start_pool(cfg, checksum_work);
    ASSERT_TRUE(first);
    const std::vector<uint64_t> items = make_items(1000);
    Map running = start_map(cfg, array_input(items), checksum_work);
    ASSERT_TRUE(running);
    ASSERT_EQ(next_step(running.get()).status, PM_OK);
    std::set<std::string> theirs;  // the caller's ends of the pool's and map's channels
    for (const auto &kv : open_fds())
        if (!fds_before.count(kv.first) &&
            (kv.second.rfind("pipe:", 0) == 0 || kv.second.rfind("socket:", 0) == 0))
            theirs.insert(kv.second);
    ASSERT_GE(theirs.size(), 5u);  // 2 x 2 pipes and a socket, at least
    const std::set<pid_t> older = descendants();

    Pool second = start_pool(cfg, checksum_work);
    ASSERT_TRUE(second);
    // pm_process_start() returns once the child is forked; the child closes
    // what it must not hold before it runs the function.
    int ready[2];
    ASSERT_EQ(pipe2(ready, O_CLOEXEC), 0);
    pm_process *background = nullptr;
    ASSERT_EQ(pm_process_start(&background, nullptr, say_ready_and_wait, &ready[1], nullptr),
              PM_OK);
    char byte = 0;
    ASSERT_EQ(read(ready[0], &byte, 1), 1);
    close(ready[0]);
    close(ready[1]);
    size_t newer = 0;
    for (pid_t pid : descendants()) {
        if (older.count(pid)) continue;
        ++newer;
        for (const std::string &target : channels_of(pid))
            EXPECT_FALSE(theirs.count(target)) << "process " << pid << " holds " << target;
    }
    EXPECT_GE(newer, 4u);  // the second pool's template and workers, the background process

    first.reset();
    running.reset();
    pm_process_destroy(background);
    second.reset();
    EXPECT_TRUE(no_children());
    EXPECT_EQ(fds_before, open_fds()) << fd_diff(fds_before, open_fds());
}

TEST(Hygiene, PoolEndsPromptlyThoughAForkOfTheCallerHoldsItsChannels) {
    // A child the program forks (without exec) holds copies of every pipe
    // and socket the pool's caller side has: the workers and the template
    // must be told to leave, not wait for ends of stream that never come.
    // Not a speed check: the bound only tells a prompt end from the 2 s
    // grace after which the template would be killed.
    set_watchdog(60);
    Config cfg;
    cfg.processes = 2;
    const std::vector<uint64_t> items = make_items(100);
    for (int round = 0; round < 3; ++round) {
        Pool pool = start_pool(cfg, checksum_work);
        ASSERT_TRUE(pool);
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, pool.get(), nullptr, array_input(items)), PM_OK);
        ASSERT_EQ(next_step(raw).status, PM_OK);
        const pid_t holder = fork();
        ASSERT_GE(holder, 0);
        if (holder == 0) {
            for (;;) pause();
        }
        const auto start = std::chrono::steady_clock::now();
        drain(raw);
        pm_map_destroy(raw);
        pool.reset();
        const auto took = std::chrono::steady_clock::now() - start;
        kill(holder, SIGKILL);
        reap(holder);
        EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(took).count(), 1500)
            << "round " << round;
        EXPECT_TRUE(no_children());
    }
}

// The dispositions this process started with (SIG_DFL, or SIG_IGN when the
// launcher ignored a signal, as nohup does SIGHUP), read before main and so
// before any test used the library.
struct StartupDispositions {
    std::map<int, void *> handler;
    StartupDispositions() {
        for (int sig : {SIGCHLD, SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
            struct sigaction sa;
            if (sigaction(sig, nullptr, &sa) == 0)
                handler[sig] = reinterpret_cast<void *>(sa.sa_handler);
        }
    }
};
const StartupDispositions startup_dispositions;

TEST(Hygiene, NoSignalHandlersInstalled) {
    auto dispositions = [] {
        std::vector<std::pair<int, void *>> v;
        for (int sig = 1; sig < 32; ++sig) {
            if (sig == SIGKILL || sig == SIGSTOP || sig == SIGALRM) continue;
            struct sigaction sa;
            if (sigaction(sig, nullptr, &sa) != 0) continue;
            v.emplace_back(sig, reinterpret_cast<void *>(sa.sa_handler));
        }
        return v;
    };
    const auto before = dispositions();
    const std::vector<uint64_t> items = make_items(100);
    for (int mode : {PM_ERRORS_RAISE, PM_ERRORS_RETURN, PM_ERRORS_INLINE}) {
        for (uint32_t processes : {1u, 2u}) {
            Config cfg;
            cfg.processes = processes;
            cfg.error_mode = mode;
            Map map = start_map(cfg, array_input(items), checksum_work);
            ASSERT_TRUE(map);
            ASSERT_EQ(next_step(map.get()).status, PM_OK);
            EXPECT_EQ(dispositions(), before) << "while a map runs";
        }
    }
    pm_pool *praw = nullptr;
    Options opts = make_options(Config{});
    ASSERT_EQ(pm_pool_create(&praw, opts.get(), checksum_work, nullptr, nullptr), PM_OK);
    EXPECT_EQ(dispositions(), before) << "while a pool exists";
    pm_pool_destroy(praw);
    EXPECT_EQ(dispositions(), before);
    for (int sig : {SIGCHLD, SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
        struct sigaction sa;
        ASSERT_EQ(sigaction(sig, nullptr, &sa), 0);
        EXPECT_EQ(reinterpret_cast<void *>(sa.sa_handler), startup_dispositions.handler.at(sig))
            << "signal " << sig;
    }
}

int exit_at_once_work(const void *, size_t, uint64_t, pm_sink *, void *) { _exit(0); }

TEST(Hygiene, DeadWorkersNeverRaiseSigpipeInCaller) {
    // SIGPIPE keeps its default action: if the feeder wrote to a dead
    // worker's pipe without protection, this test process would die.
    set_watchdog(60);
    struct sigaction sa;
    ASSERT_EQ(sigaction(SIGPIPE, nullptr, &sa), 0);
    ASSERT_EQ(reinterpret_cast<void *>(sa.sa_handler), reinterpret_cast<void *>(SIG_DFL));
    const size_t item_size = size_t{1} << 20;
    std::vector<unsigned char> data(32 * item_size, 0x5a);
    for (int mode : {PM_ERRORS_RAISE, PM_ERRORS_RETURN}) {
        for (bool pull : {false, true}) {
            Config cfg;
            cfg.processes = 2;
            cfg.chunk = 1;
            cfg.error_mode = mode;
            Options opts = make_options(cfg);
            struct Gen {
                const unsigned char *base;
                size_t size, next, count;
            } gen{data.data(), item_size, 0, 32};
            pm_input *in = nullptr;
            if (pull) {
                ASSERT_EQ(pm_input_create_pull(
                              &in,
                              [](pm_feed *feed, void *ud) -> int {
                                  Gen *g = static_cast<Gen *>(ud);
                                  if (g->next == g->count) return PM_DONE;
                                  pm_feed_push(feed, g->base + g->next++ * g->size, g->size);
                                  return PM_OK;
                              },
                              &gen, nullptr),
                          PM_OK);
            } else {
                ASSERT_EQ(pm_input_create_array(&in, data.data(), item_size, 32), PM_OK);
            }
            pm_map *raw = nullptr;
            ASSERT_EQ(pm_map_create(&raw, opts.get(), in, exit_at_once_work, nullptr, nullptr),
                      PM_OK);
            const std::vector<Step> steps = drain(raw, mode == PM_ERRORS_RETURN, 1000);
            pm_map_destroy(raw);
            EXPECT_EQ(steps.front().status, PM_EWORKER) << describe(steps.front());
            for (const Step &s : steps) EXPECT_NE(s.status, PM_OK);
            EXPECT_TRUE(no_children());
        }
    }
}

// ---------------------------------------------------------------------------
// stdout: the library never writes to it, and flushes stdio before forking
// so a worker that flushes stdout does not repeat the caller's output.

int flush_stdout_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    fflush(stdout);
    return checksum_work(item, len, index, out, nullptr);
}

// Runs body in a forked child whose stdout is a pipe; returns what it wrote.
std::string capture_stdout(void (*body)()) {
    fflush(stdout);
    fflush(stderr);
    int fds[2];
    if (pipe(fds) != 0) {
        ADD_FAILURE() << "pipe: " << strerror(errno);
        return "";
    }
    const pid_t child = fork();
    if (child < 0) {
        ADD_FAILURE() << "fork: " << strerror(errno);
        return "";
    }
    if (child == 0) {
        alarm(20);
        close(fds[0]);
        // Nothing can be buffered in the child's copy of stdout: the parent
        // flushed before forking.
        dup2(fds[1], 1);
        close(fds[1]);
        body();
        _exit(0);
    }
    close(fds[1]);
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fds[0], buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    close(fds[0]);
    const int st = reap(child);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "child status " << st;
    return out;
}

void map_with_pending_stdout() {
    // No newline: "before|" stays in stdio's buffer (line or full buffering).
    printf("before|");
    const std::vector<uint64_t> items = make_items(50);
    pm_options *o = nullptr;
    pm_options_create(&o);
    pm_options_set_processes(o, 2);
    pm_options_set_chunk_size(o, 1);
    pm_input *in = nullptr;
    pm_input_create_array(&in, items.data(), 8, items.size());
    pm_map *m = nullptr;
    if (pm_map_create(&m, o, in, flush_stdout_work, nullptr, nullptr) != PM_OK) _exit(2);
    int rc;
    while ((rc = pm_map_next(m, nullptr, nullptr, nullptr)) == PM_OK) {
    }
    pm_map_destroy(m);
    if (rc != PM_DONE) _exit(3);

    // A pool, and a failing map, too.
    pm_pool *p = nullptr;
    if (pm_pool_create(&p, o, flush_stdout_work, nullptr, nullptr) != PM_OK) _exit(4);
    pm_input_create_array(&in, items.data(), 8, items.size());
    if (pm_pool_map(&m, p, nullptr, in) != PM_OK) _exit(5);
    while (pm_map_next(m, nullptr, nullptr, nullptr) == PM_OK) {
    }
    pm_map_destroy(m);
    pm_pool_destroy(p);
    pm_options_destroy(o);
    printf("after");
    fflush(stdout);
}

TEST(Stdout, LibraryWritesNothingAndFlushesBeforeFork) {
    set_watchdog(30);
    EXPECT_EQ(capture_stdout(map_with_pending_stdout), "before|after");
}

} // namespace

// ---------------------------------------------------------------------------
// Issue 8, item 7: a host with descriptors 0 to 2 closed (a daemon). The
// library's pipes used to take them, so a work function's printf or perror
// went into its result pipe and every item failed with PM_EIO ("bad frame
// magic"). No descriptor of the library is 0, 1 or 2 now.

namespace stdio_closed {

int chatty_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    printf("stdout chatter for item %llu\n", static_cast<unsigned long long>(index));
    fflush(stdout);
    fprintf(stderr, "stderr chatter for item %llu\n", static_cast<unsigned long long>(index));
    perror("perror chatter");
    ssize_t r = write(1, "raw\n", 4);
    r = write(2, "raw\n", 4);
    (void)r;
    return checksum_work(item, len, index, out, ud);
}

int chatty_process(pm_sink *out, void *) {
    printf("stdout chatter\n");
    fflush(stdout);
    fprintf(stderr, "stderr chatter\n");
    return pm_sink_write(out, "fine", 4);
}

// In a child of the test with 0, 1 and 2 closed; returns what failed ("" if
// nothing did). Not gtest macros: the child reports through its exit code.
std::string run_everything() {
    const std::vector<uint64_t> items = make_items(300);
    const std::vector<std::string> expected = expected_results(items);
    for (uint32_t threads : {1u, 2u}) {
        for (size_t chunk : {size_t(1), size_t(PM_CHUNK_AUTO)}) {
            pm_options *o = nullptr;
            pm_options_create(&o);
            pm_options_set_processes(o, 2);
            pm_options_set_threads(o, threads);
            pm_options_set_chunk_size(o, chunk);
            pm_input *in = nullptr;
            pm_input_create_array(&in, items.data(), sizeof(uint64_t), items.size());
            pm_map *m = nullptr;
            if (pm_map_create(&m, o, in, chatty_work, nullptr, nullptr) != PM_OK)
                return std::string("pm_map_create: ") + pm_last_error();
            uint64_t i;
            const void *d;
            size_t n;
            int rc;
            size_t got = 0;
            while ((rc = pm_map_next(m, &i, &d, &n)) == PM_OK) {
                if (i != got || std::string(static_cast<const char *>(d), n) != expected[i])
                    return "wrong result for item " + std::to_string(i);
                ++got;
            }
            const std::string error = pm_map_error(m);
            pm_map_destroy(m);
            pm_options_destroy(o);
            if (rc != PM_DONE || got != items.size())
                return "map ended with " + std::to_string(rc) + " after " +
                       std::to_string(got) + " results: " + error;
        }
    }
    pm_pool *pool = nullptr;
    if (pm_pool_create(&pool, nullptr, chatty_work, nullptr, nullptr) != PM_OK)
        return std::string("pm_pool_create: ") + pm_last_error();
    pm_input *in = nullptr;
    pm_input_create_array(&in, items.data(), sizeof(uint64_t), items.size());
    pm_map *m = nullptr;
    if (pm_pool_map(&m, pool, nullptr, in) != PM_OK) return "pm_pool_map failed";
    int rc;
    size_t got = 0;
    while ((rc = pm_map_next(m, nullptr, nullptr, nullptr)) == PM_OK) ++got;
    pm_map_destroy(m);
    pm_pool_destroy(pool);
    if (rc != PM_DONE || got != items.size()) return "pool map ended with " + std::to_string(rc);
    pm_process *p = nullptr;
    if (pm_process_start(&p, nullptr, chatty_process, nullptr, nullptr) != PM_OK)
        return "pm_process_start failed";
    const void *d = nullptr;
    size_t n = 0;
    rc = pm_process_join(p, &d, &n);
    const std::string result = rc == PM_OK ? std::string(static_cast<const char *>(d), n) : "";
    const std::string error = pm_process_error(p);
    pm_process_destroy(p);
    if (rc != PM_OK || result != "fine") return "process: " + std::to_string(rc) + " " + error;
    return "";
}

}  // namespace stdio_closed

TEST(Stdio, ClosedStdioNeverCarriesResults) {
    int report[2];
    ASSERT_EQ(pipe(report), 0);
    // Move the report pipe out of the way of 0 to 2 before they close.
    const int report_fd = fcntl(report[1], F_DUPFD, 10);
    ASSERT_GE(report_fd, 10);
    close(report[1]);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        close(report[0]);
        close(0);
        close(1);
        close(2);
        const std::string failure = stdio_closed::run_everything();
        ssize_t r = write(report_fd, failure.data(), failure.size());
        (void)r;
        _exit(failure.empty() ? 0 : 1);
    }
    close(report_fd);
    std::string failure;
    char buf[512];
    ssize_t n;
    while ((n = read(report[0], buf, sizeof buf)) > 0) failure.append(buf, static_cast<size_t>(n));
    close(report[0]);
    const int st = reap(child);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "status " << st << ": " << failure;
    EXPECT_EQ(failure, "");
}
