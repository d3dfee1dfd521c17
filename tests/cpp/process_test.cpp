// pm::process (the Python tool's ReturnProcess): results on join, several
// at once, the worker's error on join, and no child left behind, joined or
// not.
#include "cpp_test_util.hpp"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace app {
struct overheated : std::runtime_error {
    explicit overheated(int degrees)
        : std::runtime_error(std::to_string(degrees) + " degrees") {}
};
struct slow_kw {  // Python's kwargs={'kw': ...}
    int repeat = 1;
};
}  // namespace app

namespace {

std::string slow(const std::string& word, const app::slow_kw& kw) {
    std::string out;
    for (int i = 0; i < kw.repeat; ++i) out += word;
    return out;
}

struct counter {
    int base;
    int plus(int x) const { return base + x; }
};

TEST(Process, JoinReturnsTheValue) {
    auto p1 = pm::process(slow, std::string("ab"), app::slow_kw{3});
    auto p2 = pm::process([](int a, int b) { return std::vector<int>{a, b, a + b}; }, 2, 5);
    EXPECT_EQ(p1.join(), "ababab");
    EXPECT_EQ(p2.join(), (std::vector<int>{2, 5, 7}));
    EXPECT_EQ(p1.join(), "ababab");  // again: the same result
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Process, FunctionsOfEveryKind) {
    std::map<std::string, int> table;
    for (int i = 0; i < 50000; ++i) table["k" + std::to_string(i)] = i;
    // A lambda capturing a large local container by reference.
    auto lookup = pm::process([&] { return table.at("k4242") + int(table.size()); });
    counter c{100};
    auto member = pm::process(&counter::plus, &c, 5);
    auto object = pm::process(std::plus<long>(), 40L, 2L);
    EXPECT_EQ(lookup.join(), 4242 + 50000);
    EXPECT_EQ(member.join(), 105);
    EXPECT_EQ(object.join(), 42L);
}

TEST(Process, SeveralRunAtOnce) {
    // The first waits for a file that only the second creates: it can only
    // see it if both run at the same time.
    char dir_template[] = "/tmp/pm-cpp-process-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    const std::string marker = std::string(dir_template) + "/second-started";
    auto waiter = pm::process([&marker] {
        for (int i = 0; i < 2000; ++i) {
            if (access(marker.c_str(), F_OK) == 0) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    });
    auto creator = pm::process([&marker] {
        FILE* f = std::fopen(marker.c_str(), "w");
        if (f) std::fclose(f);
        return f != nullptr;
    });
    auto third = pm::process([] { return std::string("third"); });
    // Joined in another order than started.
    EXPECT_EQ(third.join(), "third");
    EXPECT_TRUE(creator.join());
    EXPECT_TRUE(waiter.join()) << "the two processes did not run at the same time";
    std::remove(marker.c_str());
    rmdir(dir_template);
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Process, JoinThrowsTheWorkersError) {
    auto p = pm::process([](int d) -> int { throw app::overheated(d); }, 90);
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            p.join();
            FAIL() << "no exception";
        } catch (const pm::worker_error& e) {
            EXPECT_EQ(e.kind(), pm::failure::exception);
            EXPECT_EQ(e.type_name(), "app::overheated");
            EXPECT_EQ(e.message(), "90 degrees");
            EXPECT_EQ(e.status(), PM_EITEM);
        }
    }
    auto dies = pm::process([] {
        kill(getpid(), SIGKILL);
        return 0;
    });
    try {
        dies.join();
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.kind(), pm::failure::worker_died);
        EXPECT_NE(e.message().find("SIGKILL"), std::string::npos) << e.message();
    }
    EXPECT_TRUE(pmtest::no_children());
}

// A process has no items: its errors say which process failed, not "item 0".
TEST(Process, ErrorMessagesNameTheProcessNotAnItem) {
    try {
        pm::process([](int d) -> int { throw app::overheated(d); }, 90).join();
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_STREQ(e.what(), "pm::process: app::overheated: 90 degrees");
    }
    try {
        pm::process([] {
            kill(getpid(), SIGKILL);
            return 0;
        }).join();
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.rfind("pm::process: process (pid ", 0), 0u) << what;
        EXPECT_NE(what.find("killed by signal 9 (SIGKILL)"), std::string::npos) << what;
        EXPECT_EQ(what.find("item"), std::string::npos) << what;
    }
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Process, DestroyingAnUnjoinedProcessKillsAndReapsIt) {
    const auto fds = pmtest::open_fds();
    {
        auto forever = pm::process([] {
            for (;;) pause();
            return 0;
        });
        auto other = pm::process([] { return 1; });
        EXPECT_EQ(other.join(), 1);
        // forever is destroyed unjoined here.
    }
    EXPECT_TRUE(pmtest::no_children());
    EXPECT_EQ(fds, pmtest::open_fds()) << pmtest::fd_diff(fds, pmtest::open_fds());
}

TEST(Process, MovedHandleOwnsTheProcess) {
    std::vector<pm::return_process<int>> ps;
    for (int i = 0; i < 4; ++i) ps.push_back(pm::process([i] { return i * i; }));
    int sum = 0;
    for (auto& p : ps) sum += p.join();
    EXPECT_EQ(sum, 0 + 1 + 4 + 9);
    EXPECT_EQ(pm::process(pm::options{}.daemon(false), [] { return 7; }).join(), 7);
    EXPECT_TRUE(pmtest::no_children());
}

}  // namespace
