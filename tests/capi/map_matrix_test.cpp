// Ordered maps equal the serial map, unordered maps give the same multiset,
// over processes x threads x chunk size x item count x input kind.
#include "capi_test_util.hpp"

#include <tuple>

namespace {

using namespace pmtest;

// processes, threads, chunk size, item count, ordered, pull input
using MatrixParam = std::tuple<uint32_t, uint32_t, size_t, uint64_t, bool, bool>;

class MapMatrix : public ::testing::TestWithParam<MatrixParam> {};

TEST_P(MapMatrix, ResultsEqualSerialMap) {
    const auto [processes, threads, chunk, count, ordered, pull] = GetParam();
    set_watchdog(90);

    const std::vector<uint64_t> items = make_items(count, processes * 7 + threads);
    std::vector<std::string> expected;
    expected.reserve(items.size());
    for (size_t i = 0; i < items.size(); ++i)
        expected.push_back(expected_result(&items[i], sizeof items[i], i));

    Config cfg;
    cfg.processes = processes;
    cfg.threads = threads;
    cfg.chunk = chunk;
    cfg.ordered = ordered;
    Options opts = make_options(cfg);
    ASSERT_TRUE(opts);

    VectorGen gen;
    gen.items = &items;
    // Vary how the generator ends: two items a call with PM_DONE on the last
    // push, or one a call with a final empty PM_DONE call.
    gen.per_call = count % 2 ? 1 : 2;
    gen.done_with_last = gen.per_call == 2;
    pm_input *in = pull ? vector_pull(gen) : array_input(items);
    ASSERT_NE(in, nullptr);

    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), in, checksum_work, nullptr, nullptr), PM_OK)
        << pm_last_error();
    Map map(raw);

    const std::vector<Step> steps = drain(map.get());
    if (ordered)
        EXPECT_EQ(check_ordered(steps, expected), 0u);
    else
        EXPECT_EQ(check_unordered(steps, expected), 0u);

    // The map is over: further steps are refused.
    EXPECT_EQ(pm_map_next(map.get(), nullptr, nullptr, nullptr), PM_ESTATE);
    map.reset();
    EXPECT_EQ(gen.destroyed.load(), pull ? 1 : 0);
    EXPECT_TRUE(no_children());
}

std::string matrix_name(const ::testing::TestParamInfo<MatrixParam> &info) {
    const auto [processes, threads, chunk, count, ordered, pull] = info.param;
    std::string chunk_name = chunk == PM_CHUNK_AUTO ? "Auto" : std::to_string(chunk);
    return "P" + std::to_string(processes) + "T" + std::to_string(threads) + "C" +
           chunk_name + "N" + std::to_string(count) + (ordered ? "Ordered" : "Unordered") +
           (pull ? "Pull" : "Array");
}

INSTANTIATE_TEST_SUITE_P(
    All, MapMatrix,
    ::testing::Combine(::testing::Values(1u, 2u, 4u), ::testing::Values(1u, 3u),
                       ::testing::Values(size_t{1}, size_t{7}, size_t{PM_CHUNK_AUTO}),
                       ::testing::Values(uint64_t{0}, uint64_t{1}, uint64_t{10},
                                         uint64_t{100000}),
                       ::testing::Bool(), ::testing::Bool()),
    matrix_name);

} // namespace
