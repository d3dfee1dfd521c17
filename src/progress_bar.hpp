// The built-in progress bar (pm_options_set_progress_bar): what a line says,
// when a line is due, and the drawing on stderr. The first two are pure
// functions of counts and times, so they are tested without a clock or a
// terminal; progress_bar only adds the clock and the write.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>

#include "parmapper.h"

namespace pm::core {

// How a map stands when its line is drawn.
enum class progress_end {
    running,  // more results may come
    done,     // PM_DONE
    failed,   // a final failure
    stopped,  // destroyed part-way
};

struct progress_state {
    uint64_t done = 0;
    uint64_t total = PM_TOTAL_UNKNOWN;
    uint64_t elapsed_ns = 0;
    progress_end end = progress_end::running;
};

// "0.50/s", "12.3/s", "456/s", "1.23k/s", "45.6M/s"; "?/s" for no rate yet.
std::string format_rate(double per_second);
// "0:07", "12:34", "1:02:03".
std::string format_duration(uint64_t seconds);

// One progress line, without '\r' or '\n'. A known total:
//   "label:  42% [########............] 420/1000 | 1.23k/s | 0:03 elapsed, 0:04 left"
// An unknown total: "label: 420 items | 1.23k/s | 0:03 elapsed".
// A final line says "done", "failed" or "stopped" instead of the time left.
// width: the most columns the line may take (0: no limit); the bar narrows
// first, then the line is cut (at a UTF-8 character boundary).
std::string format_progress_line(const std::string& label, const progress_state& s,
                                 size_t width);

// Replaces control characters with spaces, so that a label cannot break the
// line it is drawn in.
std::string sanitize_label(const char* label);

// When a line is due. On a terminal the line is redrawn at most every
// tty_interval_ns. Elsewhere (a file, a pipe) a plain line is written each
// time another tenth of the total is done, at most once per plain_min_ns,
// and at least every plain_max_ns while results keep coming (the only lines
// an unknown total gets). The final line is always drawn.
class progress_schedule {
public:
    static constexpr uint64_t tty_interval_ns = 100'000'000;     // 10 redraws a second
    static constexpr uint64_t plain_min_ns = 1'000'000'000;
    static constexpr uint64_t plain_max_ns = 10'000'000'000;

    progress_schedule(bool tty, uint64_t start_ns) noexcept
        : tty_(tty), last_ns_(start_ns) {}

    bool due(uint64_t done, uint64_t total, uint64_t now_ns) const noexcept;
    void drawn(uint64_t done, uint64_t now_ns) noexcept;

private:
    bool tty_;
    bool drawn_once_ = false;
    uint64_t last_ns_;
    uint64_t last_done_ = 0;
};

// How often the clock is read: every result while results are slow, every
// max_stride results while they come faster than the clock ticks. Even a
// coarse clock read costs about a tenth of a trivial result's whole trip
// through pm_map_next(), so a fast map must not read it per result; a slow
// map must, or its line would lag. After a burst, a line is late by at most
// max_stride results.
class check_stride {
public:
    static constexpr uint32_t max_stride = 32;

    // Counts one result; true when the clock should be read.
    bool tick() noexcept { return --countdown_ == 0; }
    // After a read: the stride doubles while reads land on the same clock
    // tick as the previous one, and drops back to 1 otherwise.
    void checked(uint64_t now_ns) noexcept {
        stride_ = now_ns == last_ns_ ? std::min(stride_ * 2, max_stride) : 1;
        last_ns_ = now_ns;
        countdown_ = stride_;
    }
    uint32_t stride() const noexcept { return stride_; }

private:
    uint32_t countdown_ = 1;
    uint32_t stride_ = 1;
    uint64_t last_ns_ = UINT64_MAX;
};

// Draws a map's progress on a descriptor (stderr) from the thread that steps
// the map. Never throws: a bar that cannot be written stops drawing.
class progress_bar {
public:
    // Reads the terminal-ness and width of fd once, here.
    progress_bar(std::string label, int fd);
    progress_bar(const progress_bar&) = delete;
    progress_bar& operator=(const progress_bar&) = delete;

    // After each delivered result. Inline, so that the usual case is a
    // decrement and a branch; total() (the total, or PM_TOTAL_UNKNOWN) is
    // only called when the clock is read.
    template <class TotalFn>
    void update(uint64_t done, TotalFn&& total) noexcept {
        if (stride_.tick())
            check(done, total());
    }
    // Draws the final line and ends it with a newline. Only the first call
    // draws.
    void finish(uint64_t done, uint64_t total, progress_end end) noexcept;

private:
    void check(uint64_t done, uint64_t total) noexcept;
    void draw(const progress_state& s) noexcept;

    std::string label_;
    int fd_;
    bool tty_;
    size_t width_;
    uint64_t start_ns_;
    progress_schedule schedule_;
    check_stride stride_;
    size_t last_len_ = 0;  // of the line on screen, to blank what a shorter one leaves
    bool finished_ = false;
    bool broken_ = false;
};

}  // namespace pm::core
