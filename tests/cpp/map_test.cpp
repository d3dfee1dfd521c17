// pm::map: callables, item ranges (array path, pulled ranges, generators),
// options, order, and the results' values, for 1, 2 and 4 processes.
#include "cpp_test_util.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <list>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace {

using pmcpp::iota;

class Map : public pmcpp::Processes {};
PMCPP_FOR_PROCESSES(Map);

TEST_P(Map, SquaresAVectorInInputOrder) {
    const std::vector<int> items = iota(1000);
    std::vector<long> got;
    for (long r : pm::map([](int x) { return long{x} * x; }, items, opts())) got.push_back(r);
    ASSERT_EQ(got.size(), items.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], long(i) * long(i)) << i;
}

// The reason the function is inherited instead of serialized: a lambda that
// captures big local containers by reference runs as it is.
TEST_P(Map, LambdaCapturingLargeContainersByReference) {
    std::vector<double> weights(2'000'000);
    for (size_t i = 0; i < weights.size(); ++i) weights[i] = double(i % 1000) / 8;
    std::map<int, std::string> names;
    for (int i = 0; i < 100'000; ++i) names[i] = "name-" + std::to_string(i);

    auto f = [&](int k) {
        double sum = 0;
        for (size_t i = size_t(k); i < weights.size(); i += 100'000) sum += weights[i];
        return names.at(k * 7) + "=" + std::to_string(sum);
    };
    const std::vector<int> items = iota(200, 1000);
    std::vector<std::string> expected;
    for (int k : items) expected.push_back(f(k));
    EXPECT_EQ(pm::to_vector(pm::map(f, items, opts())), expected);
}

struct affine {
    int a, b;
    int operator()(int x) const { return a * x + b; }
};

struct scaler {
    int k;
    int scale(int x) const { return k * x; }
    std::string label(int x, const std::string& unit) { return std::to_string(k * x) + unit; }
};

TEST_P(Map, FunctionObjectsAndMemberFunctions) {
    const std::vector<int> items = iota(50);
    std::vector<int> expected;
    for (int x : items) expected.push_back(3 * x + 4);
    EXPECT_EQ(pm::to_vector(pm::map(affine{3, 4}, items, opts())), expected);

    scaler s{5};
    std::vector<int> scaled;
    for (int x : items) scaled.push_back(5 * x);
    EXPECT_EQ(pm::to_vector(pm::map(&scaler::scale, s, items, opts())), scaled);
    EXPECT_EQ(pm::to_vector(pm::map(&scaler::scale, &s, items, opts())), scaled);
    const std::vector<std::string> labels =
        pm::to_vector(pm::map(&scaler::label, s, iota(3), pm::args(std::string("kg")), opts()));
    EXPECT_EQ(labels, (std::vector<std::string>{"0kg", "5kg", "10kg"}));

    // A plain function, by pointer.
    int (*negate)(int) = [](int x) { return -x; };
    EXPECT_EQ(pm::to_vector(pm::map(negate, iota(3), opts())), (std::vector<int>{0, -1, -2}));
}

TEST_P(Map, RangesOfEveryShape) {
    auto twice = [](const auto& x) { return x + x; };
    // In place (contiguous, trivially copyable): lvalue and moved-in rvalue.
    EXPECT_EQ(pm::to_vector(pm::map(twice, std::vector<int>{1, 2, 3}, opts())),
              (std::vector<int>{2, 4, 6}));
    const int array[] = {5, 6};
    EXPECT_EQ(pm::to_vector(pm::map(twice, array, opts())), (std::vector<int>{10, 12}));
    // Pulled: node-based and segmented containers, serialized items.
    EXPECT_EQ(pm::to_vector(pm::map(twice, std::list<int>{7, 8, 9}, opts())),
              (std::vector<int>{14, 16, 18}));
    std::deque<double> dq{0.5, 1.5};
    EXPECT_EQ(pm::to_vector(pm::map(twice, dq, opts())), (std::vector<double>{1.0, 3.0}));
    std::set<std::string> words{"b", "a", "c"};
    EXPECT_EQ(pm::to_vector(pm::map(twice, words, opts())),
              (std::vector<std::string>{"aa", "bb", "cc"}));
    std::map<std::string, int> counts{{"x", 1}, {"y", 2}};
    EXPECT_EQ(pm::to_vector(pm::map(
                  [](const std::pair<std::string, int>& kv) { return kv.first + std::to_string(kv.second); },
                  counts, opts())),
              (std::vector<std::string>{"x1", "y2"}));
    // An iterator pair.
    const std::vector<int> v = iota(10);
    EXPECT_EQ(pm::to_vector(pm::map(twice, pm::subrange(v.begin() + 2, v.begin() + 5), opts())),
              (std::vector<int>{4, 6, 8}));
    // Nothing at all.
    EXPECT_TRUE(pm::to_vector(pm::map(twice, std::vector<int>{}, opts())).empty());
    EXPECT_TRUE(pm::to_vector(pm::map(twice, std::list<std::string>{}, opts())).empty());
}

TEST_P(Map, FunctionMayTakeItsItemByReferenceAndChangeIt) {
    const std::vector<std::string> words{"a", "bb", "ccc"};
    auto shout = [](std::string& w) {
        w += "!";
        return w;
    };
    EXPECT_EQ(pm::to_vector(pm::map(shout, words, opts())),
              (std::vector<std::string>{"a!", "bb!", "ccc!"}));
    EXPECT_EQ(words[0], "a");  // the caller's items are never changed
}

struct point {  // trivially copyable, no serialize(): travels as its bytes
    int x;
    double y;
};

TEST_P(Map, TriviallyCopyableStructItemsNeedNoSerializer) {
    std::vector<point> pts;
    for (int i = 0; i < 100; ++i) pts.push_back({i, i * 0.25});
    auto norm = [](const point& p) { return p.x + p.y; };
    std::vector<double> expected;
    for (const point& p : pts) expected.push_back(norm(p));
    EXPECT_EQ(pm::to_vector(pm::map(norm, pts, opts())), expected);  // in place
    std::list<point> listed(pts.begin(), pts.end());
    EXPECT_EQ(pm::to_vector(pm::map(norm, listed, opts())), expected);  // pulled
}

TEST_P(Map, LazyGeneratorIsReadAsTheResultsAreTaken) {
    constexpr int n = 2000;
    constexpr size_t bound = 64;
    constexpr size_t chunk = 4;
    pmcpp::counting_strings gen(n);
    auto map = pm::map([](const std::string& s) { return s + "!"; }, gen,
                       opts().max_in_flight(bound).chunksize(chunk));
    int taken = 0;
    int most_ahead = 0;
    for (const std::string& r : map) {
        ASSERT_EQ(r, "s" + std::to_string(taken) + "!");
        ++taken;
        most_ahead = std::max(most_ahead, gen.produced() - taken);
    }
    EXPECT_EQ(taken, n);
    // The generator never ran far ahead of the consumer: at most the
    // in-flight bound, plus one chunk the feeder has read and waits to send,
    // plus the generator's probe past the last item.
    EXPECT_LE(most_ahead, int(bound + chunk) + 1);
}

TEST_P(Map, GenerateCallsTheFunctionUntilItIsEmpty) {
    int next = 0;
    auto gen = pm::generate([&]() -> std::optional<int> {
        if (next == 100) return std::nullopt;
        return next++;
    });
    std::vector<int> expected;
    for (int i = 0; i < 100; ++i) expected.push_back(i * 3);
    EXPECT_EQ(pm::to_vector(pm::map([](int x) { return x * 3; }, gen, opts())), expected);
}

TEST_P(Map, UnorderedWithIndexGivesEveryItemOnce) {
    const std::vector<int> items = iota(500);
    std::vector<int> seen(items.size(), 0);
    for (auto& r : pm::map([](int x) { return x * 2; }, items, pm::with_index,
                           opts().ordered(false).chunksize(7))) {
        ASSERT_LT(r.index, items.size());
        EXPECT_EQ(r.value, int(r.index) * 2);
        seen[r.index]++;
    }
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << i;
}

TEST_P(Map, SeveralThreadsPerProcess) {
    const std::vector<int> items = iota(300);
    std::vector<std::string> expected;
    for (int x : items) expected.push_back(std::string(size_t(x % 17), 'q'));
    EXPECT_EQ(pm::to_vector(pm::map([](int x) { return std::string(size_t(x % 17), 'q'); },
                                    items, opts().threads(3))),
              expected);
}

TEST_P(Map, ProgressCallbackSeesEveryResult) {
    std::vector<std::pair<uint64_t, uint64_t>> calls;
    auto on_progress = [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); };
    const std::vector<int> items = iota(40);
    EXPECT_EQ(pm::to_vector(pm::map([](int x) { return x; }, items, opts().on_progress(on_progress)))
                  .size(),
              items.size());
    ASSERT_EQ(calls.size(), items.size());
    for (size_t i = 0; i < calls.size(); ++i) {
        EXPECT_EQ(calls[i].first, i + 1);
        EXPECT_EQ(calls[i].second, items.size());
    }
    // A generator's total comes from the options.
    calls.clear();
    pmcpp::counting_strings gen(10);
    for (auto& r : pm::map([](const std::string& s) { return s; }, gen,
                           opts().on_progress(on_progress).total(10)))
        (void)r;
    ASSERT_EQ(calls.size(), 10u);
    EXPECT_EQ(calls.back(), (std::pair<uint64_t, uint64_t>{10, 10}));
}

TEST_P(Map, BeginTwiceContinuesWhereItWas) {
    auto map = pm::map([](int x) { return x; }, iota(5), opts());
    auto it = map.begin();
    EXPECT_EQ(*it, 0);
    ++it;
    EXPECT_EQ(*map.begin(), 1);
    std::vector<int> rest(map.begin(), map.end());
    EXPECT_EQ(rest, (std::vector<int>{1, 2, 3, 4}));
    EXPECT_TRUE(map.begin() == map.end());
}

TEST(MapOptions, OutOfRangeValueThrowsPmErrorAndStartsNothing) {
    const auto before = pmtest::open_fds();
    try {
        pm::map([](int x) { return x; }, iota(3), pm::options{}.threads(0));
        FAIL() << "threads(0) was accepted";
    } catch (const pm::error& e) {
        EXPECT_EQ(e.status(), PM_EINVAL);
        EXPECT_NE(std::string(e.what()).find("pm_options_set_threads"), std::string::npos)
            << e.what();
    }
    EXPECT_THROW(pm::map([](int x) { return x; }, iota(3),
                         pm::options{}.processes(PM_MAX_PROCESSES + 1)),
                 pm::error);
    EXPECT_TRUE(pmtest::no_children());
    EXPECT_EQ(before, pmtest::open_fds());
}

TEST(MapOptions, ProgressBarIsDrawnOnStderr) {
    // Point stderr at a file for the map, then read what the bar wrote.
    char path[] = "/tmp/pm-cpp-bar-XXXXXX";
    const int file = mkstemp(path);
    ASSERT_GE(file, 0);
    unlink(path);
    const int saved = dup(2);
    ASSERT_GE(saved, 0);
    ASSERT_EQ(dup2(file, 2), 2);
    const auto results = pm::to_vector(pm::map([](int x) { return x; }, iota(200),
                                               pm::options{}.processes(2).progress("squares")));
    dup2(saved, 2);
    close(saved);
    std::string text(4096, '\0');
    const ssize_t n = pread(file, &text[0], text.size(), 0);
    close(file);
    text.resize(n > 0 ? size_t(n) : 0);
    EXPECT_EQ(results.size(), 200u);
    EXPECT_NE(text.find("squares"), std::string::npos) << text;
    EXPECT_NE(text.find("200/200"), std::string::npos) << text;
    EXPECT_NE(text.find("done"), std::string::npos) << text;
    // progress(false) draws nothing.
    EXPECT_FALSE(pm::options{}.progress("x").progress(false).values().progress_bar);
    EXPECT_TRUE(pm::options{}.progress(true).values().progress_bar);
}

TEST(MapOptions, EverySetterReachesTheMap) {
    // Unordered, one chunk per item, small bound, no daemon: still every
    // result, exactly once.
    auto o = pm::options{}
                 .processes(2)
                 .threads(2)
                 .chunksize(1)
                 .ordered(false)
                 .daemon(false)
                 .max_in_flight(8)
                 .total(100);
    std::vector<int> got;
    for (int r : pm::map([](int x) { return x + 1; }, iota(100), o)) got.push_back(r);
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, iota(100, 1));
    EXPECT_EQ(o.values().chunk_size, 1u);
    EXPECT_EQ(pm::options{}.chunksize(pm::automatic).values().chunk_size, PM_CHUNK_AUTO);
    EXPECT_EQ(pm::options{}.processes(pm::automatic).values().processes, 0u);
}

}  // namespace
