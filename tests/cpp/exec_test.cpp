// Registered functions (pm::register_work, pm::work, pm::serve) in both
// start methods. Meson runs this program twice, with PARMAPPER_START=fork
// and PARMAPPER_START=exec, so the same tests (options with no start())
// cover fork and exec workers; the tests that set start() themselves run
// in that mode in both runs. It has its own main, which calls pm::serve()
// first: in exec mode the workers are fresh runs of this program.
#include "cpp_test_util.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace app {

struct parse_error : std::runtime_error {
    explicit parse_error(int l) : std::runtime_error("bad line " + std::to_string(l)) {}
};

struct point {
    int x = 0;
    std::string label;

    template <class Archive>
    void serialize(Archive& ar) {
        ar(x, label);
    }
    bool operator==(const point& o) const { return x == o.x && label == o.label; }
};

}  // namespace app

namespace {

// Set by main after pm::serve(): a forked worker sees 1, an exec worker
// (a fresh run, which never gets past pm::serve()) sees 0.
int g_after_serve = 0;

bool exec_env() {
    const char* s = std::getenv("PARMAPPER_START");
    return s && std::strcmp(s, "exec") == 0;
}

// The registrations: at namespace scope, so every run of the program makes
// them before main (and so before pm::serve()).
const auto square = pm::register_work("square", [](int x) { return x * x; });
const auto after_serve = pm::register_work("after_serve", [](int) { return g_after_serve; });
const auto worker_pid = pm::register_work("worker_pid", [](int) { return int(getpid()); });
const auto shout = pm::register_work("shout", [](const std::string& s) {
    std::string r = s;
    for (char& c : r) c = char(std::toupper(static_cast<unsigned char>(c)));
    return std::make_pair(r, app::point{int(s.size()), s + "!"});
});
const auto fail_13 = pm::register_work("fail_13", [](int x) {
    if (x == 13) throw app::parse_error(x);
    return x + 1;
});
const auto crash_5 = pm::register_work("crash_5", [](int x) {
    if (x == 5) raise(SIGSEGV);
    return x * 3;
});
const auto exit_7 = pm::register_work("exit_7", [](int x) {
    if (x == 7) std::exit(3);
    return x * 3;
});
int plus(int x, int y) { return x + y; }
const auto plus_10 = pm::register_work("plus_10", plus, pm::args(10));
const auto star_mul =
    pm::register_work<std::tuple<int, int>>("star_mul", [](int a, int b) { return a * b; },
                                            pm::star);

// Set by the registered worker hooks in each worker.
int g_worker_tag = -1;
bool register_hooks() {
    pm::register_worker_hooks("tag", [](uint32_t id) { g_worker_tag = 100 + int(id); });
    return true;
}
const bool g_hooks_registered = register_hooks();
const auto worker_tag = pm::register_work("worker_tag", [](int) { return g_worker_tag; });

pm::options two() { return pm::options{}.processes(2); }

TEST(Exec, TheStartMethodIsTheOneAsked) {
    // The environment chooses when start() is not called.
    for (int r : pm::map(after_serve, pmcpp::iota(4), two().chunksize(1)))
        EXPECT_EQ(r, exec_env() ? 0 : 1);
    for (int r : pm::map(after_serve, pmcpp::iota(4), two().start(pm::start::exec)))
        EXPECT_EQ(r, 0);
    for (int r : pm::map(after_serve, pmcpp::iota(4), two().start(pm::start::fork)))
        EXPECT_EQ(r, 1);
    // In-process maps start no worker, whatever the method.
    for (int r : pm::map(after_serve, pmcpp::iota(4),
                         pm::options{}.processes(1).start(pm::start::exec)))
        EXPECT_EQ(r, 1);
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Exec, ResultsInOrder) {
    std::vector<int> expected;
    for (int x = 0; x < 200; ++x) expected.push_back(x * x);
    EXPECT_EQ(pm::to_vector(pm::map(square, pmcpp::iota(200), two())), expected);
    EXPECT_EQ(pm::to_vector(pm::map(square, pmcpp::iota(200), two().chunksize(1))), expected);
    // By name, as another translation unit would.
    EXPECT_EQ(pm::to_vector(pm::map(pm::work<int, int>("square"), pmcpp::iota(200), two())),
              expected);
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Exec, ResultsAreSerializedAsInForkMode) {
    const std::vector<std::string> words{"fork", "exec", "", "parallel map"};
    auto got = pm::to_vector(pm::map(shout, words, two().chunksize(1)));
    ASSERT_EQ(got.size(), words.size());
    EXPECT_EQ(got[0].first, "FORK");
    EXPECT_EQ(got[3].first, "PARALLEL MAP");
    EXPECT_EQ(got[1].second, (app::point{4, "exec!"}));
    EXPECT_EQ(got[2].second, (app::point{0, "!"}));
}

TEST(Exec, Unordered) {
    std::vector<int> got = pm::to_vector(pm::map(square, pmcpp::iota(300),
                                                 two().ordered(false).chunksize(7)));
    std::sort(got.begin(), got.end());
    std::vector<int> expected;
    for (int x = 0; x < 300; ++x) expected.push_back(x * x);
    EXPECT_EQ(got, expected);
}

TEST(Exec, WithIndex) {
    uint64_t n = 0;
    for (auto& r : pm::map(square, pmcpp::iota(20), two(), pm::with_index)) {
        EXPECT_EQ(r.index, n);
        EXPECT_EQ(r.value, int(n * n));
        ++n;
    }
    EXPECT_EQ(n, 20u);
}

TEST(Exec, ArgumentModesAreFixedAtRegistration) {
    EXPECT_EQ(pm::to_vector(pm::map(plus_10, pmcpp::iota(5), two())),
              (std::vector<int>{10, 11, 12, 13, 14}));
    const std::vector<std::tuple<int, int>> pairs{{2, 3}, {4, 5}, {6, 7}};
    EXPECT_EQ(pm::to_vector(pm::map(star_mul, pairs, two())), (std::vector<int>{6, 20, 42}));
}

TEST(Exec, ThreadsInEachWorker) {
    std::vector<int> expected;
    for (int x = 0; x < 500; ++x) expected.push_back(x * x);
    EXPECT_EQ(pm::to_vector(pm::map(square, pmcpp::iota(500), two().threads(3).chunksize(5))),
              expected);
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Exec, AThrowingItemRaises) {
    std::vector<int> got;
    try {
        for (int r : pm::map(fail_13, pmcpp::iota(40), two().chunksize(1)))
            got.push_back(r);
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.kind(), pm::failure::exception);
        EXPECT_EQ(e.index(), 13u);
        EXPECT_EQ(e.type_name(), "app::parse_error");
        EXPECT_EQ(e.message(), "bad line 13");
        EXPECT_STREQ(e.what(), "item 13: app::parse_error: bad line 13");
    }
    EXPECT_EQ(got, pmcpp::iota(13, 1));
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Exec, AThrowingItemReturnsInPlace) {
    size_t n = 0;
    for (auto& r :
         pm::map(fail_13, pmcpp::iota(30), two().errors(pm::errors::return_).chunksize(2))) {
        if (n == 13) {
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error().kind(), pm::failure::exception);
            EXPECT_EQ(r.error().type_name(), "app::parse_error");
            EXPECT_EQ(r.error().message(), "bad line 13");
        } else {
            ASSERT_TRUE(r) << r.error().what();
            EXPECT_EQ(*r, int(n) + 1);
        }
        ++n;
    }
    EXPECT_EQ(n, 30u);
}

TEST(Exec, InlineRethrowsTheExceptionItself) {
    // In-process: the registered callable runs here, as a plain one would.
    EXPECT_THROW(pm::to_vector(pm::map(fail_13, pmcpp::iota(20),
                                       two().errors(pm::errors::inline_))),
                 app::parse_error);
    try {
        pm::to_vector(pm::map(fail_13, pmcpp::iota(20), pm::options{}.processes(1)));
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.index(), 13u);
        EXPECT_TRUE(e.original());
    }
}

TEST(Exec, ACrashingWorkerIsReported) {
    std::vector<int> got;
    try {
        for (int r : pm::map(crash_5, pmcpp::iota(20), two().chunksize(1))) got.push_back(r);
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.kind(), pm::failure::worker_died);
        EXPECT_EQ(e.status(), PM_EWORKER);
        EXPECT_EQ(e.index(), 5u);
        EXPECT_NE(e.message().find("SIGSEGV"), std::string::npos) << e.message();
    }
    EXPECT_EQ(got, (std::vector<int>{0, 3, 6, 9, 12}));
    EXPECT_TRUE(pmtest::no_children());

    size_t n = 0;
    for (auto& r : pm::map(crash_5, pmcpp::iota(20),
                           two().chunksize(1).errors(pm::errors::return_))) {
        if (n == 5) {
            ASSERT_FALSE(r);
            EXPECT_EQ(r.error().kind(), pm::failure::worker_died);
        } else {
            ASSERT_TRUE(r) << r.error().what();
            EXPECT_EQ(*r, int(n) * 3);
        }
        ++n;
    }
    EXPECT_EQ(n, 20u);
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Exec, AWorkerThatExitsIsReported) {
    try {
        pm::to_vector(pm::map(exit_7, pmcpp::iota(20), two().chunksize(1)));
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.kind(), pm::failure::worker_died);
        EXPECT_EQ(e.index(), 7u);
        EXPECT_NE(e.message().find("3"), std::string::npos) << e.message();
    }
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Exec, APoolRunsSeveralMaps) {
    std::vector<int> workers;
    {
        auto pool = pm::make_pool(worker_pid, two());
        EXPECT_EQ(pool.processes(), 2u);
        workers = pm::to_vector(pool.map(pmcpp::iota(50), pm::options{}.chunksize(1)));
        auto again = pm::to_vector(pool.map(pmcpp::iota(50)));
        // The same workers ran both maps.
        std::sort(workers.begin(), workers.end());
        workers.erase(std::unique(workers.begin(), workers.end()), workers.end());
        for (int pid : again)
            EXPECT_TRUE(std::binary_search(workers.begin(), workers.end(), pid)) << pid;
        EXPECT_LE(workers.size(), 2u);

        auto squares = pm::make_pool(square, two().start(pm::start::exec));
        std::vector<int> expected;
        for (int x = 0; x < 100; ++x) expected.push_back(x * x);
        EXPECT_EQ(pm::to_vector(squares.map(pmcpp::iota(100))), expected);
        EXPECT_EQ(pm::to_vector(squares.map(pmcpp::iota(100), pm::options{}.ordered(false)))
                      .size(),
                  100u);
    }
    EXPECT_TRUE(pmtest::no_children());
}

TEST(Exec, APoolMapsFailuresAsInForkMode) {
    auto pool = pm::make_pool(fail_13, two());
    size_t failed = 0;
    for (auto& r : pool.map(pmcpp::iota(20), pm::options{}.errors(pm::errors::return_)))
        failed += !r;
    EXPECT_EQ(failed, 1u);
    EXPECT_THROW(pm::to_vector(pool.map(pmcpp::iota(20))), pm::worker_error);
}

TEST(Exec, RegisteredWorkerHooksRunInEachWorker) {
    ASSERT_TRUE(g_hooks_registered);
    for (int tag : pm::map(worker_tag, pmcpp::iota(40), two().chunksize(1).worker_hooks("tag")))
        EXPECT_TRUE(tag == 100 || tag == 101) << tag;
    auto pool = pm::make_pool(worker_tag, two().worker_hooks("tag"));
    for (int tag : pool.map(pmcpp::iota(10)))
        EXPECT_TRUE(tag == 100 || tag == 101) << tag;
    // Not both kinds at once.
    EXPECT_THROW(pm::map(worker_tag, pmcpp::iota(4),
                         two().worker_hooks("tag").on_worker_start([](uint32_t) {})),
                 pm::error);
}

TEST(Exec, AnUnregisteredCallableIsRefusedAtCreation) {
    auto exec = two().start(pm::start::exec);
    try {
        pm::map([](int x) { return x + 1; }, pmcpp::iota(10), exec);
        FAIL() << "no exception";
    } catch (const pm::error& e) {
        EXPECT_EQ(e.status(), PM_EINVAL);
        EXPECT_NE(std::string(e.what()).find("pm::register_work"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(pm::make_pool<int>([](int x) { return x; }, exec), pm::error);
    // std::function hooks cannot reach an exec worker either.
    EXPECT_THROW(pm::map(square, pmcpp::iota(4), two().start(pm::start::exec).on_worker_start(
                                                     [](uint32_t) {})),
                 pm::error);
    EXPECT_TRUE(pmtest::no_children());
    // What the environment chooses counts too; fork and in-process take it.
    if (exec_env())
        EXPECT_THROW(pm::map([](int x) { return x; }, pmcpp::iota(4), two()), pm::error);
    else
        EXPECT_EQ(pm::to_vector(pm::map([](int x) { return x; }, pmcpp::iota(4), two())).size(),
                  4u);
    EXPECT_EQ(pm::to_vector(pm::map([](int x) { return x; }, pmcpp::iota(4),
                                    pm::options{}.processes(1).start(pm::start::exec)))
                  .size(),
              4u);
}

TEST(Exec, AWorkHandleMustMatchItsRegistration) {
    try {
        pm::map(pm::work<int, int>("no such work"), pmcpp::iota(3), two());
        FAIL() << "no exception";
    } catch (const pm::error& e) {
        EXPECT_EQ(e.status(), PM_EINVAL);
        EXPECT_NE(std::string(e.what()).find("no such work"), std::string::npos);
    }
    try {
        pm::map(pm::work<int, double>("square"), pmcpp::iota(3), two());
        FAIL() << "no exception";
    } catch (const pm::error& e) {
        EXPECT_NE(std::string(e.what()).find("result type int"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(pm::register_work("bad name", [](int x) { return x; }), pm::error);
    EXPECT_TRUE(pmtest::no_children());
}

}  // namespace

int main(int argc, char** argv) {
    pm::serve(argc, argv);  // an exec-mode worker serves here and never returns
    g_after_serve = 1;
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
