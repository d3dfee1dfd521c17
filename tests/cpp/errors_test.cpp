// Error modes with exceptions of user types: raise (pm::worker_error with
// the index, message and dynamic type), return_ (pm::result in place),
// inline_ (the exception itself), worker deaths, and exceptions from the
// input range and the progress callback.
#include "cpp_test_util.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace app {

struct parse_error : std::runtime_error {
    explicit parse_error(int l) : std::runtime_error("bad line " + std::to_string(l)), line(l) {}
    int line;
};

template <int Code>
struct coded_error : parse_error {
    explicit coded_error(int l) : parse_error(l) {}
};

struct not_a_std_exception {
    int code;
};

// Throws a parse_error, but through a function whose static type says
// std::exception: the reported type must be the dynamic one.
[[noreturn]] inline void fail_as(int line) {
    if (line % 2) throw coded_error<7>(line);
    throw parse_error(line);
}

}  // namespace app

namespace {

using pmcpp::iota;

class ErrorModes : public pmcpp::Processes {};
PMCPP_FOR_PROCESSES(ErrorModes);

TEST_P(ErrorModes, RaiseStopsAtTheFirstFailureWithIndexTypeAndMessage) {
    const auto fds = pmtest::open_fds();
    std::vector<int> got;
    try {
        for (int r : pm::map(
                 [](int x) {
                     if (x == 13 || x == 30) app::fail_as(x);
                     return x * 2;
                 },
                 iota(40), opts().errors(pm::errors::raise).chunksize(1)))
            got.push_back(r);
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.kind(), pm::failure::exception);
        EXPECT_EQ(e.index(), 13u);
        EXPECT_EQ(e.type_name(), "app::coded_error<7>");
        EXPECT_EQ(e.message(), "bad line 13");
        EXPECT_EQ(e.status(), PM_EITEM);
        EXPECT_STREQ(e.what(), "item 13: app::coded_error<7>: bad line 13");
    }
    std::vector<int> expected;
    for (int x = 0; x < 13; ++x) expected.push_back(x * 2);
    EXPECT_EQ(got, expected);
    // Everything was stopped and reaped before the exception was thrown.
    EXPECT_TRUE(pmtest::no_children());
    EXPECT_EQ(fds, pmtest::open_fds()) << pmtest::fd_diff(fds, pmtest::open_fds());
}

TEST_P(ErrorModes, RaiseIsCatchableAsRuntimeErrorAndNamesAnyThrownType) {
    auto raising = opts().errors(pm::errors::raise);
    EXPECT_THROW(pm::to_vector(pm::map([](int) -> int { throw app::parse_error(1); }, iota(3),
                                       raising)),
                 std::runtime_error);
    try {
        pm::to_vector(pm::map([](int) -> int { throw app::not_a_std_exception{3}; }, iota(3),
                              raising));
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.type_name(), "app::not_a_std_exception");
        EXPECT_EQ(e.message(), "");
        EXPECT_EQ(e.index(), 0u);
    }
    try {
        pm::to_vector(pm::map([](int x) { return std::vector<int>(2).at(size_t(x)); }, iota(3),
                              raising));
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.type_name(), "std::out_of_range");
        EXPECT_EQ(e.index(), 2u);
    }
}

TEST_P(ErrorModes, ReturnModeYieldsEveryItemInItsPlace) {
    size_t n = 0;
    for (pm::result<std::string>& r :
         pm::map(
             [](int x) {
                 if (x % 7 == 3) app::fail_as(x);
                 return std::to_string(x);
             },
             iota(50), opts().errors(pm::errors::return_).chunksize(3))) {
        const int x = int(n);
        if (x % 7 == 3) {
            ASSERT_FALSE(r) << x;
            EXPECT_EQ(r.error().index(), n);
            EXPECT_EQ(r.error().kind(), pm::failure::exception);
            EXPECT_EQ(r.error().type_name(),
                      x % 2 ? "app::coded_error<7>" : "app::parse_error");
            EXPECT_EQ(r.error().message(), "bad line " + std::to_string(x));
            EXPECT_EQ(r.value_or("none"), "none");
        } else {
            ASSERT_TRUE(r) << r.error().what();
            EXPECT_EQ(*r, std::to_string(x));
            EXPECT_EQ(r.value(), std::to_string(x));
        }
        ++n;
    }
    EXPECT_EQ(n, 50u);
}

TEST_P(ErrorModes, ReturnModeUnorderedWithIndex) {
    std::vector<int> seen(30);
    for (auto& r : pm::map(
             [](int x) {
                 if (x % 5 == 0) throw app::parse_error(x);
                 return x;
             },
             iota(30), pm::with_index, opts().errors(pm::errors::return_).ordered(false))) {
        ASSERT_LT(r.index, seen.size());
        seen[r.index]++;
        if (r.index % 5 == 0)
            EXPECT_EQ(r.value.error().index(), r.index);
        else
            EXPECT_EQ(r.value.value(), int(r.index));
    }
    for (int s : seen) EXPECT_EQ(s, 1);
}

// Inline mode runs in this process: the exception object that the function
// throws is the one the caller catches.
const app::parse_error* g_thrown = nullptr;

TEST_P(ErrorModes, InlinePropagatesTheSameExceptionObject) {
    for (uint32_t threads : {1u, 3u}) {
        g_thrown = nullptr;
        std::vector<int> got;
        try {
            for (int r : pm::map(
                     [](int x) {
                         if (x == 21) {
                             try {
                                 throw app::parse_error(x);
                             } catch (const app::parse_error& e) {
                                 g_thrown = &e;
                                 throw;
                             }
                         }
                         return x;
                     },
                     iota(40), opts().threads(threads).errors(pm::errors::inline_)))
                got.push_back(r);
            FAIL() << "no exception";
        } catch (const app::parse_error& e) {
            EXPECT_EQ(&e, g_thrown) << "a copy, not the thrown object";
            EXPECT_EQ(e.line, 21);
        }
        EXPECT_EQ(got, iota(21)) << threads << " threads";
        EXPECT_TRUE(pmtest::no_children());
    }
}

// The default mode does not depend on the process count: a program whose
// count comes from its command line catches the same exception with any.
TEST_P(ErrorModes, DefaultThrowsWorkerErrorForEveryProcessCount) {
    for (uint32_t threads : {1u, 2u}) {
        std::vector<int> got;
        try {
            for (int r : pm::map(
                     [](int x) {
                         if (x == 13) app::fail_as(x);
                         return x;
                     },
                     iota(20), opts().threads(threads).chunksize(1)))
                got.push_back(r);
            ADD_FAILURE() << "no exception";
        } catch (const pm::worker_error& e) {
            EXPECT_EQ(e.kind(), pm::failure::exception);
            EXPECT_EQ(e.index(), 13u);
            EXPECT_EQ(e.type_name(), "app::coded_error<7>");
            EXPECT_EQ(e.message(), "bad line 13");
            EXPECT_STREQ(e.what(), "item 13: app::coded_error<7>: bad line 13");
        } catch (...) {
            ADD_FAILURE() << "not a pm::worker_error, with " << threads << " threads";
        }
        EXPECT_EQ(got, iota(13));
    }
    {  // A pool's default too.
        auto pool = pm::make_pool<int>(
            [](int x) {
                if (x == 3) throw app::parse_error(x);
                return x;
            },
            opts());
        EXPECT_THROW(pm::to_vector(pool.map(iota(5))), pm::worker_error);
    }
    EXPECT_TRUE(pmtest::no_children());
}

// The original exception object: reachable from the worker_error when the
// item ran in this process (one process), absent when it ran in a worker.
TEST_P(ErrorModes, WorkerErrorKeepsTheOriginalExceptionWhenInProcess) {
    auto throwing = [](int x) {
        if (x == 4) {
            try {
                throw app::parse_error(x);
            } catch (const app::parse_error& e) {
                g_thrown = &e;
                throw;
            }
        }
        return x;
    };
    auto check = [&](const pm::worker_error& e) {
        EXPECT_EQ(e.index(), 4u);
        EXPECT_EQ(e.type_name(), "app::parse_error");
        if (processes() == 1) {
            ASSERT_TRUE(e.original());
            try {
                e.rethrow_original();
                ADD_FAILURE() << "rethrow_original() returned";
            } catch (const app::parse_error& original) {
                EXPECT_EQ(&original, g_thrown) << "a copy, not the thrown object";
                EXPECT_EQ(original.line, 4);
            }
        } else {
            EXPECT_FALSE(e.original());
            e.rethrow_original();  // nothing to rethrow: returns
        }
    };
    for (uint32_t threads : {1u, 3u}) {
        g_thrown = nullptr;
        try {
            pm::to_vector(pm::map(throwing, iota(10), opts().threads(threads)));
            ADD_FAILURE() << "no exception";
        } catch (const pm::worker_error& e) {
            check(e);
        }
        g_thrown = nullptr;
        auto results = pm::to_vector(
            pm::map(throwing, iota(10), opts().threads(threads).errors(pm::errors::return_)));
        ASSERT_EQ(results.size(), 10u);
        ASSERT_FALSE(results[4]);
        check(results[4].error());
        try {
            results[4].value();
            ADD_FAILURE() << "no exception";
        } catch (const pm::worker_error& e) {
            check(e);  // a copy of the error shares the original
        }
    }
    EXPECT_TRUE(pmtest::no_children());
}

// A --keep-going switch: the mode chosen at run time, in one options type,
// with a loop that yields pm::result<T> whichever it is.
pm::runtime_options options_from_flags(const pm::options& base, bool keep_going) {
    pm::runtime_options opts;  // raise
    opts = base.errors(pm::errors::runtime(pm::errors::mode::raise));
    if (keep_going) opts = opts.errors(pm::errors::runtime(pm::errors::mode::return_));
    return opts;
}

TEST_P(ErrorModes, RunTimeModeChosenByAFlag) {
    auto f = [](int x) {
        if (x == 3 || x == 7) throw app::parse_error(x);
        return x * 2;
    };
    for (bool keep_going : {false, true}) {
        SCOPED_TRACE(keep_going ? "--keep-going" : "raise");
        std::vector<int> ok;
        std::vector<uint64_t> failed;
        bool thrown = false;
        try {
            for (pm::result<int>& r :
                 pm::map(f, iota(10), options_from_flags(opts().chunksize(1), keep_going))) {
                if (r)
                    ok.push_back(*r);
                else
                    failed.push_back(r.error().index());
            }
        } catch (const pm::worker_error& e) {
            thrown = true;
            EXPECT_EQ(e.index(), 3u);
            EXPECT_EQ(e.type_name(), "app::parse_error");
        }
        EXPECT_EQ(thrown, !keep_going);
        if (keep_going) {
            EXPECT_EQ(ok, (std::vector<int>{0, 2, 4, 8, 10, 12, 16, 18}));
            EXPECT_EQ(failed, (std::vector<uint64_t>{3, 7}));
        } else {
            EXPECT_EQ(ok, (std::vector<int>{0, 2, 4}));
            EXPECT_TRUE(failed.empty());
        }
    }
    // inline_ chosen at run time: the function's own exception.
    EXPECT_THROW(pm::to_vector(pm::map(f, iota(10), opts().errors(pm::errors::runtime(
                                                        pm::errors::mode::inline_)))),
                 app::parse_error);
    // On a pool, per map.
    {
        auto pool = pm::make_pool<int>(f, opts());
        EXPECT_THROW(pm::to_vector(pool.map(iota(10), options_from_flags(opts(), false))),
                     pm::worker_error);
        const auto all = pm::to_vector(pool.map(iota(10), options_from_flags(opts(), true)));
        ASSERT_EQ(all.size(), 10u);
        EXPECT_FALSE(all[7]);
        EXPECT_EQ(all[8].value(), 16);
    }
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(ErrorModes, InputRangeExceptionPropagatesUnchangedInEveryMode) {
    auto make_gen = [] {
        return pm::generate([n = 0]() mutable -> std::optional<std::string> {
            if (n == 6) throw app::parse_error(n);
            return std::to_string(n++);
        });
    };
    auto echo = [](const std::string& s) { return s; };
    auto expect_six_then_throw = [&](auto&& map) {
        int n = 0;
        try {
            for (auto& r : map) {
                (void)r;
                ++n;
            }
            ADD_FAILURE() << "no exception";
        } catch (const app::parse_error& e) {
            EXPECT_EQ(e.line, 6);
        }
        EXPECT_EQ(n, 6);
    };
    auto g1 = make_gen();
    expect_six_then_throw(pm::map(echo, g1, opts().errors(pm::errors::raise)));
    auto g2 = make_gen();
    expect_six_then_throw(pm::map(echo, g2, opts().errors(pm::errors::return_)));
    auto g3 = make_gen();
    expect_six_then_throw(pm::map(echo, g3, opts().errors(pm::errors::inline_)));
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(ErrorModes, ProgressCallbackExceptionStopsTheMap) {
    int yielded = 0;
    try {
        for (int r : pm::map([](int x) { return x; }, iota(100),
                             opts().on_progress([](uint64_t done, uint64_t) {
                                 if (done == 4) throw app::parse_error(int(done));
                             }))) {
            (void)r;
            ++yielded;
        }
        FAIL() << "no exception";
    } catch (const app::parse_error& e) {
        EXPECT_EQ(e.line, 4);
    }
    EXPECT_EQ(yielded, 3);
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(ErrorModes, KwstarMergeExceptionFailsTheItem) {
    struct knobs {
        int k = 0;
    };
    auto merge = [](knobs& k, int o) {
        if (o < 0) throw std::invalid_argument("negative override");
        k.k = o;
    };
    std::vector<std::pair<int, int>> items{{1, 2}, {1, -1}, {1, 3}};
    size_t n = 0;
    for (auto& r : pm::map([](int v, const knobs& k) { return v + k.k; }, items,
                           pm::kwargs(knobs{}), pm::kwstar(merge),
                           opts().errors(pm::errors::return_))) {
        if (n == 1) {
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error().type_name(), "std::invalid_argument");
        } else {
            EXPECT_EQ(r.value(), n == 0 ? 3 : 4);
        }
        ++n;
    }
    EXPECT_EQ(n, 3u);
}

// Worker deaths need worker processes: 2 and 4.
class WorkerDeath : public pmcpp::Processes {};
INSTANTIATE_TEST_SUITE_P(All, WorkerDeath, ::testing::Values(2u, 4u), pmcpp::processes_name);

int die_on_5(int x) {
    if (x == 5) kill(getpid(), SIGKILL);
    return x * 3;
}

TEST_P(WorkerDeath, RaiseModeThrowsWorkerDied) {
    std::vector<int> got;
    try {
        for (int r : pm::map(die_on_5, iota(20), opts().chunksize(1))) got.push_back(r);
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.kind(), pm::failure::worker_died);
        EXPECT_EQ(e.status(), PM_EWORKER);
        EXPECT_EQ(e.index(), 5u);
        EXPECT_TRUE(e.type_name().empty());
        EXPECT_NE(e.message().find("SIGKILL"), std::string::npos) << e.message();
    }
    EXPECT_EQ(got, (std::vector<int>{0, 3, 6, 9, 12}));
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(WorkerDeath, ReturnModeReportsTheLostItemsAndGoesOn) {
    size_t n = 0;
    bool five_failed = false;
    for (auto& r :
         pm::map(die_on_5, iota(20), opts().chunksize(1).errors(pm::errors::return_))) {
        if (r) {
            EXPECT_EQ(*r, int(n) * 3);
        } else {
            EXPECT_EQ(r.error().kind(), pm::failure::worker_died);
            EXPECT_EQ(r.error().index(), n);
            five_failed |= n == 5;
        }
        ++n;
    }
    EXPECT_EQ(n, 20u);
    EXPECT_TRUE(five_failed);
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(WorkerDeath, RetriedItemSurvivesOneCrash) {
    // The first worker to run item 5 dies; the retry runs on a replacement,
    // which sees the marker file and lives.
    char path[] = "/tmp/pm-cpp-retry-XXXXXX";
    const int fd = mkstemp(path);
    ASSERT_GE(fd, 0);
    close(fd);
    unlink(path);
    const std::string marker = path;
    auto f = [&marker](int x) {
        if (x == 5 && access(marker.c_str(), F_OK) != 0) {
            const int m = open(marker.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
            if (m >= 0) close(m);
            kill(getpid(), SIGKILL);
        }
        return x * 3;
    };
    std::vector<int> expected;
    for (int x : iota(12)) expected.push_back(x * 3);
    EXPECT_EQ(pm::to_vector(pm::map(f, iota(12), opts().chunksize(1).retries(1))), expected);
    unlink(path);
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(WorkerDeath, ItemPastTheTimeoutFailsAsTimedOut) {
    auto f = [](int x) {
        if (x == 3) sleep(30);  // killed long before
        return x;
    };
    auto timed = opts().chunksize(1).item_timeout(std::chrono::milliseconds(300));
    size_t n = 0;
    for (auto& r : pm::map(f, iota(8), timed.errors(pm::errors::return_))) {
        if (n == 3) {
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error().kind(), pm::failure::timed_out);
            EXPECT_EQ(r.error().status(), PM_ETIMEOUT);
        } else {
            EXPECT_EQ(r.value(), int(n));
        }
        ++n;
    }
    EXPECT_EQ(n, 8u);
    try {
        pm::to_vector(pm::map(f, iota(8), timed));
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.kind(), pm::failure::timed_out);
        EXPECT_EQ(e.index(), 3u);
    }
    EXPECT_TRUE(pmtest::no_children());
}

// Recycling: each result says which process ran it.
TEST_P(WorkerDeath, WorkersAreRecycledAfterMaxItems) {
    auto pid_of = [](int x) { return std::pair<int, int>(x, int(getpid())); };
    const auto results =
        pm::to_vector(pm::map(pid_of, iota(60), opts().chunksize(1).max_items_per_worker(5)));
    ASSERT_EQ(results.size(), 60u);
    std::map<int, int> items_per_pid;
    for (size_t i = 0; i < results.size(); ++i) {
        EXPECT_EQ(results[i].first, int(i));  // in order, none lost or repeated
        ++items_per_pid[results[i].second];
    }
    // A worker stops at a chunk boundary once past 5: at most its credit
    // (two chunks of one item) more.
    for (const auto& [pid, n] : items_per_pid) EXPECT_LE(n, 7) << "pid " << pid;
    EXPECT_GE(items_per_pid.size(), 60u / 7);
    EXPECT_TRUE(pmtest::no_children());
}

// Where a worker keeps what it leaks (a global, so that the compiler cannot
// drop the allocation).
std::vector<char*> g_leaked;

TEST_P(WorkerDeath, WorkersAreRecycledWhenTheirMemoryGrows) {
    auto leaky = [](int x) {
        // 8 MiB a call, touched so that it is resident, never freed.
        char* leak = static_cast<char*>(std::malloc(size_t(8) << 20));
        if (leak) std::memset(leak, 1, size_t(8) << 20);
        g_leaked.push_back(leak);
        return std::pair<int, int>(x, int(getpid()));
    };
    const auto results = pm::to_vector(
        pm::map(leaky, iota(60), opts().chunksize(1).max_worker_rss(uint64_t(48) << 20)));
    ASSERT_EQ(results.size(), 60u);
    std::set<int> pids;
    for (size_t i = 0; i < results.size(); ++i) {
        EXPECT_EQ(results[i].first, int(i));
        pids.insert(results[i].second);
    }
    // 480 MiB leaked in all: no worker can have run every item it was given
    // while staying under 48 MiB.
    EXPECT_GT(pids.size(), size_t(GetParam()));
    EXPECT_TRUE(pmtest::no_children());
}

// Worker hooks: counters in a MAP_SHARED page mapped before the fork, so the
// test sees what every worker did.
struct HookCounts {
    std::atomic<int> started[8];
    std::atomic<int> exited[8];
};
HookCounts* shared_counts() {
    void* p = mmap(nullptr, sizeof(HookCounts), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : new (p) HookCounts();
}
int g_hooked_worker = -1;  // set by the start hook, in each worker process

TEST_P(WorkerDeath, HooksRunOncePerWorkerAndTheWorkSeesWhatTheyDid) {
    HookCounts* counts = shared_counts();
    ASSERT_NE(counts, nullptr);
    auto hooked = opts()
                      .chunksize(1)
                      .on_worker_start([counts](uint32_t id) {
                          g_hooked_worker = int(id);
                          counts->started[id % 8]++;
                      })
                      .on_worker_exit([counts](uint32_t id) { counts->exited[id % 8]++; });
    auto which = [](int x) { return std::pair<int, int>(x, g_hooked_worker); };
    const auto results = pm::to_vector(pm::map(which, iota(40), hooked));
    ASSERT_EQ(results.size(), 40u);
    for (size_t i = 0; i < results.size(); ++i) {
        EXPECT_EQ(results[i].first, int(i));
        EXPECT_GE(results[i].second, 0) << "item " << i << " ran before the start hook";
        EXPECT_LT(results[i].second, int(GetParam()));
    }
    for (uint32_t id = 0; id < GetParam(); ++id) {
        EXPECT_EQ(counts->started[id].load(), 1) << "worker " << id;
        EXPECT_EQ(counts->exited[id].load(), 1) << "worker " << id;
    }
    munmap(counts, sizeof(HookCounts));
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(WorkerDeath, AThrowingStartHookFailsOnlyThatWorkersItems) {
    auto failing = opts().chunksize(1).on_worker_start([](uint32_t id) {
        if (id == 1) throw std::runtime_error("no connection for worker 1");
    });
    size_t n = 0, lost = 0;
    for (auto& r : pm::map([](int x) { return x + 1; }, iota(40),
                           failing.errors(pm::errors::return_))) {
        if (r) {
            EXPECT_EQ(r.value(), int(n) + 1);
        } else {
            EXPECT_EQ(r.error().kind(), pm::failure::worker_died) << r.error().what();
            ++lost;
        }
        ++n;
    }
    EXPECT_EQ(n, 40u);
    EXPECT_LT(lost, 40u);  // the other workers ran the rest
    EXPECT_TRUE(pmtest::no_children());
}

}  // namespace
