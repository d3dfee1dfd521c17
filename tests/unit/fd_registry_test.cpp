// The list of the library's descriptors that forked processes close: what
// unique_fd adds and removes, and that closing the listed ones spares the
// rest (the user's descriptors) and the one kept.
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "fd_registry.hpp"
#include "unique_fd.hpp"

namespace pm::core {
namespace {

bool is_open(int fd) { return fcntl(fd, F_GETFD) != -1; }

int new_fd() {
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return -1;
    close(fds[1]);
    return fds[0];
}

TEST(FdRegistry, ClosesListedDescriptorsOnlyAndSparesTheKeptOne) {
    unique_fd listed(new_fd()), kept(new_fd());
    unique_fd moved_from(new_fd());
    unique_fd moved(std::move(moved_from));  // a move keeps it listed
    unique_fd released(new_fd());
    const int handed_out = released.release();  // given away: no longer listed
    const int users = new_fd();                 // never the library's
    close_library_fds(kept.get());
    EXPECT_FALSE(is_open(listed.get()));
    EXPECT_FALSE(is_open(moved.get()));
    EXPECT_TRUE(is_open(kept.get()));
    EXPECT_TRUE(is_open(users));
    EXPECT_TRUE(is_open(handed_out));
    listed.release();  // closed already (as in a forked child, never reused)
    moved.release();
    // Nothing is listed now but the kept one.
    close_library_fds(-1);
    EXPECT_FALSE(is_open(kept.release()));
    close(users);
    close(handed_out);
}

TEST(FdRegistry, ResetForgetsBeforeItCloses) {
    unique_fd a(new_fd());
    const int number = a.get();
    a.reset();
    // The number is free; the user's descriptor that reuses it is not listed.
    const int users = new_fd();
    ASSERT_EQ(users, number);
    close_library_fds(-1);
    EXPECT_TRUE(is_open(users));
    close(users);
}

TEST(FdRegistry, ReachesHighDescriptors) {
    struct rlimit lim;
    ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &lim), 0);
    const rlim_t want = 4200;
    if (lim.rlim_cur < want) {
        if (lim.rlim_max < want) GTEST_SKIP() << "RLIMIT_NOFILE hard limit below " << want;
        struct rlimit raised = {want, lim.rlim_max};
        ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &raised), 0);
    }
    const int low = new_fd();
    const int high = fcntl(low, F_DUPFD_CLOEXEC, 4100);  // the table's second block
    close(low);
    ASSERT_GE(high, 4100);
    unique_fd owned(high);
    close_library_fds(-1);
    EXPECT_FALSE(is_open(high));
    owned.release();  // closed already
    setrlimit(RLIMIT_NOFILE, &lim);
}

}  // namespace
}  // namespace pm::core
