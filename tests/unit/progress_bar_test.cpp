// The progress bar's formatting and scheduling: pure functions of counts and
// times, so every expected line is exact.
#include "progress_bar.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using pm::core::format_duration;
using pm::core::format_progress_line;
using pm::core::format_rate;
using pm::core::progress_end;
using pm::core::progress_schedule;
using pm::core::progress_state;
using pm::core::sanitize_label;

namespace {

constexpr uint64_t ms = 1'000'000;
constexpr uint64_t s = 1'000'000'000;

progress_state at(uint64_t done, uint64_t total, uint64_t elapsed_ns,
                  progress_end end = progress_end::running) {
    progress_state st;
    st.done = done;
    st.total = total;
    st.elapsed_ns = elapsed_ns;
    st.end = end;
    return st;
}

}  // namespace

TEST(ProgressFormat, DurationsAsMinutesOrHours) {
    EXPECT_EQ(format_duration(0), "0:00");
    EXPECT_EQ(format_duration(7), "0:07");
    EXPECT_EQ(format_duration(59), "0:59");
    EXPECT_EQ(format_duration(60), "1:00");
    EXPECT_EQ(format_duration(754), "12:34");
    EXPECT_EQ(format_duration(3599), "59:59");
    EXPECT_EQ(format_duration(3600), "1:00:00");
    EXPECT_EQ(format_duration(3723), "1:02:03");
    EXPECT_EQ(format_duration(100 * 3600 + 5), "100:00:05");
}

TEST(ProgressFormat, RatesWithThreeDigitsAndASuffix) {
    EXPECT_EQ(format_rate(0), "0.00/s");
    EXPECT_EQ(format_rate(0.5), "0.50/s");
    EXPECT_EQ(format_rate(12.34), "12.3/s");
    EXPECT_EQ(format_rate(456), "456/s");
    EXPECT_EQ(format_rate(999.4), "999/s");
    EXPECT_EQ(format_rate(999.6), "1.00k/s");
    EXPECT_EQ(format_rate(1234), "1.23k/s");
    EXPECT_EQ(format_rate(45600), "45.6k/s");
    EXPECT_EQ(format_rate(15.7e6), "15.7M/s");
    EXPECT_EQ(format_rate(2e9), "2.00G/s");
    EXPECT_EQ(format_rate(-1), "?/s");
}

TEST(ProgressFormat, KnownTotalShowsBarCountsRateAndTimes) {
    // 420 of 1000 in 3 s: 140/s, 580 left at that rate is 4.14 s.
    EXPECT_EQ(format_progress_line("squares", at(420, 1000, 3 * s), 0),
              "squares:  42% [########............] 420/1000 | 140/s | 0:03 elapsed, 0:04 left");
}

TEST(ProgressFormat, NoLabelNoPrefix) {
    EXPECT_EQ(format_progress_line("", at(1, 4, 2 * s), 0),
              " 25% [#####...............] 1/4 | 0.50/s | 0:02 elapsed, 0:06 left");
}

TEST(ProgressFormat, StartAndEndOfAKnownTotal) {
    EXPECT_EQ(format_progress_line("x", at(0, 10, 0), 0),
              "x:   0% [....................] 0/10 | ?/s | 0:00 elapsed, ? left");
    EXPECT_EQ(format_progress_line("x", at(10, 10, 5 * s, progress_end::done), 0),
              "x: 100% [####################] 10/10 | 2.00/s | 0:05 elapsed, done");
}

TEST(ProgressFormat, PercentageRoundsDown) {
    // 999/1000 is not yet 100 %.
    EXPECT_EQ(format_progress_line("", at(999, 1000, s), 0).substr(0, 5), " 99% ");
    EXPECT_EQ(format_progress_line("", at(1, 3, s), 0).substr(0, 5), " 33% ");
}

TEST(ProgressFormat, MoreThanTheTotalHintStaysAtOneHundredPercent) {
    EXPECT_EQ(format_progress_line("", at(12, 10, 4 * s), 0),
              "100% [####################] 12/10 | 3.00/s | 0:04 elapsed, 0:00 left");
}

TEST(ProgressFormat, EmptyTotalIsComplete) {
    EXPECT_EQ(format_progress_line("", at(0, 0, 0, progress_end::done), 0),
              "100% [####################] 0/0 | ?/s | 0:00 elapsed, done");
}

TEST(ProgressFormat, UnknownTotalShowsRunningCountAndRate) {
    EXPECT_EQ(format_progress_line("gen", at(4500, PM_TOTAL_UNKNOWN, 2 * s), 0),
              "gen: 4500 items | 2.25k/s | 0:02 elapsed");
    EXPECT_EQ(format_progress_line("gen", at(4500, PM_TOTAL_UNKNOWN, 2 * s,
                                             progress_end::stopped), 0),
              "gen: 4500 items | 2.25k/s | 0:02 elapsed, stopped");
}

TEST(ProgressFormat, FinalLinesNameTheOutcome) {
    EXPECT_EQ(format_progress_line("", at(3, 10, s, progress_end::failed), 0),
              " 30% [######..............] 3/10 | 3.00/s | 0:01 elapsed, failed");
    EXPECT_EQ(format_progress_line("", at(3, 10, s, progress_end::stopped), 0),
              " 30% [######..............] 3/10 | 3.00/s | 0:01 elapsed, stopped");
}

TEST(ProgressFormat, NarrowWidthShrinksTheBarThenDropsItThenCuts) {
    const progress_state st = at(50, 100, 10 * s);
    const std::string full = format_progress_line("w", st, 0);
    EXPECT_EQ(full, "w:  50% [##########..........] 50/100 | 5.00/s | 0:10 elapsed, 0:10 left");
    EXPECT_EQ(format_progress_line("w", st, full.size()), full);
    // Four columns fewer: the bar loses four cells.
    EXPECT_EQ(format_progress_line("w", st, full.size() - 4),
              "w:  50% [########........] 50/100 | 5.00/s | 0:10 elapsed, 0:10 left");
    // Below five cells the bar goes entirely.
    EXPECT_EQ(format_progress_line("w", st, full.size() - 16),
              "w:  50% 50/100 | 5.00/s | 0:10 elapsed, 0:10 left");
    EXPECT_EQ(format_progress_line("w", st, 12), "w:  50% 50/1");
}

TEST(ProgressFormat, CutNeverSplitsAUtf8Character) {
    // "é" is two bytes, one column.
    const std::string label = "caf\xc3\xa9";
    const std::string line = format_progress_line(label, at(1, PM_TOTAL_UNKNOWN, s), 4);
    EXPECT_EQ(line, label);
    EXPECT_EQ(format_progress_line(label, at(1, PM_TOTAL_UNKNOWN, s), 3), "caf");
}

TEST(ProgressFormat, LabelControlCharactersBecomeSpaces) {
    EXPECT_EQ(sanitize_label("a\rb\nc\td\x1b[2J"), "a b c d [2J");
    EXPECT_EQ(sanitize_label(nullptr), "");
    EXPECT_EQ(sanitize_label("caf\xc3\xa9"), "caf\xc3\xa9");
}

TEST(ProgressSchedule, TerminalDrawsAtOnceThenTenTimesASecond) {
    progress_schedule sched(true, 5 * s);
    EXPECT_TRUE(sched.due(1, 100, 5 * s));
    sched.drawn(1, 5 * s);
    EXPECT_FALSE(sched.due(2, 100, 5 * s + 99 * ms));
    EXPECT_TRUE(sched.due(2, 100, 5 * s + 100 * ms));
    sched.drawn(2, 5 * s + 100 * ms);
    EXPECT_FALSE(sched.due(90, 100, 5 * s + 150 * ms));
    // A clock reading behind the last draw never underflows into "due".
    EXPECT_FALSE(sched.due(90, 100, 5 * s));
}

TEST(ProgressSchedule, PlainLinesEachTenthAtMostOnceASecond) {
    progress_schedule sched(false, 0);
    // Nothing at the start, nor within the first second even past a tenth.
    EXPECT_FALSE(sched.due(1, 100, 0));
    EXPECT_FALSE(sched.due(50, 100, 999 * ms));
    // After a second, only once a new tenth is reached.
    EXPECT_TRUE(sched.due(10, 100, s));
    EXPECT_FALSE(sched.due(9, 100, 2 * s));
    sched.drawn(10, s);
    EXPECT_FALSE(sched.due(19, 100, 3 * s));
    EXPECT_FALSE(sched.due(20, 100, s + 500 * ms));
    EXPECT_TRUE(sched.due(20, 100, 2 * s));
    sched.drawn(20, 2 * s);
    // Slow progress: a line every 10 s anyway.
    EXPECT_FALSE(sched.due(21, 100, 11 * s));
    EXPECT_TRUE(sched.due(21, 100, 12 * s));
}

TEST(ProgressSchedule, PlainLinesForAnUnknownTotalEveryTenSeconds) {
    progress_schedule sched(false, 0);
    EXPECT_FALSE(sched.due(1000000, PM_TOTAL_UNKNOWN, 9 * s));
    EXPECT_TRUE(sched.due(1000000, PM_TOTAL_UNKNOWN, 10 * s));
    sched.drawn(1000000, 10 * s);
    EXPECT_FALSE(sched.due(2000000, PM_TOTAL_UNKNOWN, 19 * s));
    EXPECT_TRUE(sched.due(2000000, PM_TOTAL_UNKNOWN, 20 * s));
}

TEST(ProgressSchedule, AFastMapGetsNoPlainLineBeforeItsEnd) {
    // 10^6 results within 60 ms: every tenth passes in under a second.
    progress_schedule sched(false, 0);
    for (uint64_t done = 1; done <= 1000000; done += 997)
        ASSERT_FALSE(sched.due(done, 1000000, done * 60 * ms / 1000000)) << done;
}

TEST(CheckStride, EveryResultWhileTheClockMoves) {
    pm::core::check_stride st;
    for (uint64_t t = 1; t <= 100; ++t) {
        ASSERT_TRUE(st.tick()) << t;
        st.checked(t * 4 * ms);
        ASSERT_EQ(st.stride(), 1u);
    }
}

TEST(CheckStride, DoublesWithinOneClockTickUpToTheCap) {
    pm::core::check_stride st;
    uint64_t results = 0, reads = 0;
    std::vector<uint32_t> strides;
    // A burst of 1000 results within one tick of the clock.
    for (int i = 0; i < 1000; ++i) {
        ++results;
        if (st.tick()) {
            ++reads;
            st.checked(8 * ms);
            strides.push_back(st.stride());
        }
    }
    ASSERT_GE(strides.size(), 6u);
    EXPECT_EQ(std::vector<uint32_t>(strides.begin(), strides.begin() + 7),
              (std::vector<uint32_t>{1, 2, 4, 8, 16, 32, 32}));
    // 1 + 1 + 2 + 4 + 8 + 16 results for the first six reads, then one per 32.
    EXPECT_EQ(reads, 6u + (1000 - 32) / 32);
    // Reads 32 results apart: the next one is due at result 1024.
    for (int i = 1000; i < 1023; ++i) ASSERT_FALSE(st.tick()) << i;
    ASSERT_TRUE(st.tick());
    // The clock has moved on: back to a read per result.
    st.checked(12 * ms);
    EXPECT_EQ(st.stride(), 1u);
    EXPECT_TRUE(st.tick());
}
