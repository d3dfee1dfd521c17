#include "progress_bar.hpp"

#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <utility>

#include "sys_io.hpp"

namespace pm::core {

namespace {

constexpr size_t full_bar_cells = 20;
constexpr size_t min_bar_cells = 5;
constexpr size_t default_tty_width = 80;

// A coarse clock costs a few nanoseconds (no hardware counter read), and its
// ~4 ms resolution is far finer than the redraw interval.
uint64_t coarse_ns() noexcept {
    struct timespec ts;
    ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull +
           static_cast<uint64_t>(ts.tv_nsec);
}

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Columns a string takes, counting one per UTF-8 character.
size_t columns(const std::string& s) {
    size_t n = 0;
    for (char c : s)
        n += is_continuation_byte(c) ? 0 : 1;
    return n;
}

// Keeps the first `width` characters, never splitting one.
std::string cut_to_columns(std::string s, size_t width) {
    size_t cols = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        if (is_continuation_byte(s[i]))
            continue;
        if (cols == width) {
            s.resize(i);
            break;
        }
        ++cols;
    }
    return s;
}

unsigned tenths(uint64_t done, uint64_t total) noexcept {
    if (done >= total)
        return 10;
    return static_cast<unsigned>(static_cast<double>(done) * 10.0 / static_cast<double>(total));
}

bool known(uint64_t total) noexcept { return total != PM_TOTAL_UNKNOWN; }

const char* end_word(progress_end end) noexcept {
    switch (end) {
    case progress_end::done: return "done";
    case progress_end::failed: return "failed";
    case progress_end::stopped: return "stopped";
    case progress_end::running: break;
    }
    return "";
}

std::string time_left(const progress_state& s) {
    if (s.done >= s.total)
        return format_duration(0);
    if (s.done == 0 || s.elapsed_ns == 0)
        return "?";
    double left = static_cast<double>(s.elapsed_ns) / 1e9 *
                  static_cast<double>(s.total - s.done) / static_cast<double>(s.done);
    return format_duration(static_cast<uint64_t>(std::llround(left)));
}

}  // namespace

std::string format_rate(double per_second) {
    if (!(per_second >= 0) || std::isinf(per_second))
        return "?/s";
    static const char* const suffixes[] = {"", "k", "M", "G", "T"};
    size_t i = 0;
    while (per_second >= 999.5 && i + 1 < sizeof suffixes / sizeof suffixes[0]) {
        per_second /= 1000;
        ++i;
    }
    char buf[64];
    const char* fmt = per_second < 9.995 ? "%.2f%s/s" : per_second < 99.95 ? "%.1f%s/s" : "%.0f%s/s";
    std::snprintf(buf, sizeof buf, fmt, per_second, suffixes[i]);
    return buf;
}

std::string format_duration(uint64_t seconds) {
    char buf[64];
    const uint64_t h = seconds / 3600;
    const unsigned m = static_cast<unsigned>(seconds / 60 % 60);
    const unsigned sec = static_cast<unsigned>(seconds % 60);
    if (h > 0)
        std::snprintf(buf, sizeof buf, "%llu:%02u:%02u", static_cast<unsigned long long>(h), m,
                      sec);
    else
        std::snprintf(buf, sizeof buf, "%u:%02u", m, sec);
    return buf;
}

std::string format_progress_line(const std::string& label, const progress_state& s,
                                 size_t width) {
    const double secs = static_cast<double>(s.elapsed_ns) / 1e9;
    const std::string head = label.empty() ? std::string() : label + ": ";
    std::string tail = " | " + format_rate(secs > 0 ? static_cast<double>(s.done) / secs : -1) +
                       " | " + format_duration(s.elapsed_ns / 1'000'000'000) + " elapsed";
    if (s.end != progress_end::running)
        tail += std::string(", ") + end_word(s.end);
    else if (known(s.total))
        tail += ", " + time_left(s) + " left";

    if (!known(s.total)) {
        std::string line = head + std::to_string(s.done) + " items" + tail;
        return width ? cut_to_columns(std::move(line), width) : line;
    }

    const unsigned pct =
        s.total == 0 || s.done >= s.total
            ? 100u
            : static_cast<unsigned>(static_cast<double>(s.done) * 100.0 /
                                    static_cast<double>(s.total));
    char pct_buf[8];
    std::snprintf(pct_buf, sizeof pct_buf, "%3u%%", pct);
    const std::string counts = std::to_string(s.done) + "/" + std::to_string(s.total);
    const std::string before_bar = head + pct_buf + " [";
    const std::string after_bar = "] " + counts + tail;

    size_t cells = full_bar_cells;
    if (width) {
        const size_t fixed = columns(before_bar) + columns(after_bar);
        cells = fixed + min_bar_cells <= width ? std::min(full_bar_cells, width - fixed) : 0;
    }
    std::string line;
    if (cells == 0) {
        line = head + pct_buf + " " + counts + tail;
    } else {
        const size_t filled =
            s.total == 0 || s.done >= s.total
                ? cells
                : static_cast<size_t>(static_cast<double>(s.done) * static_cast<double>(cells) /
                                      static_cast<double>(s.total));
        line = before_bar + std::string(filled, '#') + std::string(cells - filled, '.') +
               after_bar;
    }
    return width ? cut_to_columns(std::move(line), width) : line;
}

std::string sanitize_label(const char* label) {
    std::string out = label ? label : "";
    for (char& c : out) {
        const unsigned char u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            c = ' ';
    }
    return out;
}

bool progress_schedule::due(uint64_t done, uint64_t total, uint64_t now_ns) const noexcept {
    const uint64_t since = now_ns > last_ns_ ? now_ns - last_ns_ : 0;
    if (tty_)
        return !drawn_once_ || since >= tty_interval_ns;
    if (since >= plain_max_ns)
        return true;
    if (since < plain_min_ns || !known(total) || total == 0)
        return false;
    return tenths(done, total) > tenths(last_done_, total);
}

void progress_schedule::drawn(uint64_t done, uint64_t now_ns) noexcept {
    drawn_once_ = true;
    last_ns_ = now_ns;
    last_done_ = done;
}

progress_bar::progress_bar(std::string label, int fd)
    : label_(std::move(label)),
      fd_(fd),
      tty_(::isatty(fd) == 1),
      width_(0),
      start_ns_(monotonic_ns()),
      schedule_(tty_, start_ns_) {
    if (tty_) {
        struct winsize ws = {};
        size_t cols = ::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col
                                                                          : default_tty_width;
        // One column short: writing the last column makes some terminals wrap.
        width_ = cols > 1 ? cols - 1 : 1;
    }
}

void progress_bar::check(uint64_t done, uint64_t total) noexcept {
    const uint64_t now = coarse_ns();
    stride_.checked(now);
    if (finished_ || broken_)
        return;
    // The coarse clock trails the precise one used for the start: clamp.
    if (!schedule_.due(done, total, now))
        return;
    schedule_.drawn(done, now);
    draw({done, total, now > start_ns_ ? now - start_ns_ : 0, progress_end::running});
}

void progress_bar::finish(uint64_t done, uint64_t total, progress_end end) noexcept {
    if (finished_)
        return;
    finished_ = true;
    if (broken_)
        return;
    // The precise clock here: a short map's rate needs more than 4 ms steps.
    const uint64_t now = monotonic_ns();
    draw({done, total, now > start_ns_ ? now - start_ns_ : 0, end});
}

void progress_bar::draw(const progress_state& s) noexcept {
    std::string out;
    try {
        std::string line = format_progress_line(label_, s, width_);
        const size_t len = columns(line);
        if (tty_) {
            // Redrawn in place; spaces blank what a longer previous line left.
            out = "\r" + line;
            if (last_len_ > len)
                out.append(last_len_ - len, ' ');
            last_len_ = len;
            if (s.end != progress_end::running)
                out += "\n";
        } else {
            out = line + "\n";
        }
    } catch (...) {
        broken_ = true;
        return;
    }
    // Not through stdio: the host's stderr buffering and locks stay its own.
    if (!write_small_no_sigpipe(fd_, out.data(), out.size()))
        broken_ = true;
}

}  // namespace pm::core
