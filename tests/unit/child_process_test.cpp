// child_process::reap_until: it reaps a child that exits before the deadline
// (through a pidfd where pidfds work, by polling otherwise), reports one that
// does not, and leaves it to the destructor, which kills and reaps it.
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "sys_io.hpp"

namespace pm::core {
namespace {

pid_t fork_child_that_sleeps_ms(long ms, int code) {
    pid_t pid = ::fork();
    if (pid == 0) {
        struct timespec ts = {ms / 1000, (ms % 1000) * 1'000'000};
        ::nanosleep(&ts, nullptr);
        ::_exit(code);
    }
    return pid;
}

bool no_child_left() {
    return ::waitpid(-1, nullptr, WNOHANG) < 0 && errno == ECHILD;
}

TEST(ChildProcess, ReapUntilReapsAChildThatExitsInTime) {
    // Long enough that the check just after the fork sees it asleep even
    // on a loaded machine, short enough for a unit test.
    child_process c(fork_child_that_sleeps_ms(300, 7));
    ASSERT_TRUE(c.running());
    EXPECT_FALSE(c.try_reap());  // still asleep: the wait below has to wait
    EXPECT_TRUE(c.reap_until(monotonic_ns() + 10'000'000'000ull));
    EXPECT_FALSE(c.running());
    ASSERT_TRUE(WIFEXITED(c.wait_status()));
    EXPECT_EQ(WEXITSTATUS(c.wait_status()), 7);
    EXPECT_TRUE(no_child_left());
}

TEST(ChildProcess, ReapUntilReportsAChildStillRunningAtTheDeadline) {
    {
        child_process c(fork_child_that_sleeps_ms(60'000, 0));
        ASSERT_TRUE(c.running());
        EXPECT_FALSE(c.reap_until(monotonic_ns() + 30'000'000ull));
        EXPECT_TRUE(c.running());
    }  // the destructor kills and reaps it
    EXPECT_TRUE(no_child_left());
}

TEST(ChildProcess, ReapUntilOnAChildAlreadyGone) {
    child_process c(fork_child_that_sleeps_ms(0, 3));
    EXPECT_TRUE(c.reap_until(monotonic_ns() + 10'000'000'000ull));
    EXPECT_TRUE(c.reap_until(monotonic_ns()));  // reaped: true at once
    ASSERT_TRUE(WIFEXITED(c.wait_status()));
    EXPECT_EQ(WEXITSTATUS(c.wait_status()), 3);
}

}  // namespace
}  // namespace pm::core
