// Background processes (pm_process_*): results of any size, several at
// once, failures, crashes, kills, destroy without join, daemon children.
#include "capi_test_util.hpp"

#include <stdexcept>
#include <thread>

namespace {

using namespace pmtest;

struct ProcessDeleter {
    void operator()(pm_process *p) const { pm_process_destroy(p); }
};
using Process = std::unique_ptr<pm_process, ProcessDeleter>;

Process start(pm_process_fn fn, void *ud = nullptr, const pm_options *opts = nullptr) {
    pm_process *raw = nullptr;
    const int rc = pm_process_start(&raw, opts, fn, ud, nullptr);
    EXPECT_EQ(rc, PM_OK) << pm_status_str(rc) << ": " << pm_last_error();
    return Process(raw);
}

struct Outcome {
    int status = 0;
    std::string data;
    std::string error;
};

Outcome join(pm_process *p) {
    Outcome o;
    const void *d = nullptr;
    size_t n = 0;
    o.status = pm_process_join(p, &d, &n);
    if (o.status == PM_OK) {
        EXPECT_TRUE(n == 0 || d != nullptr);
        o.data.assign(static_cast<const char *>(d), n);
    } else {
        EXPECT_EQ(d, nullptr);
        EXPECT_EQ(n, 0u);
        EXPECT_STREQ(pm_last_error(), pm_process_error(p));
    }
    o.error = pm_process_error(p);
    return o;
}

// Reads exactly len bytes (or fails the test).
bool read_full(int fd, void *buf, size_t len) {
    size_t got = 0;
    while (got < len) {
        const ssize_t n = read(fd, static_cast<char *>(buf) + got, len - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        got += static_cast<size_t>(n);
    }
    return true;
}

// ---------------------------------------------------------------------------
// Results.

int write_text_fn(pm_sink *out, void *ud) {
    const char *text = static_cast<const char *>(ud);
    return pm_sink_write(out, text, strlen(text)) == PM_OK ? 0 : 1;
}

TEST(Process, ReturnsTheResultBytesOnJoin) {
    char text[] = "forty-two";
    Process p = start(write_text_fn, text);
    ASSERT_TRUE(p);
    EXPECT_STREQ(pm_process_error(p.get()), "");
    const Outcome o = join(p.get());
    EXPECT_EQ(o.status, PM_OK) << o.error;
    EXPECT_EQ(o.data, "forty-two");
    EXPECT_EQ(o.error, "");
    EXPECT_TRUE(no_children());
}

TEST(Process, JoiningAgainGivesTheSameBytes) {
    char text[] = "again";
    Process p = start(write_text_fn, text);
    const void *d1 = nullptr, *d2 = nullptr;
    size_t n1 = 0, n2 = 0;
    ASSERT_EQ(pm_process_join(p.get(), &d1, &n1), PM_OK);
    ASSERT_EQ(pm_process_join(p.get(), &d2, &n2), PM_OK);
    EXPECT_EQ(d1, d2);
    EXPECT_EQ(n1, 5u);
    EXPECT_EQ(std::string(static_cast<const char *>(d2), n2), "again");
    EXPECT_EQ(pm_process_join(p.get(), nullptr, nullptr), PM_OK);
}

int empty_fn(pm_sink *, void *) { return 0; }

TEST(Process, EmptyResult) {
    Process p = start(empty_fn);
    const Outcome o = join(p.get());
    EXPECT_EQ(o.status, PM_OK);
    EXPECT_EQ(o.data, "");
}

int g_value = 0;

int read_and_bump_global_fn(pm_sink *out, void *) {
    const int seen = g_value;
    g_value += 1000;  // stays in the child
    return pm_sink_write(out, &seen, sizeof seen) == PM_OK ? 0 : 1;
}

TEST(Process, ChildSeesMemoryAtStartAndItsWritesStayThere) {
    g_value = 7;
    Process p = start(read_and_bump_global_fn);
    g_value = 8;  // after the fork: not seen by the child
    const Outcome o = join(p.get());
    ASSERT_EQ(o.status, PM_OK);
    int seen = 0;
    ASSERT_EQ(o.data.size(), sizeof seen);
    memcpy(&seen, o.data.data(), sizeof seen);
    EXPECT_EQ(seen, 7);
    EXPECT_EQ(g_value, 8);
}

constexpr size_t kBig = size_t{64} << 20;

int big_fn(pm_sink *out, void *) {
    void *buf = nullptr;
    if (pm_sink_reserve(out, kBig, &buf) != PM_OK) return 1;
    uint64_t *w = static_cast<uint64_t *>(buf);
    for (size_t i = 0; i < kBig / 8; ++i) w[i] = mix64(i);
    return 0;
}

TEST(Process, SixtyFourMebibyteResult) {
    // Far more than a pipe holds: the child writes while join reads.
    set_watchdog(60);
    Process p = start(big_fn);
    const void *d = nullptr;
    size_t n = 0;
    ASSERT_EQ(pm_process_join(p.get(), &d, &n), PM_OK) << pm_process_error(p.get());
    ASSERT_EQ(n, kBig);
    size_t bad = 0;
    for (size_t i = 0; i < kBig / 8; ++i) {
        uint64_t v;
        memcpy(&v, static_cast<const char *>(d) + i * 8, 8);
        bad += v != mix64(i);
    }
    EXPECT_EQ(bad, 0u);
}

// Each child announces itself on `arrive`, then waits for a byte on `go`,
// which the test sends only once all have arrived: all of them run at the
// same time, or the test hangs (and the watchdog fails it).
struct Rendezvous {
    int arrive[2];
    int go[2];
    uint32_t id;
};

int rendezvous_fn(pm_sink *out, void *ud) {
    const Rendezvous *r = static_cast<const Rendezvous *>(ud);
    if (write(r->arrive[1], &r->id, sizeof r->id) != sizeof r->id) return 1;
    char byte;
    if (!read_full(r->go[0], &byte, 1)) return 2;
    const uint32_t result = r->id * 10 + 1;
    return pm_sink_write(out, &result, sizeof result) == PM_OK ? 0 : 3;
}

TEST(Process, SeveralRunAtOnce) {
    set_watchdog(30);
    const auto fds_before = open_fds();
    int arrive[2], go[2];
    ASSERT_EQ(pipe2(arrive, O_CLOEXEC), 0);
    ASSERT_EQ(pipe2(go, O_CLOEXEC), 0);
    constexpr uint32_t kCount = 4;
    std::vector<Rendezvous> args(kCount);
    std::vector<Process> procs;
    for (uint32_t i = 0; i < kCount; ++i) {
        args[i] = Rendezvous{{arrive[0], arrive[1]}, {go[0], go[1]}, i};
        procs.push_back(start(rendezvous_fn, &args[i]));
        ASSERT_TRUE(procs.back());
    }
    std::vector<bool> arrived(kCount);
    for (uint32_t k = 0; k < kCount; ++k) {
        uint32_t id = UINT32_MAX;
        ASSERT_TRUE(read_full(arrive[0], &id, sizeof id));
        ASSERT_LT(id, kCount);
        EXPECT_FALSE(arrived[id]);
        arrived[id] = true;
    }
    // Every child is now running and waiting; none could have finished.
    const char bytes[kCount] = {};
    ASSERT_EQ(write(go[1], bytes, kCount), static_cast<ssize_t>(kCount));
    // Joined in reverse order: each outcome is its own.
    for (uint32_t i = kCount; i-- > 0;) {
        const Outcome o = join(procs[i].get());
        ASSERT_EQ(o.status, PM_OK) << o.error;
        uint32_t v = 0;
        ASSERT_EQ(o.data.size(), sizeof v);
        memcpy(&v, o.data.data(), sizeof v);
        EXPECT_EQ(v, i * 10 + 1);
    }
    procs.clear();
    for (int fd : {arrive[0], arrive[1], go[0], go[1]}) close(fd);
    EXPECT_TRUE(no_children());
    const auto fds_after = open_fds();
    EXPECT_EQ(fds_before, fds_after) << fd_diff(fds_before, fds_after);
}

int nested_map_fn(pm_sink *out, void *) {
    const std::vector<uint64_t> items = make_items(100);
    pm_options *o = nullptr;
    pm_input *in = nullptr;
    pm_map *m = nullptr;
    if (pm_options_create(&o) != PM_OK || pm_options_set_processes(o, 2) != PM_OK) return 1;
    if (pm_input_create_array(&in, items.data(), 8, items.size()) != PM_OK) return 2;
    const int rc = pm_map_create(&m, o, in, checksum_work, nullptr, nullptr);
    pm_options_destroy(o);
    if (rc != PM_OK) return 3;
    uint64_t sum = 0;
    const void *d;
    size_t n;
    int st;
    while ((st = pm_map_next(m, nullptr, &d, &n)) == PM_OK) sum += fnv1a64(d, n);
    pm_map_destroy(m);
    if (st != PM_DONE) return 4;
    return pm_sink_write(out, &sum, sizeof sum) == PM_OK ? 0 : 5;
}

TEST(Process, RunsAMapInside) {
    set_watchdog(30);
    const std::vector<uint64_t> items = make_items(100);
    uint64_t expected = 0;
    for (const std::string &r : expected_results(items)) expected += fnv1a64(r.data(), r.size());
    Process p = start(nested_map_fn);
    const Outcome o = join(p.get());
    ASSERT_EQ(o.status, PM_OK) << o.error;
    uint64_t sum = 0;
    ASSERT_EQ(o.data.size(), sizeof sum);
    memcpy(&sum, o.data.data(), sizeof sum);
    EXPECT_EQ(sum, expected);
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Failures.

int fail_with_message_fn(pm_sink *out, void *) {
    pm_sink_write(out, "partial", 7);
    pm_sink_set_error(out, "no luck today");
    return 1;
}

int fail_quietly_fn(pm_sink *, void *) { return 7; }

int throw_fn(pm_sink *, void *) { throw std::runtime_error("thrown in the child"); }

TEST(Process, FunctionFailureIsAnItemErrorWithItsMessage) {
    Process p = start(fail_with_message_fn);
    Outcome o = join(p.get());
    EXPECT_EQ(o.status, PM_EITEM);
    EXPECT_EQ(o.error, "no luck today");
    // Again: the same outcome, and the same message in pm_last_error.
    pm_options_set_threads(nullptr, 1);  // another failure in between
    o = join(p.get());
    EXPECT_EQ(o.status, PM_EITEM);
    EXPECT_EQ(o.error, "no luck today");

    Process q = start(fail_quietly_fn);
    o = join(q.get());
    EXPECT_EQ(o.status, PM_EITEM);
    EXPECT_EQ(o.error, "the process function returned 7");

    Process t = start(throw_fn);
    o = join(t.get());
    EXPECT_EQ(o.status, PM_EITEM);
    EXPECT_NE(o.error.find("thrown in the child"), std::string::npos) << o.error;
    EXPECT_TRUE(no_children());
}

int segv_fn(pm_sink *, void *) {
    raise(SIGSEGV);
    return 0;
}
int exit3_fn(pm_sink *, void *) { _exit(3); }
int exit0_fn(pm_sink *, void *) { exit(0); }

TEST(Process, CrashesAndExitsAreWorkerErrorsNamingSignalOrStatus) {
    set_watchdog(30);
    struct Case {
        pm_process_fn fn;
        const char *expect;
    } cases[] = {
        {segv_fn, "killed by signal 11 (SIGSEGV) before returning a result"},
        {exit3_fn, "exited with status 3 before returning a result"},
        {exit0_fn, "exited with status 0 before returning a result"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.expect);
        Process p = start(c.fn);
        const Outcome o = join(p.get());
        EXPECT_EQ(o.status, PM_EWORKER);
        EXPECT_NE(o.error.find(c.expect), std::string::npos) << o.error;
        EXPECT_EQ(o.error.rfind("process (pid ", 0), 0u) << o.error;
        EXPECT_EQ(join(p.get()).error, o.error);
    }
    EXPECT_TRUE(no_children());
}

int pid_then_pause_fn(pm_sink *, void *ud) {
    const int fd = *static_cast<const int *>(ud);
    const pid_t me = getpid();
    if (write(fd, &me, sizeof me) != sizeof me) return 1;
    for (;;) pause();
}

TEST(Process, KilledFromOutsideIsAWorkerError) {
    set_watchdog(30);
    int pids[2];
    ASSERT_EQ(pipe2(pids, O_CLOEXEC), 0);
    Process p = start(pid_then_pause_fn, &pids[1]);
    pid_t child = 0;
    ASSERT_TRUE(read_full(pids[0], &child, sizeof child));
    close(pids[0]);
    close(pids[1]);
    ASSERT_EQ(kill(child, SIGTERM), 0);
    const Outcome o = join(p.get());
    EXPECT_EQ(o.status, PM_EWORKER);
    EXPECT_NE(o.error.find("process (pid " + std::to_string(child) + ")"), std::string::npos)
        << o.error;
    EXPECT_NE(o.error.find("killed by signal 15 (SIGTERM)"), std::string::npos) << o.error;
    EXPECT_TRUE(no_children());
}

// A broken child: writes straight to its result pipe, then leaves. The frame layout is the library's wire format
// (40-byte header: magic "PMF1", version 1, type 2 = result, count, flags,
// first index, payload length, aux).
struct RawFrame {
    uint32_t magic = 0x31464d50;
    uint16_t version = 1;
    uint16_t type = 2;
    uint32_t count = 1;
    uint32_t flags = 0;
    uint64_t first_index = 0;
    uint64_t payload_len = 0;
    uint64_t aux = 0;
};
static_assert(sizeof(RawFrame) == 40, "wire header");

// The test's descriptors before the start; the child finds its result pipe
// as the one write end it has beyond them.
std::map<int, std::string> g_fds_before_start;

int result_pipe_in_child() {
    int found = -1;
    for (const auto &fd : open_fds()) {
        if (g_fds_before_start.count(fd.first) || fd.second.rfind("pipe:", 0) != 0) continue;
        if ((fcntl(fd.first, F_GETFL) & O_ACCMODE) != O_WRONLY) continue;
        if (found >= 0) return -1;  // ambiguous
        found = fd.first;
    }
    return found;
}

struct Broken {
    bool bad_magic;
    uint64_t announce;  // payload bytes the header announces
    uint64_t send;      // payload bytes actually sent
    int how;            // 0: _exit(0), 1: SIGKILL itself
};

int broken_fn(pm_sink *, void *ud) {
    const Broken *b = static_cast<const Broken *>(ud);
    const int fd = result_pipe_in_child();
    if (fd < 0) return 99;
    RawFrame h;
    if (b->bad_magic) h.magic = 0xdeadbeef;
    h.payload_len = b->announce;
    std::string bytes(reinterpret_cast<const char *>(&h), sizeof h);
    bytes.append(b->send, 'x');
    if (write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) return 98;
    if (b->how == 1) raise(SIGKILL);
    _exit(0);
}

TEST(Process, BadOrTruncatedFramesAreIoErrorsUnlessTheChildDied) {
    set_watchdog(30);
    struct Case {
        Broken broken;
        int status;
        const char *expect;
    } cases[] = {
        {{true, 0, 0, 0}, PM_EIO, "sent a bad result frame: bad frame magic"},
        {{false, 100, 10, 0}, PM_EIO, "exited with status 0 part-way through its result frame"},
        {{false, 100, 10, 1}, PM_EWORKER, "killed by signal 9 (SIGKILL) while sending its result"},
        // A whole header with a payload too short for its table.
        {{false, 4, 4, 0}, PM_EIO, "sent a bad result frame: frame of 4 bytes is too short for the table"},
    };
    for (const Case &c : cases) {
        SCOPED_TRACE(c.expect);
        Broken b = c.broken;
        g_fds_before_start = open_fds();
        Process p = start(broken_fn, &b);
        const Outcome o = join(p.get());
        EXPECT_EQ(o.status, c.status) << o.error;
        EXPECT_NE(o.error.find(c.expect), std::string::npos) << o.error;
    }
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Lifetime.

int pause_fn(pm_sink *, void *) {
    for (;;) pause();
}

TEST(Process, DestroyWithoutJoinKillsAndReapsAndLeavesNoDescriptor) {
    set_watchdog(30);
    const auto before = open_fds();
    Counter destroyed;
    for (int i = 0; i < 20; ++i) {
        pm_process *p = nullptr;
        // Half of them still running, half finished but never joined.
        ASSERT_EQ(pm_process_start(&p, nullptr, i % 2 ? pause_fn : empty_fn, &destroyed,
                                   count_destroy),
                  PM_OK)
            << pm_last_error();
        pm_process_destroy(p);
        EXPECT_EQ(destroyed.n.load(), i + 1);
    }
    EXPECT_TRUE(no_children());
    const auto after = open_fds();
    EXPECT_EQ(before, after) << fd_diff(before, after);
}

TEST(Process, JoinedProcessesLeaveNoDescriptorNorChild) {
    const auto before = open_fds();
    for (int i = 0; i < 20; ++i) {
        char text[] = "x";
        Process p = start(write_text_fn, text);
        ASSERT_EQ(join(p.get()).status, PM_OK);
        // Joined: already reaped and its pipe closed, before destroy.
        EXPECT_TRUE(no_children());
    }
    const auto after = open_fds();
    EXPECT_EQ(before, after) << fd_diff(before, after);
}

TEST(Process, TheLibrarysDescriptorsAreCloseOnExec) {
    const auto before = open_fds();
    Process p = start(pause_fn);
    size_t added = 0;
    for (const auto &kv : open_fds()) {
        if (before.count(kv.first)) continue;
        ++added;
        const int flags = fcntl(kv.first, F_GETFD);
        EXPECT_TRUE(flags >= 0 && (flags & FD_CLOEXEC)) << kv.second;
    }
    // The result's read end, and the watcher's report and control pipes.
    EXPECT_EQ(added, 3u) << "three descriptors per running process";
}

TEST(Process, ArgumentsAndDestroyCallback) {
    Counter destroyed;
    EXPECT_EQ(pm_process_start(nullptr, nullptr, empty_fn, &destroyed, count_destroy), PM_EINVAL);
    EXPECT_EQ(destroyed.n.load(), 1);
    pm_process *p = reinterpret_cast<pm_process *>(&destroyed);
    EXPECT_EQ(pm_process_start(&p, nullptr, nullptr, &destroyed, count_destroy), PM_EINVAL);
    EXPECT_EQ(p, nullptr);
    EXPECT_EQ(destroyed.n.load(), 2);
    EXPECT_NE(std::string(pm_last_error()).find("pm_process_start"), std::string::npos);
    const void *d = &d;
    size_t n = 5;
    EXPECT_EQ(pm_process_join(nullptr, &d, &n), PM_EINVAL);
    EXPECT_EQ(d, nullptr);
    EXPECT_EQ(n, 0u);
    EXPECT_STREQ(pm_process_error(nullptr), "");
    pm_process_destroy(nullptr);

    // With options: only daemon matters; the rest is ignored.
    Config cfg;
    cfg.processes = 1;
    cfg.error_mode = PM_ERRORS_INLINE;
    Options opts = make_options(cfg);
    char text[] = "still forked";
    Process q = start(write_text_fn, text, opts.get());
    const Outcome o = join(q.get());
    EXPECT_EQ(o.status, PM_OK);
    EXPECT_EQ(o.data, "still forked");
}

TEST(Process, DestroyRunsAfterJoinToo) {
    Counter destroyed;
    pm_process *p = nullptr;
    ASSERT_EQ(pm_process_start(&p, nullptr, empty_fn, &destroyed, count_destroy), PM_OK);
    EXPECT_EQ(pm_process_join(p, nullptr, nullptr), PM_OK);
    EXPECT_EQ(destroyed.n.load(), 0);
    pm_process_destroy(p);
    EXPECT_EQ(destroyed.n.load(), 1);
}

TEST(Process, JoinFromAnotherThread) {
    char text[] = "across threads";
    Process p = start(write_text_fn, text);
    Outcome o;
    std::thread t([&] { o = join(p.get()); });
    t.join();
    EXPECT_EQ(o.status, PM_OK);
    EXPECT_EQ(o.data, "across threads");
}

// The daemon option: with it (the default) the child dies with its parent;
// without it the child lives on.
bool process_gone(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return true;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
    FILE *f = fopen(path, "r");
    if (!f) return true;
    char buf[512] = {0};
    const size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    const char *close_paren = strrchr(buf, ')');
    return n > 0 && close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
}

// Forks a "user process" that starts a pm_process reporting its pid, then
// kills that user process; returns the background child's pid.
pid_t orphan_a_process(bool daemon) {
    int pids[2];
    EXPECT_EQ(pipe(pids), 0);
    const pid_t user = fork();
    if (user == 0) {
        close(pids[0]);
        alarm(20);
        pm_options *o = nullptr;
        pm_options_create(&o);
        pm_options_set_daemon(o, daemon ? 1 : 0);
        pm_process *p = nullptr;
        if (pm_process_start(&p, o, pid_then_pause_fn, &pids[1], nullptr) != PM_OK) _exit(2);
        for (;;) pause();
    }
    close(pids[1]);
    pid_t child = 0;
    const bool got = read_full(pids[0], &child, sizeof child);
    close(pids[0]);
    kill(user, SIGKILL);
    reap(user);
    EXPECT_TRUE(got);
    return got ? child : 0;
}

TEST(Process, DaemonChildDiesWithItsParent) {
    set_watchdog(30);
    const pid_t child = orphan_a_process(true);
    ASSERT_GT(child, 0);
    bool gone = false;
    for (int i = 0; i < 1000 && !gone; ++i) {
        gone = process_gone(child);
        if (!gone) usleep(10000);
    }
    EXPECT_TRUE(gone) << "process " << child << " outlived its parent";
}

TEST(Process, NonDaemonChildOutlivesItsParent) {
    set_watchdog(30);
    const pid_t child = orphan_a_process(false);
    ASSERT_GT(child, 0);
    // Its parent was reaped above; give a daemon-style kill time to land.
    usleep(100000);
    EXPECT_FALSE(process_gone(child));
    kill(child, SIGKILL);
}

// ---------------------------------------------------------------------------
// Issue 8, item 5: a host that ignores SIGCHLD, or reaps every child in a
// handler, used to make a crash read "exited with status 0". The status now
// comes from a watcher process the host cannot reach.

int abort_fn(pm_sink *, void *) { abort(); }

int abort_work(const void *, size_t, uint64_t, pm_sink *, void *) { abort(); }

void reap_everything(int) {
    const int saved = errno;
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    errno = saved;
}

TEST(HostSigchld, TheExitStatusIsReportedWhateverTheHostDoesWithSigchld) {
    struct sigaction ignore = {}, greedy = {}, old = {};
    ignore.sa_handler = SIG_IGN;
    greedy.sa_handler = reap_everything;
    greedy.sa_flags = SA_RESTART;
    for (const struct sigaction *how : {&ignore, &greedy}) {
        SCOPED_TRACE(how == &ignore ? "SIGCHLD ignored" : "a handler reaps every child");
        ASSERT_EQ(sigaction(SIGCHLD, how, &old), 0);
        {
            Process p = start(abort_fn);
            ASSERT_TRUE(p);
            const Outcome o = join(p.get());
            EXPECT_EQ(o.status, PM_EWORKER);
            EXPECT_NE(o.error.find("killed by signal 6 (SIGABRT) before returning a result"),
                      std::string::npos)
                << o.error;
            EXPECT_EQ(o.error.find("status 0"), std::string::npos) << o.error;
        }
        {
            // A map's worker in the same host: the template keeps its status.
            const std::vector<uint64_t> items = make_items(4);
            Config cfg;
            cfg.chunk = 1;
            Map map = start_map(cfg, array_input(items), abort_work);
            ASSERT_TRUE(map);
            const Step s = next_step(map.get());
            EXPECT_EQ(s.status, PM_EWORKER) << describe(s);
            EXPECT_NE(s.error.find("killed by signal 6 (SIGABRT)"), std::string::npos) << s.error;
        }
        ASSERT_EQ(sigaction(SIGCHLD, &old, nullptr), 0);
    }
    EXPECT_TRUE(no_children());
}

// ---------------------------------------------------------------------------
// Issue 8, item 6: a copy of a pm_process handle inherited by a fork (a
// map's worker, or the program's own fork) cannot kill or join the parent's
// background process.

pm_process *g_parents_process = nullptr;

int destroy_inherited_work(const void *, size_t, uint64_t, pm_sink *out, void *) {
    const int joined = pm_process_join(g_parents_process, nullptr, nullptr);
    pm_process_destroy(g_parents_process);
    return pm_sink_write(out, &joined, sizeof joined);
}

int slow_text_fn(pm_sink *out, void *) {
    usleep(300 * 1000);
    return pm_sink_write(out, "still here", 10);
}

TEST(Process, AHandleInheritedByAForkIsLeftAlone) {
    PM_SKIP_IN_EXEC_MODE("the map's workers use the handle a forked worker inherits");
    Process p = start(slow_text_fn);
    ASSERT_TRUE(p);
    g_parents_process = p.get();
    {
        const std::vector<uint64_t> items = make_items(3);
        Config cfg;
        cfg.chunk = 1;
        Map map = start_map(cfg, array_input(items), destroy_inherited_work);
        ASSERT_TRUE(map);
        for (int k = 0; k < 3; ++k) {
            const Step s = next_step(map.get());
            ASSERT_EQ(s.status, PM_OK) << describe(s);
            int joined = 0;
            ASSERT_EQ(s.data.size(), sizeof joined);
            memcpy(&joined, s.data.data(), sizeof joined);
            EXPECT_EQ(joined, PM_ESTATE);
        }
    }
    // The program's own fork, without the library.
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        const int joined = pm_process_join(g_parents_process, nullptr, nullptr);
        pm_process_destroy(g_parents_process);
        _exit(joined == PM_ESTATE ? 0 : 1);
    }
    const int st = reap(child);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << st;
    g_parents_process = nullptr;
    const Outcome o = join(p.get());
    EXPECT_EQ(o.status, PM_OK) << o.error;
    EXPECT_EQ(o.data, "still here");
    p.reset();
    EXPECT_TRUE(no_children());
}

} // namespace
