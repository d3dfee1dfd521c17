// The host's signals: a worker killed from outside is reported, and a host
// whose signal handlers interrupt system calls (no SA_RESTART) still gets
// every result.
#include "capi_test_util.hpp"

#include <pthread.h>

#include <chrono>
#include <thread>

using namespace pmtest;

namespace {

// Written by the test before the map forks, so every worker inherits it.
int g_pid_pipe[2] = {-1, -1};

// Item 5 reports its worker's pid and waits to be killed; others compute.
int report_pid_and_wait(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    if (index == 5) {
        pid_t self = getpid();
        if (write(g_pid_pipe[1], &self, sizeof self) != sizeof self)
            return 1;
        for (;;)
            pause();
    }
    return checksum_work(item, len, index, out, ud);
}

pid_t read_pid() {
    pid_t pid = -1;
    EXPECT_EQ(read(g_pid_pipe[0], &pid, sizeof pid), static_cast<ssize_t>(sizeof pid));
    return pid;
}

struct PidPipe {
    PidPipe() { EXPECT_EQ(pipe2(g_pid_pipe, O_CLOEXEC), 0); }
    ~PidPipe() {
        close(g_pid_pipe[0]);
        close(g_pid_pipe[1]);
    }
};

}  // namespace

TEST(KilledFromOutside, RaiseReportsTheItemAndTheSignal) {
    PM_SKIP_IN_EXEC_MODE("workers report their pid through an inherited pipe (the fault matrix kills workers in exec mode)");
    PidPipe pids;
    const std::vector<uint64_t> items = make_items(40);
    Config cfg;
    cfg.chunk = 1;
    Map map = start_map(cfg, array_input(items), report_pid_and_wait);
    ASSERT_TRUE(map);
    pid_t victim = read_pid();
    ASSERT_GT(victim, 0);
    ASSERT_EQ(kill(victim, SIGKILL), 0);
    std::vector<Step> steps = drain(map.get());
    ASSERT_EQ(steps.size(), 6u) << describe(steps.back());
    // Items 0..4 in order, then the failure.
    EXPECT_EQ(check_prefix(steps, expected_results(items, 5), 5), 0u);
    const Step &last = steps.back();
    EXPECT_EQ(last.status, PM_EWORKER) << describe(last);
    EXPECT_EQ(last.index, 5u);
    EXPECT_NE(last.error.find("signal 9"), std::string::npos) << last.error;
    EXPECT_NE(last.error.find("pid " + std::to_string(victim)), std::string::npos) << last.error;
    map.reset();
    EXPECT_TRUE(no_children());
}

TEST(KilledFromOutside, ReturnModeLosesOnlyThatItem) {
    PM_SKIP_IN_EXEC_MODE("workers report their pid through an inherited pipe (the fault matrix kills workers in exec mode)");
    PidPipe pids;
    const std::vector<uint64_t> items = make_items(200);
    Config cfg;
    cfg.chunk = 1;
    cfg.error_mode = PM_ERRORS_RETURN;
    Map map = start_map(cfg, array_input(items), report_pid_and_wait);
    ASSERT_TRUE(map);
    pid_t victim = read_pid();
    ASSERT_GT(victim, 0);
    ASSERT_EQ(kill(victim, SIGKILL), 0);
    std::vector<Step> steps = drain(map.get(), true);
    ASSERT_EQ(steps.back().status, PM_DONE) << describe(steps.back());
    steps.pop_back();
    ASSERT_EQ(steps.size(), items.size());
    // With chunk 1 and the default credits, the victim held item 5 and at
    // most one more chunk; everything else comes from the survivor.
    size_t lost = 0;
    for (size_t k = 0; k < steps.size(); ++k) {
        EXPECT_EQ(steps[k].index, k);
        if (steps[k].status == PM_OK) {
            EXPECT_EQ(steps[k].data, expected_result(&items[k], sizeof items[k], k));
        } else {
            EXPECT_EQ(steps[k].status, PM_EWORKER) << describe(steps[k]);
            ++lost;
        }
    }
    EXPECT_EQ(steps[5].status, PM_EWORKER);
    EXPECT_LE(lost, 2u);
    map.reset();
    EXPECT_TRUE(no_children());
}

namespace {

std::atomic<unsigned> g_interruptions{0};
void count_interruption(int) { g_interruptions++; }

}  // namespace

// A host handler installed without SA_RESTART makes blocking calls in the
// consumer's thread fail with EINTR; the library must retry, not fail.
TEST(Interrupted, HostSignalsWithoutRestartDoNotBreakMaps) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = count_interruption;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;  // no SA_RESTART
    ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);

    std::atomic<bool> done{false};
    pthread_t target = pthread_self();
    std::thread pester([&] {
        while (!done.load()) {
            pthread_kill(target, SIGUSR1);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    });

    const std::vector<uint64_t> items = make_items(20000);
    for (uint32_t processes : {1u, 2u}) {
        for (uint32_t threads : {1u, 2u}) {
            SCOPED_TRACE("processes " + std::to_string(processes) + " threads " +
                         std::to_string(threads));
            Config cfg;
            cfg.processes = processes;
            cfg.threads = threads;
            cfg.chunk = 3;  // many frames, many blocking calls
            Options opts = make_options(cfg);
            VectorGen gen;
            gen.items = &items;
            pm_map *raw = nullptr;
            ASSERT_EQ(pm_map_create(&raw, opts.get(), vector_pull(gen), checksum_work, nullptr,
                                    nullptr),
                      PM_OK)
                << pm_last_error();
            Map map(raw);
            std::vector<Step> steps = drain(raw);
            EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
        }
    }
    done = true;
    pester.join();
    sigaction(SIGUSR1, &old, nullptr);
    EXPECT_GT(g_interruptions.load(), 0u);
    EXPECT_TRUE(no_children());
}
