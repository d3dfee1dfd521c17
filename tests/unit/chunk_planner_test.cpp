#include "chunk_planner.hpp"

#include <gtest/gtest.h>

using pm::core::chunk_planner;
using pm::core::map_settings;

TEST(ChunkPlanner, FixedSizeIsUsedAsGiven) {
    map_settings s;
    s.chunk_size = 7;
    chunk_planner p(s, 4, 1000);
    EXPECT_EQ(p.next_chunk_size(0), 7u);
    EXPECT_EQ(p.next_chunk_size(123456), 7u);
    EXPECT_EQ(p.in_flight_bound(), chunk_planner::default_bound);
}

TEST(ChunkPlanner, FixedSizeRaisesTheDefaultBound) {
    map_settings s;
    s.chunk_size = 100000;
    s.threads = 2;
    chunk_planner p(s, 4, UINT64_MAX);
    EXPECT_EQ(p.in_flight_bound(), 2u * 4 * 2 * 100000);
}

TEST(ChunkPlanner, AutoWithKnownTotalSplitsEvenly) {
    map_settings s;
    chunk_planner p(s, 4, 1000);
    EXPECT_EQ(p.next_chunk_size(0), 250u);  // ceil(1000 / (4 * 1))
    map_settings t;
    t.threads = 3;
    chunk_planner q(t, 2, 100);
    EXPECT_EQ(q.next_chunk_size(0), 17u);  // ceil(100 / 6)
}

TEST(ChunkPlanner, AutoIsCappedByTheBound) {
    map_settings s;
    s.max_in_flight = 1000;
    chunk_planner p(s, 2, 1000000);
    EXPECT_EQ(p.next_chunk_size(0), 250u);  // 1000 / (2 * 2 slots)
}

TEST(ChunkPlanner, TotalHintCountsWhenLengthIsUnknown) {
    map_settings s;
    s.total_hint = 40;
    chunk_planner p(s, 4, UINT64_MAX);
    EXPECT_EQ(p.next_chunk_size(0), 10u);
}

TEST(ChunkPlanner, AdaptiveRampsUpThenFollowsTiming) {
    map_settings s;
    chunk_planner p(s, 2, UINT64_MAX);
    EXPECT_EQ(p.next_chunk_size(0), 1u);
    EXPECT_EQ(p.next_chunk_size(0), 2u);
    EXPECT_EQ(p.next_chunk_size(0), 4u);
    // 1 ms per item: 20 ms of work is 20 items.
    EXPECT_EQ(p.next_chunk_size(1'000'000), 20u);
    // Slower than the target: one item per chunk.
    EXPECT_EQ(p.next_chunk_size(50'000'000), 1u);
    // Very fast items: capped at bound / (2 * workers * threads).
    EXPECT_EQ(p.next_chunk_size(1), chunk_planner::default_bound / 4);
}
