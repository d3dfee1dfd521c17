// Pipelines (the Python README's "concurrency and parallelism together"): a
// lazy input, a parallel map and lazy post-processing compose without
// materializing anything, and maps feed maps.
#include "cpp_test_util.hpp"

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace {

using pmcpp::iota;

class Pipeline : public pmcpp::Processes {};
PMCPP_FOR_PROCESSES(Pipeline);

TEST_P(Pipeline, LazyInputParallelMapLazyPostProcessing) {
    constexpr uint64_t n = 200'000;
    constexpr size_t bound = 1024;
    std::atomic<uint64_t> loaded{0};
    // data = data_load_generator()
    auto data = pm::generate([&, i = uint64_t{0}]() mutable -> std::optional<uint64_t> {
        if (i == n) return std::nullopt;
        loaded.fetch_add(1);
        return i++;
    });
    // data = imap(preprocess, data)
    auto preprocessed = pm::serial_map([](uint64_t x) { return x * 3; }, data);
    // data = parmap(expensive_computation, data)
    auto computed = pm::map([](uint64_t x) { return x * x; }, preprocessed,
                            opts().max_in_flight(bound).chunksize(64));
    // data = imap(postprocess, data)
    auto postprocessed = pm::serial_map([](uint64_t y) { return y % 1000; }, computed);

    uint64_t count = 0, sum = 0, expected_sum = 0;
    uint64_t most_ahead = 0;
    for (uint64_t v : postprocessed) {
        sum += v;
        expected_sum += (count * 3) * (count * 3) % 1000;
        ++count;
        const uint64_t ahead = loaded.load() - count;
        most_ahead = std::max(most_ahead, ahead);
    }
    EXPECT_EQ(count, n);
    EXPECT_EQ(sum, expected_sum);
    // Nothing was materialized: the input ran at most the in-flight bound
    // (plus the chunk the feeder holds) ahead of the consumer.
    EXPECT_LE(most_ahead, bound + 64 + 1);
}

TEST_P(Pipeline, OneMapFeedsAnother) {
    // The inner map's results are the outer map's items, read by the outer
    // map's feeder thread as they come.
    auto inner = pm::map([](int x) { return std::to_string(x); }, iota(500), opts());
    auto outer = pm::map([](const std::string& s) { return s.size(); }, inner,
                         pm::options{}.processes(2));
    size_t i = 0;
    for (size_t len : outer) {
        EXPECT_EQ(len, std::to_string(i).size()) << i;
        ++i;
    }
    EXPECT_EQ(i, 500u);
}

TEST_P(Pipeline, ReturnModeResultsFilteredAfterTheMap) {
    auto results = pm::map(
        [](int x) {
            if (x % 10 == 0) throw std::runtime_error("round number");
            return x;
        },
        iota(100), opts().errors(pm::errors::return_));
    auto only_ok = pm::serial_map([](pm::result<int>& r) { return r ? *r : -1; }, results);
    int failures = 0, total = 0;
    for (int v : only_ok) {
        failures += v == -1;
        ++total;
    }
    EXPECT_EQ(total, 100);
    EXPECT_EQ(failures, 10);
}

}  // namespace
