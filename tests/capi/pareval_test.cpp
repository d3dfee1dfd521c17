// pm_pareval: exact results against a serial call, the documented split
// (observed from inside the row function), failures and arguments.
#include "capi_test_util.hpp"

#include <cmath>

namespace {

using namespace pmtest;

// Column 0 of every input row is the row's index, so a chunk can tell where
// it starts; the other columns are arbitrary values.
std::vector<double> make_x(size_t n, size_t ndim) {
    std::vector<double> x(n * ndim);
    for (size_t r = 0; r < n; ++r)
        for (size_t k = 0; k < ndim; ++k)
            x[r * ndim + k] = k == 0 ? double(r) : double(mix64(r * 131 + k) % 100000) / 7.0;
    return x;
}

// Output j of a row: a function of the whole row and j, not of the chunk.
int row_fn(const double *x, size_t rows, size_t ndim, double *y, size_t out_width, void *) {
    for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < out_width; ++j) {
            double v = double(j) * 0.5 + 1.0;
            for (size_t k = 0; k < ndim; ++k) v += std::sin(x[r * ndim + k] * double(j + 1)) * 3.0;
            y[r * out_width + j] = v;
        }
    return 0;
}

std::vector<double> serial(const std::vector<double> &x, size_t n, size_t ndim,
                           size_t out_width) {
    std::vector<double> y(n * out_width);
    row_fn(x.empty() ? nullptr : x.data(), n, ndim, y.empty() ? nullptr : y.data(), out_width,
           nullptr);
    return y;
}

Options opts_for(uint32_t processes, uint32_t threads = 1) {
    Config cfg;
    cfg.processes = processes;
    cfg.threads = threads;
    return make_options(cfg);
}

// Writes, for every output row, the first row of its chunk and the chunk's
// row count (out_width 2); needs ndim >= 1.
int layout_fn(const double *x, size_t rows, size_t ndim, double *y, size_t out_width, void *) {
    if (out_width != 2 || ndim < 1) return 9;
    for (size_t r = 0; r < rows; ++r) {
        y[r * 2] = x[0];
        y[r * 2 + 1] = double(rows);
    }
    return 0;
}

// The chunk sizes pm_pareval used, in row order.
std::vector<uint64_t> observed_chunks(const pm_options *opts, size_t n, size_t n_chunks,
                                      size_t n_eval, size_t n_min) {
    const std::vector<double> x = make_x(n, 1);
    std::vector<double> y(n * 2, -1.0);
    const int rc = pm_pareval(opts, layout_fn, nullptr, x.data(), n, 1, y.data(), 2, n_chunks,
                              n_eval, n_min);
    EXPECT_EQ(rc, PM_OK) << pm_last_error();
    std::vector<uint64_t> sizes;
    size_t r = 0;
    while (r < n) {
        const size_t first = size_t(y[r * 2]), rows = size_t(y[r * 2 + 1]);
        EXPECT_EQ(first, r) << "chunk boundaries";
        if (first != r || rows == 0) break;
        for (size_t i = r; i < r + rows && i < n; ++i) {
            EXPECT_EQ(size_t(y[i * 2]), first);
            EXPECT_EQ(size_t(y[i * 2 + 1]), rows);
        }
        sizes.push_back(rows);
        r += rows;
    }
    return sizes;
}

using Sizes = std::vector<uint64_t>;

TEST(ParEval, ExactlyTheSerialResult) {
    set_watchdog(120);
    for (uint32_t processes : {1u, 2u, 4u})
        for (size_t n : {size_t{1}, size_t{7}, size_t{100}, size_t{1001}})
            for (size_t ndim : {size_t{1}, size_t{3}})
                for (size_t out_width : {size_t{1}, size_t{5}}) {
                    SCOPED_TRACE(::testing::Message() << "processes " << processes << " n " << n
                                                      << " ndim " << ndim << " out_width "
                                                      << out_width);
                    Options opts = opts_for(processes);
                    const std::vector<double> x = make_x(n, ndim);
                    std::vector<double> y(n * out_width, std::nan(""));
                    ASSERT_EQ(pm_pareval(opts.get(), row_fn, nullptr, x.data(), n, ndim, y.data(),
                                         out_width, 0, 0, 0),
                              PM_OK)
                        << pm_last_error();
                    const std::vector<double> want = serial(x, n, ndim, out_width);
                    // Bit for bit: the same code ran on the same rows.
                    ASSERT_EQ(memcmp(y.data(), want.data(), y.size() * sizeof(double)), 0);
                }
    EXPECT_TRUE(no_children());
}

TEST(ParEval, LargeArrayWithEachSplitParameter) {
    set_watchdog(120);
    const size_t n = 100003, ndim = 3, out_width = 2;
    const std::vector<double> x = make_x(n, ndim);
    const std::vector<double> want = serial(x, n, ndim, out_width);
    Options opts = opts_for(4);
    struct {
        size_t n_chunks, n_eval, n_min;
    } splits[] = {{0, 0, 0}, {7, 0, 0}, {0, 1000, 0}, {0, 0, 40000}, {64, 0, 5000}, {0, 3, 20000}};
    for (const auto &s : splits) {
        SCOPED_TRACE(::testing::Message() << "n_chunks " << s.n_chunks << " n_eval " << s.n_eval
                                          << " n_min " << s.n_min);
        std::vector<double> y(n * out_width, std::nan(""));
        ASSERT_EQ(pm_pareval(opts.get(), row_fn, nullptr, x.data(), n, ndim, y.data(), out_width,
                             s.n_chunks, s.n_eval, s.n_min),
                  PM_OK)
            << pm_last_error();
        ASSERT_EQ(memcmp(y.data(), want.data(), y.size() * sizeof(double)), 0);
    }
}

TEST(ParEval, DefaultIsOneChunkPerWorkerThread) {
    for (uint32_t processes : {1u, 2u, 4u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Options opts = opts_for(processes);
        const Sizes got = observed_chunks(opts.get(), 10, 0, 0, 0);
        const Sizes want = processes == 1 ? Sizes{10} : processes == 2 ? Sizes{5, 5}
                                                                       : Sizes{3, 3, 2, 2};
        EXPECT_EQ(got, want);
    }
    Options two_by_three = opts_for(2, 3);
    EXPECT_EQ(observed_chunks(two_by_three.get(), 12, 0, 0, 0), Sizes(6, 2));
    // NULL options: one chunk per online CPU.
    const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    const size_t n = 1000;
    const Sizes got = observed_chunks(nullptr, n, 0, 0, 0);
    EXPECT_EQ(got.size(), size_t(std::min<long>(cpus > 0 ? cpus : 1, 1000)));
}

TEST(ParEval, EachSplitParameterAsDocumented) {
    for (uint32_t processes : {1u, 2u, 4u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Options opts = opts_for(processes);
        // The header's examples.
        EXPECT_EQ(observed_chunks(opts.get(), 10, 0, 4, 0), (Sizes{4, 3, 3}));
        EXPECT_EQ(observed_chunks(opts.get(), 10, 4, 0, 0), (Sizes{3, 3, 2, 2}));
        EXPECT_EQ(observed_chunks(opts.get(), 10, 4, 0, 3), (Sizes{4, 3, 3}));
        // n_chunks beyond n: one row each.
        EXPECT_EQ(observed_chunks(opts.get(), 3, 8, 0, 0), (Sizes{1, 1, 1}));
        // n_eval: rows per chunk at most n_eval.
        EXPECT_EQ(observed_chunks(opts.get(), 12, 0, 5, 0), (Sizes{4, 4, 4}));
        EXPECT_EQ(observed_chunks(opts.get(), 7, 0, 1, 0), Sizes(7, 1));
        // n_min alone lowers the default count; fewer rows than n_min: one chunk.
        EXPECT_EQ(observed_chunks(opts.get(), 9, 0, 0, 5), Sizes{9});
        EXPECT_EQ(observed_chunks(opts.get(), 3, 0, 0, 10), Sizes{3});
        // n_min wins over n_eval.
        EXPECT_EQ(observed_chunks(opts.get(), 10, 0, 2, 4), (Sizes{5, 5}));
    }
}

int g_calls = 0;

int counting_fn(const double *x, size_t rows, size_t ndim, double *y, size_t out_width,
                void *ud) {
    ++g_calls;  // seen by the test only when run in-process
    return row_fn(x, rows, ndim, y, out_width, ud);
}

TEST(ParEval, NoRowsCallsNothing) {
    Options opts = opts_for(1);
    g_calls = 0;
    EXPECT_EQ(pm_pareval(opts.get(), counting_fn, nullptr, nullptr, 0, 3, nullptr, 2, 0, 0, 0),
              PM_OK);
    EXPECT_EQ(pm_pareval(opts.get(), counting_fn, nullptr, nullptr, 0, 3, nullptr, 2, 5, 0, 0),
              PM_OK);
    Options four = opts_for(4);
    EXPECT_EQ(pm_pareval(four.get(), counting_fn, nullptr, nullptr, 0, 3, nullptr, 2, 0, 0, 0),
              PM_OK);
    EXPECT_EQ(g_calls, 0);
    EXPECT_TRUE(no_children());
}

int constant_fn(const double *x, size_t rows, size_t ndim, double *y, size_t out_width, void *) {
    if (ndim != 0 || x != nullptr) return 1;
    for (size_t i = 0; i < rows * out_width; ++i) y[i] = 2.5 + double(i % out_width);
    return 0;
}

TEST(ParEval, ZeroColumnsInOrOut) {
    for (uint32_t processes : {1u, 2u, 4u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Options opts = opts_for(processes);
        // ndim 0: x may be NULL; each chunk still gets its row count.
        std::vector<double> y(9 * 3, 0.0);
        ASSERT_EQ(pm_pareval(opts.get(), constant_fn, nullptr, nullptr, 9, 0, y.data(), 3, 0, 0,
                             0),
                  PM_OK)
            << pm_last_error();
        for (size_t i = 0; i < y.size(); ++i) EXPECT_EQ(y[i], 2.5 + double(i % 3)) << i;
        // out_width 0: y may be NULL, nothing comes back, but every chunk runs.
        const std::vector<double> x = make_x(9, 2);
        ASSERT_EQ(pm_pareval(opts.get(), row_fn, nullptr, x.data(), 9, 2, nullptr, 0, 3, 0, 0),
                  PM_OK)
            << pm_last_error();
    }
    Options one = opts_for(1);
    const std::vector<double> x = make_x(9, 2);
    g_calls = 0;
    ASSERT_EQ(pm_pareval(one.get(), counting_fn, nullptr, x.data(), 9, 2, nullptr, 0, 3, 0, 0),
              PM_OK);
    EXPECT_EQ(g_calls, 3);
}

// Fails the chunk holding row 13 (column 0 is the row index).
int fail_13_fn(const double *x, size_t rows, size_t ndim, double *y, size_t out_width, void *ud) {
    for (size_t r = 0; r < rows; ++r)
        if (x[r * ndim] == 13.0) {
            if (ud) raise(SIGSEGV);
            return 5;
        }
    return row_fn(x, rows, ndim, y, out_width, nullptr);
}

TEST(ParEval, AFailingChunkNamesItsRows) {
    set_watchdog(60);
    const std::vector<double> x = make_x(40, 2);
    for (uint32_t processes : {1u, 2u, 4u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Options opts = opts_for(processes);
        std::vector<double> y(40 * 3);
        EXPECT_EQ(pm_pareval(opts.get(), fail_13_fn, nullptr, x.data(), 40, 2, y.data(), 3, 4, 0,
                             0),
                  PM_EITEM);
        EXPECT_STREQ(pm_last_error(), "rows 10 to 19 (chunk 2 of 4): the row function returned 5");
        if (processes > 1) {
            int crash = 1;
            EXPECT_EQ(pm_pareval(opts.get(), fail_13_fn, &crash, x.data(), 40, 2, y.data(), 3, 0,
                                 8, 0),
                      PM_EWORKER);
            const std::string e = pm_last_error();
            EXPECT_EQ(e.rfind("rows 8 to 15 (chunk 2 of 5): ", 0), 0u) << e;
            EXPECT_NE(e.find("SIGSEGV"), std::string::npos) << e;
        }
    }
    EXPECT_TRUE(no_children());
}

// With 16 chunks of 4 rows: chunk 5 (rows 20 to 23) fails late, chunks 9
// and 13 at once, so they finish first; chunk 13 crashes its worker when ud
// is set. The lowest failed chunk, 5, is the one to report, in every error
// mode and however the chunks are spread over processes and threads.
int fail_5_9_13_fn(const double *x, size_t rows, size_t ndim, double *y, size_t out_width,
                   void *ud) {
    const size_t chunk = size_t(x[0]) / 4;
    if (chunk == 5) {
        usleep(150 * 1000);
        pm_pareval_set_error("chunk 5 failed late");
        return 7;
    }
    if (chunk == 9) return 8;
    if (chunk == 13) {
        if (ud) raise(SIGSEGV);
        return 9;
    }
    return row_fn(x, rows, ndim, y, out_width, nullptr);
}

TEST(ParEval, SeveralFailedChunksReportTheLowestEveryTime) {
    set_watchdog(120);
    const std::vector<double> x = make_x(64, 1);
    struct {
        uint32_t processes, threads;
        int error_mode;
    } configs[] = {{2, 1, PM_ERRORS_RAISE}, {4, 1, PM_ERRORS_RAISE}, {2, 2, PM_ERRORS_RETURN},
                   {1, 4, PM_ERRORS_RAISE}, {4, 3, PM_ERRORS_INLINE}};
    for (const auto &c : configs) {
        Config cfg;
        cfg.processes = c.processes;
        cfg.threads = c.threads;
        cfg.error_mode = c.error_mode;
        Options opts = make_options(cfg);
        // A crash with one thread per worker only: with more, it would also
        // fail what the worker's other threads ran, chunk 5 included.
        const bool crashes = c.processes > 1 && c.threads == 1 && c.error_mode != PM_ERRORS_INLINE;
        int crash = 1;
        for (int attempt = 0; attempt < 4; ++attempt) {
            SCOPED_TRACE(::testing::Message() << "processes " << c.processes << " threads "
                                              << c.threads << " mode " << c.error_mode
                                              << " attempt " << attempt);
            std::vector<double> y(64);
            EXPECT_EQ(pm_pareval(opts.get(), fail_5_9_13_fn, crashes ? &crash : nullptr, x.data(),
                                 64, 1, y.data(), 1, 16, 0, 0),
                      PM_EITEM);
            EXPECT_STREQ(pm_last_error(), "rows 20 to 23 (chunk 6 of 16): chunk 5 failed late");
            // Every chunk before it ran.
            const std::vector<double> want = serial(x, 64, 1, 1);
            EXPECT_EQ(memcmp(y.data(), want.data(), 20 * sizeof(double)), 0);
        }
    }
    EXPECT_TRUE(no_children());
}

// Fails the chunk holding row 13 with a message of its own.
int explain_13_fn(const double *x, size_t rows, size_t ndim, double *y, size_t out_width,
                  void *) {
    for (size_t r = 0; r < rows; ++r)
        if (x[r * ndim] == 13.0) {
            pm_pareval_set_error("first try");
            pm_pareval_set_error("row 13 is out of range");
            return 1;
        }
    return row_fn(x, rows, ndim, y, out_width, nullptr);
}

TEST(ParEval, ARowFunctionCanSetItsFailuresMessage) {
    set_watchdog(60);
    const std::vector<double> x = make_x(40, 2);
    for (uint32_t processes : {1u, 2u}) {
        SCOPED_TRACE("processes " + std::to_string(processes));
        Options opts = opts_for(processes);
        std::vector<double> y(40 * 3);
        EXPECT_EQ(pm_pareval(opts.get(), explain_13_fn, nullptr, x.data(), 40, 2, y.data(), 3, 4,
                             0, 0),
                  PM_EITEM);
        EXPECT_STREQ(pm_last_error(), "rows 10 to 19 (chunk 2 of 4): row 13 is out of range");
    }
    // Outside a row function there is no chunk to fail.
    EXPECT_EQ(pm_pareval_set_error("nothing"), PM_ESTATE);
    EXPECT_EQ(pm_pareval_set_error(nullptr), PM_EINVAL);
    EXPECT_TRUE(no_children());
}

TEST(ParEval, ErrorModesOtherThanInlineStillStopAtTheFirstFailure) {
    Config cfg;
    cfg.processes = 2;
    cfg.error_mode = PM_ERRORS_RETURN;
    Options opts = make_options(cfg);
    const std::vector<double> x = make_x(40, 2);
    std::vector<double> y(40 * 3);
    EXPECT_EQ(pm_pareval(opts.get(), fail_13_fn, nullptr, x.data(), 40, 2, y.data(), 3, 4, 0, 0),
              PM_EITEM);
}

int in_caller_fn(const double *, size_t rows, size_t, double *y, size_t out_width, void *ud) {
    // Inline mode: the caller's memory, live.
    *static_cast<size_t *>(ud) += rows;
    for (size_t i = 0; i < rows * out_width; ++i) y[i] = 1.0;
    return 0;
}

TEST(ParEval, InlineModeRunsInTheCallingProcess) {
    Config cfg;
    cfg.processes = 4;
    cfg.error_mode = PM_ERRORS_INLINE;
    Options opts = make_options(cfg);
    size_t rows_seen = 0;
    std::vector<double> y(25, 0.0);
    const std::vector<double> x = make_x(25, 1);
    ASSERT_EQ(pm_pareval(opts.get(), in_caller_fn, &rows_seen, x.data(), 25, 1, y.data(), 1, 0, 0,
                         0),
              PM_OK);
    EXPECT_EQ(rows_seen, 25u);
    for (double v : y) EXPECT_EQ(v, 1.0);
}

void count_progress(uint64_t done, uint64_t total, void *ud) {
    auto *log = static_cast<std::vector<std::pair<uint64_t, uint64_t>> *>(ud);
    log->push_back({done, total});
}

TEST(ParEval, ProgressCountsChunks) {
    Options opts = opts_for(2);
    std::vector<std::pair<uint64_t, uint64_t>> log;
    ASSERT_EQ(pm_options_set_progress(opts.get(), count_progress, &log), PM_OK);
    const std::vector<double> x = make_x(100, 1);
    std::vector<double> y(100);
    ASSERT_EQ(pm_pareval(opts.get(), row_fn, nullptr, x.data(), 100, 1, y.data(), 1, 0, 10, 0),
              PM_OK);
    ASSERT_EQ(log.size(), 10u);
    for (size_t i = 0; i < log.size(); ++i) {
        EXPECT_EQ(log[i].first, i + 1);
        EXPECT_EQ(log[i].second, 10u);
    }
}

TEST(ParEval, Arguments) {
    const std::vector<double> x = make_x(10, 2);
    std::vector<double> y(10 * 2);
    EXPECT_EQ(pm_pareval(nullptr, nullptr, nullptr, x.data(), 10, 2, y.data(), 2, 0, 0, 0),
              PM_EINVAL);
    EXPECT_NE(std::string(pm_last_error()).find("fn is NULL"), std::string::npos);
    EXPECT_EQ(pm_pareval(nullptr, row_fn, nullptr, x.data(), 10, 2, y.data(), 2, 2, 3, 0),
              PM_EINVAL);
    EXPECT_NE(std::string(pm_last_error()).find("n_chunks and n_eval"), std::string::npos);
    EXPECT_EQ(pm_pareval(nullptr, row_fn, nullptr, nullptr, 10, 2, y.data(), 2, 0, 0, 0),
              PM_EINVAL);
    EXPECT_EQ(pm_pareval(nullptr, row_fn, nullptr, x.data(), 10, 2, nullptr, 2, 0, 0, 0),
              PM_EINVAL);
    EXPECT_EQ(pm_pareval(nullptr, row_fn, nullptr, x.data(), SIZE_MAX / 8, 2, y.data(), 2, 0, 0,
                         0),
              PM_EINVAL);
    EXPECT_NE(std::string(pm_last_error()).find("overflow"), std::string::npos);
    EXPECT_EQ(pm_pareval(nullptr, row_fn, nullptr, x.data(), 10, 2, y.data(), SIZE_MAX / 4, 0, 0,
                         0),
              PM_EINVAL);
    EXPECT_TRUE(no_children());
}

TEST(ParEval, LeavesNoDescriptorNorChild) {
    const auto before = open_fds();
    const std::vector<double> x = make_x(50, 2);
    std::vector<double> y(50);
    Options opts = opts_for(4);
    for (int i = 0; i < 20; ++i)
        ASSERT_EQ(pm_pareval(opts.get(), row_fn, nullptr, x.data(), 50, 2, y.data(), 1, 0, 0, 0),
                  PM_OK);
    std::vector<double> y3(50 * 3);
    ASSERT_EQ(pm_pareval(opts.get(), fail_13_fn, nullptr, x.data(), 50, 2, y3.data(), 3, 0, 0, 0),
              PM_EITEM);
    const auto after = open_fds();
    EXPECT_EQ(before, after) << fd_diff(before, after);
    EXPECT_TRUE(no_children());
}

} // namespace
