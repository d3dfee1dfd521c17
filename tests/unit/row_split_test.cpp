// pm_pareval's row split: the documented rules, on examples and exhaustively
// over small sizes.
#include "row_split.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

using pm::core::row_chunk;
using pm::core::row_chunk_count;
using pm::core::split_rows;

namespace {

std::vector<uint64_t> sizes(const std::vector<row_chunk> &chunks) {
    std::vector<uint64_t> out;
    for (const row_chunk &c : chunks) out.push_back(c.rows);
    return out;
}

using Sizes = std::vector<uint64_t>;

}  // namespace

TEST(RowSplit, NoRowsNoChunks) {
    EXPECT_TRUE(split_rows(0, 0, 0, 0, 4).empty());
    EXPECT_TRUE(split_rows(0, 3, 0, 0, 4).empty());
    EXPECT_TRUE(split_rows(0, 0, 5, 2, 4).empty());
}

TEST(RowSplit, DefaultIsTheGivenCountWithLargerChunksFirst) {
    EXPECT_EQ(sizes(split_rows(10, 0, 0, 0, 4)), (Sizes{3, 3, 2, 2}));
    EXPECT_EQ(sizes(split_rows(8, 0, 0, 0, 2)), (Sizes{4, 4}));
    EXPECT_EQ(sizes(split_rows(7, 0, 0, 0, 1)), (Sizes{7}));
}

TEST(RowSplit, NChunksIsTheCount) {
    EXPECT_EQ(sizes(split_rows(10, 4, 0, 0, 2)), (Sizes{3, 3, 2, 2}));
    EXPECT_EQ(sizes(split_rows(10, 1, 0, 0, 2)), (Sizes{10}));
    EXPECT_EQ(sizes(split_rows(10, 10, 0, 0, 2)), Sizes(10, 1));
}

TEST(RowSplit, NoEmptyChunks) {
    EXPECT_EQ(sizes(split_rows(3, 8, 0, 0, 2)), (Sizes{1, 1, 1}));
    EXPECT_EQ(sizes(split_rows(2, 0, 0, 0, 16)), (Sizes{1, 1}));
}

TEST(RowSplit, NEvalBoundsRowsPerChunk) {
    // ceil(10 / 4) = 3 chunks, balanced.
    EXPECT_EQ(sizes(split_rows(10, 0, 4, 0, 2)), (Sizes{4, 3, 3}));
    EXPECT_EQ(sizes(split_rows(12, 0, 4, 0, 2)), (Sizes{4, 4, 4}));
    EXPECT_EQ(sizes(split_rows(5, 0, 100, 0, 2)), (Sizes{5}));
    EXPECT_EQ(sizes(split_rows(5, 0, 1, 0, 2)), Sizes(5, 1));
}

TEST(RowSplit, NMinLowersTheCountAndWins) {
    // 10 rows in 4 chunks would give chunks of 2: n_min 3 allows 3 chunks.
    EXPECT_EQ(sizes(split_rows(10, 4, 0, 3, 2)), (Sizes{4, 3, 3}));
    // n_eval 2 would give 5 chunks of 2; n_min 4 allows only 2.
    EXPECT_EQ(sizes(split_rows(10, 0, 2, 4, 2)), (Sizes{5, 5}));
    // The default count of 8 chunks, at least 5 rows each: 2 chunks.
    EXPECT_EQ(sizes(split_rows(14, 0, 0, 5, 8)), (Sizes{7, 7}));
    // Fewer rows than n_min: one chunk of them all.
    EXPECT_EQ(sizes(split_rows(3, 0, 0, 10, 4)), (Sizes{3}));
    // n_min never raises the count.
    EXPECT_EQ(sizes(split_rows(100, 2, 0, 1, 4)), (Sizes{50, 50}));
}

TEST(RowSplit, RulesHoldForEverySmallCase) {
    for (size_t n = 0; n <= 40; ++n)
        for (size_t n_chunks = 0; n_chunks <= 12; ++n_chunks)
            for (size_t n_eval = 0; n_eval <= 12; ++n_eval) {
                if (n_chunks && n_eval) continue;
                for (size_t n_min = 0; n_min <= 12; ++n_min)
                    for (size_t def : {size_t{1}, size_t{2}, size_t{4}, size_t{7}}) {
                        SCOPED_TRACE(::testing::Message()
                                     << "n " << n << " n_chunks " << n_chunks << " n_eval "
                                     << n_eval << " n_min " << n_min << " default " << def);
                        const std::vector<row_chunk> c = split_rows(n, n_chunks, n_eval, n_min, def);
                        ASSERT_EQ(c.size(), row_chunk_count(n, n_chunks, n_eval, n_min, def));
                        uint64_t next = 0, lo = UINT64_MAX, hi = 0;
                        for (const row_chunk &ch : c) {
                            ASSERT_EQ(ch.first, next);
                            ASSERT_GT(ch.rows, 0u);
                            next += ch.rows;
                            lo = std::min(lo, ch.rows);
                            hi = std::max(hi, ch.rows);
                        }
                        ASSERT_EQ(next, n);
                        if (n == 0) continue;
                        ASSERT_LE(hi - lo, 1u);
                        ASSERT_GE(c.front().rows, c.back().rows);
                        const size_t wanted =
                            n_chunks ? n_chunks : n_eval ? (n + n_eval - 1) / n_eval : def;
                        if (n_min && n >= n_min) {
                            ASSERT_GE(lo, n_min);
                        }
                        if (n_min && n < n_min) {
                            ASSERT_EQ(c.size(), 1u);
                        }
                        // Without a lower bound from n_min, exactly the count asked
                        // for (at most n).
                        if (!n_min || wanted <= n / n_min) {
                            ASSERT_EQ(c.size(), std::min(wanted, n));
                        }
                        // n_eval's bound holds unless n_min lowered the count.
                        if (n_eval && (!n_min || wanted <= n / n_min)) {
                            ASSERT_LE(hi, n_eval);
                        }
                    }
            }
}
