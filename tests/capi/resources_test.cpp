// Running out of system resources part-way through starting a map or a pool
// fails cleanly: a status, a message, and nothing left behind.
#include "capi_test_util.hpp"

#include <sys/resource.h>

using namespace pmtest;

namespace {

// Lowers the descriptor limit for the scope of one test.
class FdLimit {
public:
    explicit FdLimit(rlim_t soft) {
        EXPECT_EQ(getrlimit(RLIMIT_NOFILE, &old_), 0);
        struct rlimit lowered = old_;
        lowered.rlim_cur = soft;
        EXPECT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
    }
    ~FdLimit() { setrlimit(RLIMIT_NOFILE, &old_); }

private:
    struct rlimit old_;
};

// The lowest descriptor number the process would get next.
int next_fd() {
    int fd = dup(0);
    close(fd);
    return fd;
}

}  // namespace

TEST(Resources, TooFewDescriptorsForTheWorkersFailsCleanly) {
    const std::vector<uint64_t> items = make_items(100);
    const auto before = open_fds();
    for (uint32_t processes : {8u, 64u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        // Room for a handful of pipes, not for one pair per worker.
        FdLimit limit(static_cast<rlim_t>(next_fd() + 9));
        Config cfg;
        cfg.processes = processes;
        Options opts = make_options(cfg);
        Counter destroyed;
        pm_map *raw = nullptr;
        int rc = pm_map_create(&raw, opts.get(), array_input(items), checksum_work, &destroyed,
                               count_destroy);
        EXPECT_EQ(rc, PM_ESYS);
        EXPECT_EQ(raw, nullptr);
        EXPECT_NE(std::string(pm_last_error()).find("Too many open files"), std::string::npos)
            << pm_last_error();
        EXPECT_EQ(destroyed.n.load(), 1);
        pm_pool *pool = nullptr;
        EXPECT_EQ(pm_pool_create(&pool, opts.get(), checksum_work, nullptr, nullptr), PM_ESYS);
        EXPECT_EQ(pool, nullptr);
    }
    EXPECT_EQ(fd_diff(before, open_fds()), "");
    EXPECT_TRUE(no_children());

    // And with the limit back, the same map works.
    Config cfg;
    cfg.processes = 8;
    Map map = start_map(cfg, array_input(items), checksum_work);
    ASSERT_TRUE(map);
    const std::vector<std::string> expected = expected_results(items);
    EXPECT_EQ(check_ordered(drain(map.get()), expected), 0u);
}

// fork() fails with EAGAIN once RLIMIT_NPROC is reached. Root is exempt, so
// a forked child drops to an unprivileged user first and reports back
// through its exit status.
TEST(Resources, ForkFailureFailsCleanly) {
    const std::vector<uint64_t> items = make_items(10);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(10);
        // This process and two workers fit; the third worker's fork fails,
        // so the two already running must be killed and reaped.
        struct rlimit three = {3, 3};
        if (setrlimit(RLIMIT_NPROC, &three) != 0)
            _exit(11);
        const auto before = open_fds();
        pm_options *opts = nullptr;
        if (pm_options_create(&opts) != PM_OK || pm_options_set_processes(opts, 4) != PM_OK)
            _exit(12);
        pm_input *in = nullptr;
        if (pm_input_create_array(&in, items.data(), sizeof items[0], items.size()) != PM_OK)
            _exit(13);
        pm_map *map = nullptr;
        int rc = pm_map_create(&map, opts, in, checksum_work, nullptr, nullptr);
        pm_options_destroy(opts);
        if (rc != PM_ESYS || map != nullptr)
            _exit(14);
        if (std::string(pm_last_error()).find("fork") == std::string::npos)
            _exit(15);
        if (open_fds() != before)
            _exit(16);
        int st;
        if (waitpid(-1, &st, WNOHANG) != -1 || errno != ECHILD)
            _exit(17);
        _exit(0);
    }
    int st = reap(child);
    ASSERT_TRUE(WIFEXITED(st)) << "status " << st;
    EXPECT_EQ(WEXITSTATUS(st), 0)
        << "10-11: setup failed, 14: wrong status, 15: message, 16: descriptors, 17: children";
}
