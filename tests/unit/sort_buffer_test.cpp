#include "sort_buffer.hpp"

#include <gtest/gtest.h>

#include <string>

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
