// pm::pareval (the Python tool's ParEval): double arrays through
// pm_pareval(), other element types through pm::map of row chunks, the
// n_chunks / n_eval / n_min split, and failures.
#include "cpp_test_util.hpp"

#include <chrono>
#include <complex>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

class ParEval : public pmcpp::Processes {};
PMCPP_FOR_PROCESSES(ParEval);

// out row r = (x0 + x1 + x2, x0 * x1 * x2) of in row r.
template <class T>
void sum_and_product(pm::rows_view<const T> in, pm::rows_view<T> out) {
    for (size_t r = 0; r < in.rows(); ++r) {
        out(r, 0) = in(r, 0) + in(r, 1) + in(r, 2);
        out(r, 1) = in(r, 0) * in(r, 1) * in(r, 2);
    }
}

template <class T>
std::vector<T> points(size_t n) {
    std::vector<T> x(n * 3);
    for (size_t i = 0; i < x.size(); ++i) x[i] = T(int(i % 13) - 4);
    return x;
}

template <class T>
std::vector<T> serial(const std::vector<T>& x) {
    const size_t n = x.size() / 3;
    std::vector<T> y(n * 2);
    sum_and_product<T>(pm::rows_view<const T>(x.data(), n, 3), pm::rows_view<T>(y.data(), n, 2));
    return y;
}

TEST_P(ParEval, DoubleArrayMatchesOneSerialCall) {
    const std::vector<double> x = points<double>(1001);
    EXPECT_EQ(pm::pareval(sum_and_product<double>, x, 3, 2, {}, opts()), serial(x));
    EXPECT_EQ(pm::pareval(sum_and_product<double>, x, 3, 2, {0, 7, 0}, opts().threads(2)),
              serial(x));
}

TEST_P(ParEval, OtherElementTypesMatchOneSerialCall) {
    const std::vector<float> xf = points<float>(777);
    EXPECT_EQ(pm::pareval(sum_and_product<float>, xf, 3, 2, {}, opts()), serial(xf));
    const std::vector<int64_t> xi = points<int64_t>(500);
    EXPECT_EQ(pm::pareval(sum_and_product<int64_t>, xi, 3, 2, {5, 0, 0}, opts()), serial(xi));
    const std::vector<std::complex<double>> xc = points<std::complex<double>>(64);
    EXPECT_EQ(pm::pareval(sum_and_product<std::complex<double>>, xc, 3, 2, {}, opts()),
              serial(xc));
}

// Each output row records the size of the chunk it was computed in, so the
// result shows the split.
template <class T>
std::vector<int> chunk_sizes(size_t n, pm::pareval_split split, const pm::options& o) {
    std::vector<T> x(n);
    auto rows_of_chunk = [](pm::rows_view<const T> in, pm::rows_view<T> out) {
        for (size_t r = 0; r < in.rows(); ++r) out(r, 0) = T(in.rows());
    };
    const std::vector<T> y = pm::pareval(rows_of_chunk, x, 1, 1, split, o);
    std::vector<int> sizes;
    for (size_t r = 0; r < y.size(); r += size_t(y[r])) sizes.push_back(int(y[r]));
    return sizes;
}

TEST_P(ParEval, SplitFollowsNChunksNEvalNMin) {
    using v = std::vector<int>;
    // The C library (double) and the C++ split (float) agree.
    EXPECT_EQ(chunk_sizes<double>(10, {0, 4, 0}, opts()), (v{4, 3, 3}));
    EXPECT_EQ(chunk_sizes<float>(10, {0, 4, 0}, opts()), (v{4, 3, 3}));
    EXPECT_EQ(chunk_sizes<double>(10, {4, 0, 0}, opts()), (v{3, 3, 2, 2}));
    EXPECT_EQ(chunk_sizes<float>(10, {4, 0, 0}, opts()), (v{3, 3, 2, 2}));
    EXPECT_EQ(chunk_sizes<double>(10, {4, 0, 3}, opts()), (v{4, 3, 3}));
    EXPECT_EQ(chunk_sizes<float>(10, {4, 0, 3}, opts()), (v{4, 3, 3}));
    EXPECT_EQ(chunk_sizes<float>(3, {10, 0, 0}, opts()), (v{1, 1, 1}));
    // Default: one chunk per worker thread.
    const int workers = int(processes() * 2);
    EXPECT_EQ(chunk_sizes<double>(100, {}, opts().threads(2)).size(), size_t(workers));
    EXPECT_EQ(chunk_sizes<float>(100, {}, opts().threads(2)).size(), size_t(workers));
    EXPECT_THROW(chunk_sizes<float>(10, {2, 2, 0}, opts()), pm::error);
    EXPECT_THROW(chunk_sizes<double>(10, {2, 2, 0}, opts()), pm::error);
}

TEST_P(ParEval, EmptyArrayGivesEmptyResult) {
    EXPECT_TRUE(pm::pareval(sum_and_product<double>, std::vector<double>{}, 3, 2, {}, opts()).empty());
    EXPECT_TRUE(pm::pareval(sum_and_product<float>, std::vector<float>{}, 3, 2, {}, opts()).empty());
}

template <class T>
void fails_on_negative(pm::rows_view<const T> in, pm::rows_view<T> out) {
    for (size_t r = 0; r < in.rows(); ++r) {
        if (in(r, 0) < 0) throw std::domain_error("negative input");
        out(r, 0) = in(r, 0);
    }
}

TEST_P(ParEval, FailedChunkThrowsNamingItsRows) {
    std::vector<double> xd(20, 1.0);
    xd[13] = -1;
    std::vector<float> xf(xd.begin(), xd.end());
    auto raising = opts().errors(pm::errors::raise);
    try {
        pm::pareval(fails_on_negative<double>, xd, 1, 1, {4, 0, 0}, raising);
        FAIL() << "no exception";
    } catch (const pm::error& e) {
        EXPECT_EQ(e.status(), PM_EITEM);
        EXPECT_NE(std::string(e.what()).find("pm::pareval: rows 10 to 14 (chunk 3 of 4): "
                                             "std::domain_error: negative input"),
                  std::string::npos)
            << e.what();
    }
    try {
        pm::pareval(fails_on_negative<float>, xf, 1, 1, {4, 0, 0}, raising);
        FAIL() << "no exception";
    } catch (const pm::error& e) {
        EXPECT_EQ(e.status(), PM_EITEM);
        EXPECT_NE(std::string(e.what()).find("rows 10 to 14 (chunk 3 of 4): std::domain_error: "
                                             "negative input"),
                  std::string::npos)
            << e.what();
    }
    // Inline: the exception itself.
    EXPECT_THROW(pm::pareval(fails_on_negative<double>, xd, 1, 1, {4, 0, 0},
                             opts().errors(pm::errors::inline_)),
                 std::domain_error);
    EXPECT_THROW(pm::pareval(fails_on_negative<float>, xf, 1, 1, {4, 0, 0},
                             opts().errors(pm::errors::inline_)),
                 std::domain_error);
    EXPECT_TRUE(pmtest::no_children());
}

// The default mode raises pm::error naming the rows with one process too.
TEST_P(ParEval, DefaultModeThrowsPmErrorForEveryProcessCount) {
    std::vector<double> xd(20, 1.0);
    xd[13] = -1;
    std::vector<float> xf(xd.begin(), xd.end());
    auto expect_named_rows = [](auto&& run) {
        try {
            run();
            ADD_FAILURE() << "no exception";
        } catch (const pm::error& e) {
            EXPECT_EQ(e.status(), PM_EITEM);
            EXPECT_NE(std::string(e.what()).find("rows 10 to 14 (chunk 3 of 4): "
                                                 "std::domain_error: negative input"),
                      std::string::npos)
                << e.what();
        } catch (...) {
            ADD_FAILURE() << "not a pm::error";
        }
    };
    expect_named_rows([&] { pm::pareval(fails_on_negative<double>, xd, 1, 1, {4, 0, 0}, opts()); });
    expect_named_rows([&] { pm::pareval(fails_on_negative<float>, xf, 1, 1, {4, 0, 0}, opts()); });
    EXPECT_TRUE(pmtest::no_children());
}

// With 16 chunks of 4 rows (column 0 is the row index): chunk 5 fails
// late, chunks 9 and 13 at once, so they finish first.
template <class T>
void fail_5_9_13(pm::rows_view<const T> in, pm::rows_view<T> out) {
    const int chunk = int(in(0, 0)) / 4;
    if (chunk == 5) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        throw std::domain_error("chunk 5");
    }
    if (chunk == 9 || chunk == 13) throw std::domain_error("chunk " + std::to_string(chunk));
    for (size_t r = 0; r < in.rows(); ++r) out(r, 0) = in(r, 0);
}

// The lowest failed chunk is the one reported (or, inline, whose exception
// comes out), whatever order the chunks finish in.
template <class T>
void expect_lowest_failed_chunk(const pm::options& o) {
    std::vector<T> x(64);
    for (size_t i = 0; i < x.size(); ++i) x[i] = T(i);
    for (int attempt = 0; attempt < 2; ++attempt) {
        try {
            pm::pareval(fail_5_9_13<T>, x, 1, 1, {16, 0, 0}, o);
            ADD_FAILURE() << "no exception";
        } catch (const pm::error& e) {
            EXPECT_NE(std::string(e.what()).find(
                          "rows 20 to 23 (chunk 6 of 16): std::domain_error: chunk 5"),
                      std::string::npos)
                << e.what();
        }
        try {
            pm::pareval(fail_5_9_13<T>, x, 1, 1, {16, 0, 0}, o.errors(pm::errors::inline_));
            ADD_FAILURE() << "no exception";
        } catch (const std::domain_error& e) {
            EXPECT_STREQ(e.what(), "chunk 5");
        }
    }
}

TEST_P(ParEval, SeveralFailedChunksReportTheLowestEveryTime) {
    expect_lowest_failed_chunk<double>(opts().threads(2));
    expect_lowest_failed_chunk<float>(opts().threads(2));
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(ParEval, ProgressCountsChunks) {
    std::vector<uint64_t> done;
    auto o = opts().on_progress([&](uint64_t d, uint64_t) { done.push_back(d); });
    pm::pareval(sum_and_product<double>, points<double>(50), 3, 2, {5, 0, 0}, o);
    EXPECT_EQ(done, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
    done.clear();
    pm::pareval(sum_and_product<float>, points<float>(50), 3, 2, {5, 0, 0}, o);
    EXPECT_EQ(done, (std::vector<uint64_t>{1, 2, 3, 4, 5}));
}

}  // namespace
