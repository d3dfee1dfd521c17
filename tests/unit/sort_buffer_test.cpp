#include "sort_buffer.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

using pm::core::result_chunk;
using pm::core::sort_buffer;

namespace {

result_chunk chunk(uint64_t first, uint32_t count) {
    result_chunk c;
    c.make_failed(first, count, PM_EITEM, "x");
    return c;
}

}  // namespace

TEST(SortBuffer, HoldsChunksUntilTheGapFills) {
    sort_buffer buf(true);
    buf.push(chunk(5, 3));
    buf.push(chunk(8, 1));
    result_chunk out;
    EXPECT_FALSE(buf.pop_ready(out));
    buf.push(chunk(0, 5));
    ASSERT_TRUE(buf.pop_ready(out));
    EXPECT_EQ(out.first_index(), 0u);
    ASSERT_TRUE(buf.pop_ready(out));
    EXPECT_EQ(out.first_index(), 5u);
    ASSERT_TRUE(buf.pop_ready(out));
    EXPECT_EQ(out.first_index(), 8u);
    EXPECT_FALSE(buf.pop_ready(out));
    EXPECT_TRUE(buf.empty());
    EXPECT_EQ(buf.next_index(), 9u);
}

TEST(SortBuffer, UnorderedReleasesInArrivalOrder) {
    sort_buffer buf(false);
    buf.push(chunk(7, 2));
    buf.push(chunk(0, 7));
    result_chunk out;
    ASSERT_TRUE(buf.pop_ready(out));
    EXPECT_EQ(out.first_index(), 7u);
    ASSERT_TRUE(buf.pop_ready(out));
    EXPECT_EQ(out.first_index(), 0u);
    EXPECT_FALSE(buf.pop_ready(out));
}

TEST(SortBuffer, IgnoresEmptyChunks) {
    sort_buffer buf(true);
    buf.push(chunk(0, 0));
    EXPECT_TRUE(buf.empty());
}

TEST(SortBuffer, MovedChunkKeepsItsData) {
    sort_buffer buf(true);
    result_chunk c;
    c.make_failed(0, 2, PM_EWORKER, "worker lost");
    buf.push(std::move(c));
    result_chunk out;
    ASSERT_TRUE(buf.pop_ready(out));
    auto it = out.take();
    EXPECT_EQ(it.status, PM_EWORKER);
    EXPECT_EQ(std::string(it.message, it.message_len), "worker lost");
    it = out.take();
    EXPECT_EQ(it.index, 1u);
    EXPECT_TRUE(out.exhausted());
}

// Chunks of random sizes pushed in a shuffled order, with pops in between:
// every chunk comes out once, in input order, as soon as the ones before it
// are all in (the run's queue and the heap of early chunks together).
TEST(SortBuffer, ShuffledArrivalsComeOutInOrderAsSoonAsTheGapCloses) {
    std::mt19937 rng(12345);
    for (int round = 0; round < 50; ++round) {
        std::vector<std::pair<uint64_t, uint32_t>> chunks;
        uint64_t next = 0;
        while (chunks.size() < 200) {
            const uint32_t n = 1 + rng() % 5;
            chunks.push_back({next, n});
            next += n;
        }
        // Mostly in order, a few far out of place, as from several workers.
        for (size_t i = 0; i + 1 < chunks.size(); ++i) {
            const size_t reach = std::min<size_t>(8, chunks.size() - i - 1);
            if (rng() % 3 == 0) std::swap(chunks[i], chunks[i + 1 + rng() % reach]);
        }
        sort_buffer buf(true);
        std::vector<bool> in(chunks.size());
        uint64_t expect = 0;
        size_t released = 0;
        std::map<uint64_t, size_t> by_first;
        for (size_t i = 0; i < chunks.size(); ++i) by_first[chunks[i].first] = i;
        for (size_t i = 0; i < chunks.size(); ++i) {
            buf.push(chunk(chunks[i].first, chunks[i].second));
            in[i] = true;
            result_chunk out;
            while (buf.pop_ready(out)) {
                ASSERT_EQ(out.first_index(), expect) << "round " << round;
                expect += out.count();
                ++released;
            }
            // Nothing that could be released is held back.
            auto it = by_first.find(expect);
            if (it != by_first.end()) {
                ASSERT_FALSE(in[it->second]) << "round " << round << ": chunk at " << expect
                                             << " is in but was not released";
            }
            ASSERT_EQ(buf.next_index(), expect);
        }
        EXPECT_EQ(released, chunks.size());
        EXPECT_EQ(expect, next);
        EXPECT_TRUE(buf.empty());
    }
}
