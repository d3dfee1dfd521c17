// The built-in progress bar as a caller sees it: stderr redirected to a file
// (plain lines) or to a pseudo-terminal (one line redrawn in place).
#include "capi_test_util.hpp"

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <termios.h>
#include <time.h>


namespace {

using namespace pmtest;

// Points fd 2 (or another descriptor) at a memory file until finish().
class Redirect {
public:
    explicit Redirect(int fd = STDERR_FILENO) : fd_(fd) {
        fflush(nullptr);
        saved_ = dup(fd_);
        file_ = memfd_create("captured", MFD_CLOEXEC);
        EXPECT_GE(saved_, 0);
        EXPECT_GE(file_, 0);
        EXPECT_EQ(dup2(file_, fd_), fd_);
    }
    ~Redirect() { finish(); }
    std::string finish() {
        if (saved_ < 0) return text_;
        fflush(nullptr);
        dup2(saved_, fd_);
        close(saved_);
        saved_ = -1;
        lseek(file_, 0, SEEK_SET);
        char buf[4096];
        ssize_t n;
        while ((n = read(file_, buf, sizeof buf)) > 0) text_.append(buf, static_cast<size_t>(n));
        close(file_);
        return text_;
    }

private:
    int fd_;
    int saved_ = -1;
    int file_ = -1;
    std::string text_;
};

std::vector<std::string> split_lines(const std::string &text) {
    std::vector<std::string> lines;
    size_t start = 0;
    for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1)
        lines.push_back(text.substr(start, nl - start));
    EXPECT_EQ(start, text.size()) << "output does not end with a newline: " << text;
    return lines;
}

// Reads a line piece by piece; any mismatch clears ok.
struct Cursor {
    const std::string &s;
    size_t p = 0;
    bool ok = true;
    bool literal(const std::string &text) {
        ok = ok && s.compare(p, text.size(), text) == 0;
        if (ok) p += text.size();
        return ok;
    }
    std::string digits(size_t min = 1) {
        const size_t start = p;
        while (ok && p < s.size() && isdigit(static_cast<unsigned char>(s[p]))) ++p;
        ok = ok && p - start >= min;
        return ok ? s.substr(start, p - start) : std::string();
    }
    // "M:SS" or "H:MM:SS".
    void duration() {
        digits();
        literal(":");
        const std::string two = digits(2);
        if (ok && p < s.size() && s[p] == ':') {
            ++p;
            ok = two.size() == 2 && digits(2).size() == 2;
        } else {
            ok = ok && two.size() == 2;
        }
    }
    // "?/s", "12/s", "1.23k/s", ...
    void rate() {
        if (ok && p < s.size() && s[p] == '?') {
            ++p;
        } else {
            digits();
            if (ok && p < s.size() && s[p] == '.') {
                ++p;
                digits();
            }
            if (ok && p < s.size() && strchr("kMGT", s[p])) ++p;
        }
        literal("/s");
    }
    std::string rest() { return ok ? s.substr(p) : std::string(); }
};

// "bar:  42% [########............] 420/1000 | 140/s | 0:03 elapsed, 0:04 left",
// checking the bar's fill against the counts.
struct Known {
    bool ok = false;
    std::string pct, done, total, end;  // end: "done", "failed", "stopped", "0:04 left"
};

Known parse_known(const std::string &line) {
    Known k;
    Cursor c{line};
    c.literal("bar: ");
    while (c.ok && c.p < line.size() && line[c.p] == ' ') ++c.p;
    k.pct = c.digits();
    c.literal("% [");
    const std::string bar = c.ok && c.p + 20 <= line.size() ? line.substr(c.p, 20) : "";
    c.ok = c.ok && bar.size() == 20 && bar.find_first_not_of("#.") == std::string::npos &&
           bar.find("#", bar.find('.') == std::string::npos ? 20 : bar.find('.')) ==
               std::string::npos;
    c.p += 20;
    c.literal("] ");
    k.done = c.digits();
    c.literal("/");
    k.total = c.digits();
    c.literal(" | ");
    c.rate();
    c.literal(" | ");
    c.duration();
    c.literal(" elapsed, ");
    k.end = c.rest();
    if (!c.ok) return k;
    const unsigned long done = std::stoul(k.done), total = std::stoul(k.total);
    const size_t filled = bar.find('.') == std::string::npos ? 20 : bar.find('.');
    const size_t want = total == 0 || done >= total ? 20 : done * 20 / total;
    const unsigned long pct = total == 0 || done >= total ? 100 : done * 100 / total;
    bool end_ok = k.end == "done" || k.end == "failed" || k.end == "stopped" || k.end == "? left";
    if (!end_ok && k.end.size() > 5 && k.end.compare(k.end.size() - 5, 5, " left") == 0) {
        const std::string t = k.end.substr(0, k.end.size() - 5);
        Cursor d{t};
        d.duration();
        end_ok = d.ok && d.p == t.size();
    }
    k.ok = end_ok && filled == want && std::stoul(k.pct) == pct;
    return k;
}

// "gen: 4500 items | 2.25k/s | 0:02 elapsed[, done]".
struct Unknown {
    bool ok = false;
    std::string count, end;
};

Unknown parse_unknown(const std::string &line) {
    Unknown u;
    Cursor c{line};
    c.literal("gen: ");
    u.count = c.digits();
    c.literal(" items | ");
    c.rate();
    c.literal(" | ");
    c.duration();
    c.literal(" elapsed");
    const std::string rest = c.rest();
    u.end = rest.empty() ? "" : rest.substr(rest.find_first_not_of(", "));
    u.ok = c.ok && (rest.empty() || rest == ", done" || rest == ", failed" || rest == ", stopped");
    return u;
}

double seconds_now() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

int sleepy_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    const long ms = static_cast<long>(reinterpret_cast<intptr_t>(ud));
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, nullptr);
    return checksum_work(item, len, index, out, nullptr);
}

int fail_at_5_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *) {
    if (index == 5) {
        pm_sink_set_error(out, "five");
        return 1;
    }
    return checksum_work(item, len, index, out, nullptr);
}

Options bar_options(uint32_t processes, size_t chunk = PM_CHUNK_AUTO, const char *label = "bar") {
    Config cfg;
    cfg.processes = processes;
    cfg.chunk = chunk;
    Options opts = make_options(cfg);
    EXPECT_EQ(pm_options_set_progress_bar(opts.get(), 1, label), PM_OK) << pm_last_error();
    return opts;
}

std::vector<Step> run_all(const pm_options *opts, pm_input *in, pm_work_fn work,
                          void *ud = nullptr) {
    pm_map *raw = nullptr;
    EXPECT_EQ(pm_map_create(&raw, opts, in, work, ud, nullptr), PM_OK) << pm_last_error();
    if (!raw) return {};
    std::vector<Step> steps = drain(raw);
    pm_map_destroy(raw);
    return steps;
}

TEST(ProgressBar, TheTestsLineParserRejectsWhatIsWrong) {
    EXPECT_TRUE(parse_known("bar:  42% [########............] 420/1000 | 140/s | 0:03 elapsed, "
                            "0:04 left")
                    .ok);
    EXPECT_TRUE(parse_known("bar: 100% [####################] 10/10 | 1.23k/s | 1:02:03 "
                            "elapsed, done")
                    .ok);
    // Wrong fill, wrong percentage, holes in the bar, bad times and ends.
    EXPECT_FALSE(parse_known("bar:  42% [#######.............] 420/1000 | 140/s | 0:03 "
                             "elapsed, 0:04 left")
                     .ok);
    EXPECT_FALSE(parse_known("bar:  43% [########............] 420/1000 | 140/s | 0:03 "
                             "elapsed, 0:04 left")
                     .ok);
    EXPECT_FALSE(parse_known("bar:  42% [#######.#...........] 420/1000 | 140/s | 0:03 "
                             "elapsed, 0:04 left")
                     .ok);
    EXPECT_FALSE(parse_known("bar:  42% [########............] 420/1000 | 140/s | 0:3 "
                             "elapsed, 0:04 left")
                     .ok);
    EXPECT_FALSE(parse_known("bar:  42% [########............] 420/1000 | 140/s | 0:03 "
                             "elapsed, soon")
                     .ok);
    EXPECT_FALSE(parse_known("bar:  42% [########............] 420/1000 | 140 | 0:03 "
                             "elapsed, done")
                     .ok);
    EXPECT_TRUE(parse_unknown("gen: 4500 items | 2.25k/s | 0:02 elapsed").ok);
    EXPECT_TRUE(parse_unknown("gen: 4500 items | ?/s | 0:00 elapsed, stopped").ok);
    EXPECT_FALSE(parse_unknown("gen: 4500 items | 2.25k/s | 0:02 elapsed, later").ok);
    EXPECT_FALSE(parse_unknown("gen: items | 2.25k/s | 0:02 elapsed").ok);
}

TEST(ProgressBar, FastMapToAFileWritesOnlyTheFinalLine) {
    const std::vector<uint64_t> items = make_items(1000);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Options opts = bar_options(processes);
        Redirect err;
        const std::vector<Step> steps = run_all(opts.get(), array_input(items), checksum_work);
        const std::string text = err.finish();
        EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
        EXPECT_EQ(text.find('\r'), std::string::npos) << text;
        const std::vector<std::string> lines = split_lines(text);
        ASSERT_EQ(lines.size(), 1u) << text;
        const Known m = parse_known(lines[0]);
        ASSERT_TRUE(m.ok) << lines[0];
        EXPECT_EQ(m.pct, "100");
        EXPECT_EQ(m.done, "1000");
        EXPECT_EQ(m.total, "1000");
        EXPECT_EQ(m.end, "done");
    }
}

TEST(ProgressBar, SlowMapToAFileWritesPlainLinesByTenths) {
    // 60 items of 50 ms on 2 processes: at least 1.5 s, so some tenths are
    // reached after the first second, when plain lines are allowed.
    set_watchdog(60);
    const std::vector<uint64_t> items = make_items(60);
    Options opts = bar_options(2, 1);
    Redirect err;
    const double t0 = seconds_now();
    const std::vector<Step> steps =
        run_all(opts.get(), array_input(items), sleepy_work, reinterpret_cast<void *>(50));
    const double elapsed = seconds_now() - t0;
    const std::string text = err.finish();
    EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
    EXPECT_EQ(text.find('\r'), std::string::npos) << text;
    const std::vector<std::string> lines = split_lines(text);
    ASSERT_GE(lines.size(), 2u) << text;
    // Each tenth at most once (10), plus one per 10 s of a slow run, plus the last.
    EXPECT_LE(lines.size(), 11u + size_t(elapsed / 10)) << text;
    long prev_pct = -1, prev_done = -1;
    for (size_t i = 0; i < lines.size(); ++i) {
        const Known m = parse_known(lines[i]);
        ASSERT_TRUE(m.ok) << lines[i];
        const long pct = std::stol(m.pct), done = std::stol(m.done);
        EXPECT_EQ(m.total, "60");
        EXPECT_EQ(pct, done * 100 / 60) << lines[i];
        if (i + 1 < lines.size()) {
            EXPECT_GT(pct / 10, prev_pct / 10) << "no new tenth: " << lines[i];
            EXPECT_NE(m.end.find(" left"), std::string::npos) << lines[i];
        }
        EXPECT_GE(done, prev_done);
        prev_pct = pct;
        prev_done = done;
    }
    EXPECT_EQ(lines.back().substr(0, 10), "bar: 100% ");
    EXPECT_NE(lines.back().find(" 60/60 "), std::string::npos);
    EXPECT_EQ(lines.back().substr(lines.back().size() - 6), ", done");
}

TEST(ProgressBar, UnknownTotalShowsTheRunningCount) {
    const std::vector<uint64_t> items = make_items(300);
    VectorGen gen;
    gen.items = &items;
    Options opts = bar_options(2, PM_CHUNK_AUTO, "gen");
    Redirect err;
    const std::vector<Step> steps = run_all(opts.get(), vector_pull(gen), checksum_work);
    const std::string text = err.finish();
    EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
    const std::vector<std::string> lines = split_lines(text);
    ASSERT_EQ(lines.size(), 1u) << text;
    const Unknown m = parse_unknown(lines[0]);
    ASSERT_TRUE(m.ok) << lines[0];
    EXPECT_EQ(m.count, "300");
    EXPECT_EQ(m.end, "done");
}

TEST(ProgressBar, TotalHintGivesPercentagesForAPullInput) {
    const std::vector<uint64_t> items = make_items(40);
    VectorGen gen;
    gen.items = &items;
    Options opts = bar_options(2);
    ASSERT_EQ(pm_options_set_total(opts.get(), 40), PM_OK);
    Redirect err;
    run_all(opts.get(), vector_pull(gen), checksum_work);
    const std::vector<std::string> lines = split_lines(err.finish());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(parse_known(lines[0]).ok) << lines[0];
    EXPECT_NE(lines[0].find(" 40/40 "), std::string::npos) << lines[0];
}

TEST(ProgressBar, FinalFailureSaysFailed) {
    const std::vector<uint64_t> items = make_items(100);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Options opts = bar_options(processes, 1);
        Redirect err;
        const std::vector<Step> steps = run_all(opts.get(), array_input(items), fail_at_5_work);
        const std::vector<std::string> lines = split_lines(err.finish());
        ASSERT_EQ(steps.back().status, PM_EITEM);
        ASSERT_EQ(lines.size(), 1u);
        const Known m = parse_known(lines[0]);
        ASSERT_TRUE(m.ok) << lines[0];
        EXPECT_EQ(m.done, "5");  // items 0..4 were delivered
        EXPECT_EQ(m.end, "failed");
    }
}

TEST(ProgressBar, ReturnModeFailuresCountAndEndInDone) {
    const std::vector<uint64_t> items = make_items(20);
    Config cfg;
    cfg.processes = 2;
    cfg.error_mode = PM_ERRORS_RETURN;
    Options opts = make_options(cfg);
    ASSERT_EQ(pm_options_set_progress_bar(opts.get(), 1, "bar"), PM_OK);
    Redirect err;
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), fail_at_5_work, nullptr,
                            nullptr),
              PM_OK);
    const std::vector<Step> steps = drain(raw, true);
    pm_map_destroy(raw);
    const std::vector<std::string> lines = split_lines(err.finish());
    ASSERT_EQ(steps.size(), 21u);
    ASSERT_EQ(lines.size(), 1u);
    const Known m = parse_known(lines[0]);
    ASSERT_TRUE(m.ok) << lines[0];
    EXPECT_EQ(m.done, "20");
    EXPECT_EQ(m.end, "done");
}

TEST(ProgressBar, DestroyPartWaySaysStoppedOnce) {
    const std::vector<uint64_t> items = make_items(1000);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Options opts = bar_options(processes, 1);
        Redirect err;
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), checksum_work, nullptr,
                                nullptr),
                  PM_OK);
        for (int i = 0; i < 7; ++i) ASSERT_EQ(next_step(raw).status, PM_OK);
        pm_map_destroy(raw);
        const std::vector<std::string> lines = split_lines(err.finish());
        ASSERT_EQ(lines.size(), 1u);
        const Known m = parse_known(lines[0]);
        ASSERT_TRUE(m.ok) << lines[0];
        EXPECT_EQ(m.done, "7");
        EXPECT_EQ(m.end, "stopped");
    }
}

TEST(ProgressBar, DestroyBeforeAnyStepSaysStopped) {
    const std::vector<uint64_t> items = make_items(10);
    Options opts = bar_options(2);
    Redirect err;
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), checksum_work, nullptr, nullptr),
              PM_OK);
    pm_map_destroy(raw);
    const std::vector<std::string> lines = split_lines(err.finish());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_EQ(lines[0].substr(0, 34), "bar:   0% [....................] 0") << lines[0];
    EXPECT_EQ(lines[0].substr(lines[0].size() - 9), ", stopped");
}

TEST(ProgressBar, NothingAfterTheEndAndNothingOnStdout) {
    const std::vector<uint64_t> items = make_items(10);
    Options opts = bar_options(2);
    Redirect out(STDOUT_FILENO);
    Redirect err;
    pm_map *raw = nullptr;
    ASSERT_EQ(pm_map_create(&raw, opts.get(), array_input(items), checksum_work, nullptr, nullptr),
              PM_OK);
    EXPECT_EQ(check_ordered(drain(raw), expected_results(items)), 0u);
    EXPECT_EQ(pm_map_next(raw, nullptr, nullptr, nullptr), PM_ESTATE);
    pm_map_destroy(raw);
    EXPECT_EQ(split_lines(err.finish()).size(), 1u);
    EXPECT_EQ(out.finish(), "");
}

TEST(ProgressBar, RunsAlongsideTheProgressCallback) {
    const std::vector<uint64_t> items = make_items(50);
    Options opts = bar_options(2);
    uint64_t calls = 0;
    ASSERT_EQ(pm_options_set_progress(
                  opts.get(), [](uint64_t, uint64_t, void *ud) { ++*static_cast<uint64_t *>(ud); },
                  &calls),
              PM_OK);
    Redirect err;
    run_all(opts.get(), array_input(items), checksum_work);
    const std::vector<std::string> lines = split_lines(err.finish());
    EXPECT_EQ(calls, 50u);
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_TRUE(parse_known(lines[0]).ok) << lines[0];
}

TEST(ProgressBar, DisabledOrNeverSetDrawsNothing) {
    const std::vector<uint64_t> items = make_items(50);
    Options plain = make_options(Config{});
    Options off = bar_options(2);
    ASSERT_EQ(pm_options_set_progress_bar(off.get(), 0, "ignored"), PM_OK);
    Redirect err;
    run_all(plain.get(), array_input(items), checksum_work);
    run_all(off.get(), array_input(items), checksum_work);
    run_all(nullptr, array_input(items), checksum_work);
    EXPECT_EQ(err.finish(), "");
}

TEST(ProgressBar, NoLabelAndControlCharactersInTheLabel) {
    const std::vector<uint64_t> items = make_items(3);
    Options none = bar_options(1, PM_CHUNK_AUTO, nullptr);
    Options odd = bar_options(1, PM_CHUNK_AUTO, "a\nb\rc");
    Redirect err;
    run_all(none.get(), array_input(items), checksum_work);
    run_all(odd.get(), array_input(items), checksum_work);
    const std::vector<std::string> lines = split_lines(err.finish());
    ASSERT_EQ(lines.size(), 2u);
    EXPECT_EQ(lines[0].substr(0, 6), "100% [") << lines[0];
    EXPECT_EQ(lines[1].substr(0, 12), "a b c: 100% ") << lines[1];
}

TEST(ProgressBar, PoolMapsTakeTheBarFromTheirOptions) {
    const std::vector<uint64_t> items = make_items(30);
    Options opts = bar_options(2);
    pm_pool *pool = nullptr;
    ASSERT_EQ(pm_pool_create(&pool, opts.get(), checksum_work, nullptr, nullptr), PM_OK);
    Pool owner(pool);
    Options quiet = make_options(Config{});
    Redirect err;
    for (const pm_options *o : {static_cast<const pm_options *>(nullptr),
                                static_cast<const pm_options *>(quiet.get())}) {
        pm_map *raw = nullptr;
        ASSERT_EQ(pm_pool_map(&raw, pool, o, array_input(items)), PM_OK) << pm_last_error();
        EXPECT_EQ(check_ordered(drain(raw), expected_results(items)), 0u);
        pm_map_destroy(raw);
    }
    // NULL options: the pool's, with the bar; the quiet options: none.
    const std::vector<std::string> lines = split_lines(err.finish());
    ASSERT_EQ(lines.size(), 1u);
    EXPECT_NE(lines[0].find(" 30/30 "), std::string::npos) << lines[0];
}

TEST(ProgressBar, ClosedStderrStopsTheBarQuietly) {
    const std::vector<uint64_t> items = make_items(100);
    Options opts = bar_options(2);
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    ASSERT_GE(saved, 0);
    close(STDERR_FILENO);
    const std::vector<Step> steps = run_all(opts.get(), array_input(items), checksum_work);
    dup2(saved, STDERR_FILENO);
    close(saved);
    EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
}

TEST(ProgressBar, StderrPipeWithNoReaderRaisesNoSigpipe) {
    const std::vector<uint64_t> items = make_items(100);
    Options opts = bar_options(2);
    struct sigaction old_action;
    ASSERT_EQ(sigaction(SIGPIPE, nullptr, &old_action), 0);
    ASSERT_EQ(old_action.sa_handler, SIG_DFL);  // a SIGPIPE would end the test
    int p[2];
    ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
    close(p[0]);
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    dup2(p[1], STDERR_FILENO);
    close(p[1]);
    const std::vector<Step> steps = run_all(opts.get(), array_input(items), checksum_work);
    dup2(saved, STDERR_FILENO);
    close(saved);
    EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
    sigset_t pending;
    sigpending(&pending);
    EXPECT_FALSE(sigismember(&pending, SIGPIPE));
}

// ---------------------------------------------------------------------------
// On a terminal.

// A pseudo-terminal, where the environment has them: a minimal chroot or
// container without /dev/pts has none, and the terminal tests then skip
// with the reason (issue 8, item 8) while everything else runs.
struct Pty {
    int master = -1, slave = -1;
    // "" when it is open, else why it could not be.
    std::string open(unsigned short cols) {
        master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0) return std::string("no pseudo-terminal here: posix_openpt: ") + strerror(errno);
        if (grantpt(master) != 0 || unlockpt(master) != 0)
            return std::string("no pseudo-terminal here: grantpt/unlockpt: ") + strerror(errno);
        const char *name = ptsname(master);
        slave = name ? ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC) : -1;
        if (slave < 0)
            return std::string("no pseudo-terminal here: opening its slave: ") + strerror(errno);
        struct termios t;
        EXPECT_EQ(tcgetattr(slave, &t), 0);
        cfmakeraw(&t);  // no "\n" -> "\r\n": the bytes arrive as written
        EXPECT_EQ(tcsetattr(slave, TCSANOW, &t), 0);
        struct winsize ws = {};
        ws.ws_col = cols;
        ws.ws_row = 24;
        EXPECT_EQ(ioctl(slave, TIOCSWINSZ, &ws), 0);
        return "";
    }
    ~Pty() {
        if (slave >= 0) close(slave);
        if (master >= 0) close(master);
    }
    std::string read_all() {
        std::string text;
        const int flags = fcntl(master, F_GETFL);
        fcntl(master, F_SETFL, flags | O_NONBLOCK);
        char buf[4096];
        ssize_t n;
        while ((n = read(master, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
        return text;
    }
};

// Splits "\rA\rB  \rC\n" into {"A", "B", "C"} (trailing blanks dropped).
std::vector<std::string> redraws(const std::string &text) {
    std::vector<std::string> out;
    EXPECT_FALSE(text.empty());
    if (text.empty()) return out;
    EXPECT_EQ(text[0], '\r') << text;
    EXPECT_EQ(text.back(), '\n') << text;
    EXPECT_EQ(text.find('\n'), text.size() - 1) << "one line only: " << text;
    const std::string body = text.substr(1, text.size() - 2);
    size_t start = 0;
    for (;;) {
        const size_t cr = body.find('\r', start);
        std::string part = body.substr(start, cr == std::string::npos ? cr : cr - start);
        const size_t end = part.find_last_not_of(' ');
        out.push_back(end == std::string::npos ? "" : part.substr(0, end + 1));
        if (cr == std::string::npos) break;
        start = cr + 1;
    }
    return out;
}

TEST(ProgressBar, OnATerminalOneLineIsRedrawnInPlace) {
    // 30 items of 20 ms in-process: about 0.6 s, so several redraws at 10 a
    // second, the first at the first result.
    set_watchdog(60);
    Pty pty;
    if (const std::string why = pty.open(200); !why.empty()) GTEST_SKIP() << why;
    const std::vector<uint64_t> items = make_items(30);
    Options opts = bar_options(1);
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    ASSERT_EQ(dup2(pty.slave, STDERR_FILENO), STDERR_FILENO);
    const double t0 = seconds_now();
    const std::vector<Step> steps =
        run_all(opts.get(), array_input(items), sleepy_work, reinterpret_cast<void *>(20));
    const double elapsed = seconds_now() - t0;
    dup2(saved, STDERR_FILENO);
    close(saved);
    EXPECT_EQ(check_ordered(steps, expected_results(items)), 0u);
    const std::vector<std::string> parts = redraws(pty.read_all());
    ASSERT_GE(parts.size(), 3u);
    // Redraws 100 ms apart (by a clock with ~4 ms steps), plus the first and
    // the final line.
    EXPECT_LE(parts.size(), 2u + size_t(elapsed / 0.09)) << elapsed << " s";
    long prev_done = 0;
    for (size_t i = 0; i < parts.size(); ++i) {
        const Known m = parse_known(parts[i]);
        ASSERT_TRUE(m.ok) << i << ": " << parts[i];
        const long done = std::stol(m.done);
        EXPECT_GE(done, prev_done);
        prev_done = done;
    }
    EXPECT_EQ(parts.front().substr(0, 10), "bar:   3% ") << parts.front();  // 1 of 30
    EXPECT_EQ(parts.back().substr(0, 10), "bar: 100% ");
    EXPECT_EQ(parts.back().substr(parts.back().size() - 6), ", done");
}

TEST(ProgressBar, OnANarrowTerminalTheLineFits) {
    Pty pty;
    if (const std::string why = pty.open(50); !why.empty()) GTEST_SKIP() << why;
    const std::vector<uint64_t> items = make_items(10);
    Options opts = bar_options(1);
    fflush(stderr);
    const int saved = dup(STDERR_FILENO);
    ASSERT_EQ(dup2(pty.slave, STDERR_FILENO), STDERR_FILENO);
    run_all(opts.get(), array_input(items), checksum_work);
    dup2(saved, STDERR_FILENO);
    close(saved);
    const std::string text = pty.read_all();
    size_t start = 0;
    for (size_t cr; (cr = text.find('\r', start + 1)) != std::string::npos; start = cr)
        EXPECT_LE(cr - start - 1, 49u) << text;
    EXPECT_LE(text.size() - start - 2, 49u) << text;
    const std::vector<std::string> parts = redraws(text);
    ASSERT_FALSE(parts.empty());
    EXPECT_EQ(parts.back().substr(0, 10), "bar: 100% ") << parts.back();
}

TEST(ProgressBar, SetterArguments) {
    EXPECT_EQ(pm_options_set_progress_bar(nullptr, 1, "x"), PM_EINVAL);
    EXPECT_NE(std::string(pm_last_error()).find("pm_options_set_progress_bar"),
              std::string::npos);
    Options opts = make_options(Config{});
    EXPECT_EQ(pm_options_set_progress_bar(opts.get(), 1, nullptr), PM_OK);
    EXPECT_EQ(pm_options_set_progress_bar(opts.get(), 7, ""), PM_OK);
    EXPECT_EQ(pm_options_set_progress_bar(opts.get(), 0, nullptr), PM_OK);
}

} // namespace
