#include "chunk_planner.hpp"

#include <gtest/gtest.h>

using pm::core::chunk_planner;
using pm::core::item_costs;
using pm::core::map_settings;

namespace {

const item_costs unknown{};

item_costs costs(uint64_t ns, uint64_t bytes) {
    item_costs c;
    c.ns = ns;
    c.result_bytes = bytes;
    return c;
}

}  // namespace

TEST(ChunkPlanner, FixedSizeIsUsedAsGiven) {
    map_settings s;
    s.chunk_size = 7;
    chunk_planner p(s, 4, 1000);
    EXPECT_EQ(p.next_chunk_size(unknown), 7u);
    EXPECT_EQ(p.next_chunk_size(costs(123456, 8)), 7u);
    EXPECT_EQ(p.in_flight_bound(unknown), chunk_planner::default_bound);
}

TEST(ChunkPlanner, FixedSizeRaisesTheDefaultBound) {
    map_settings s;
    s.chunk_size = 100000;
    s.threads = 2;
    chunk_planner p(s, 4, UINT64_MAX);
    EXPECT_EQ(p.in_flight_bound(unknown), 2u * 4 * 2 * 100000);
}

TEST(ChunkPlanner, AutoSendsSingleItemsUntilMeasured) {
    map_settings s;
    chunk_planner p(s, 2, UINT64_MAX);
    EXPECT_EQ(p.next_chunk_size(unknown), 1u);
    EXPECT_EQ(p.next_chunk_size(unknown), 1u);
    EXPECT_EQ(p.next_chunk_size(unknown), 1u);
    // Before the first result a thread holds the item it runs and the next.
    EXPECT_TRUE(p.has_credit(1, 1, unknown));
    EXPECT_FALSE(p.has_credit(2, 1, unknown));
    // 1 ms per item: 20 ms of work is 20 items.
    EXPECT_EQ(p.next_chunk_size(costs(1'000'000, 8)), 20u);
    // Slower than the target: one item per chunk.
    EXPECT_EQ(p.next_chunk_size(costs(50'000'000, 8)), 1u);
    // Very fast items: capped at bound / (2 * workers * threads).
    EXPECT_EQ(p.next_chunk_size(costs(1, 1)), chunk_planner::default_bound / 4);
}

TEST(ChunkPlanner, AKnownTotalIsSplitEvenlyAtMost) {
    map_settings s;
    chunk_planner p(s, 4, 1000);
    EXPECT_EQ(p.next_chunk_size(unknown), 1u);  // ramps like any other
    EXPECT_EQ(p.next_chunk_size(costs(1, 1)), 250u);  // ceil(1000 / (4 * 1))
    map_settings t;
    t.threads = 3;
    chunk_planner q(t, 2, 100);
    EXPECT_EQ(q.next_chunk_size(costs(1, 1)), 17u);  // ceil(100 / 6)
    map_settings h;
    h.total_hint = 40;
    chunk_planner r(h, 4, UINT64_MAX);
    EXPECT_EQ(r.next_chunk_size(costs(1, 1)), 10u);
}

TEST(ChunkPlanner, LargeResultsMakeSmallChunksAndALowerBound) {
    map_settings s;
    chunk_planner p(s, 2, 2000);
    const item_costs mib = costs(100'000, uint64_t(1) << 20);
    // About 1 MiB of results a chunk, whatever the time says.
    EXPECT_EQ(p.next_chunk_size(mib), 1u);
    EXPECT_EQ(p.next_chunk_size(costs(100'000, 4096)), 200u);  // 20 ms, under 1 MiB
    EXPECT_EQ(p.next_chunk_size(costs(1'000, 4096)), 256u);    // 1 MiB / 4 KiB
    // About 6 MiB of results in flight.
    EXPECT_EQ(p.in_flight_bound(mib), 6u);
    // A bound the user set stands.
    map_settings u;
    u.max_in_flight = 1000;
    chunk_planner q(u, 2, 1000000);
    EXPECT_EQ(q.in_flight_bound(mib), 1000u);
    EXPECT_EQ(q.next_chunk_size(costs(1, 1)), 250u);  // 1000 / (2 * 2 slots)
}

TEST(ChunkPlanner, CreditIsCountedInItems) {
    map_settings s;
    chunk_planner p(s, 2, UINT64_MAX);
    // Small chunks stream: 64 items a thread, not two chunks.
    EXPECT_TRUE(p.has_credit(63, 1, costs(100, 8)));
    EXPECT_FALSE(p.has_credit(64, 1, costs(100, 8)));
    // Two chunks always fit, however large.
    EXPECT_TRUE(p.has_credit(10000, 10000, costs(100, 8)));
    EXPECT_FALSE(p.has_credit(10001, 10000, costs(100, 8)));
    // Large results: about 2 MiB of them a thread.
    EXPECT_TRUE(p.has_credit(1, 1, costs(100, uint64_t(1) << 20)));
    EXPECT_FALSE(p.has_credit(2, 1, costs(100, uint64_t(1) << 20)));
    map_settings t;
    t.threads = 2;
    chunk_planner q(t, 2, UINT64_MAX);
    EXPECT_TRUE(q.has_credit(127, 1, costs(100, 8)));
    EXPECT_FALSE(q.has_credit(128, 1, costs(100, 8)));
}
