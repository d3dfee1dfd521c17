// Shared helpers for the C++ layer's tests: the C API tests' watchdog and
// hygiene checks (descriptors, children), plus a fixture parameterized on
// the number of processes.
#ifndef PARMAPPER_TESTS_CPP_TEST_UTIL_HPP
#define PARMAPPER_TESTS_CPP_TEST_UTIL_HPP

#include <parmapper.hpp>

#include "../capi/capi_test_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <iterator>
#include <string>
#include <vector>

namespace pmcpp {

// Runs a test for 1 (in-process), 2 and 4 worker processes.
class Processes : public ::testing::TestWithParam<uint32_t> {
protected:
    uint32_t processes() const { return GetParam(); }
    pm::options opts() const { return pm::options{}.processes(GetParam()); }
};

inline std::string processes_name(const ::testing::TestParamInfo<uint32_t>& info) {
    return "P" + std::to_string(info.param);
}

#define PMCPP_FOR_PROCESSES(suite)                                                         \
    INSTANTIATE_TEST_SUITE_P(All, suite, ::testing::Values(1u, 2u, 4u),                    \
                             ::pmcpp::processes_name)

inline std::vector<int> iota(int n, int from = 0) {
    std::vector<int> v;
    for (int i = 0; i < n; ++i) v.push_back(from + i);
    return v;
}

// A single-pass generator range of n strings "s0", "s1", ..., counting the
// items it produced (readable from another thread while it is iterated).
class counting_strings {
public:
    explicit counting_strings(int n) : n_(n) {}

    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
        using value_type = std::string;
        using difference_type = std::ptrdiff_t;
        using pointer = const std::string*;
        using reference = const std::string&;

        iterator() = default;
        explicit iterator(counting_strings* g) : g_(g) { g_->produce(); }
        reference operator*() const { return g_->current_; }
        iterator& operator++() {
            g_->produce();
            return *this;
        }
        void operator++(int) { ++*this; }
        bool operator==(const iterator& o) const { return done() == o.done(); }
        bool operator!=(const iterator& o) const { return !(*this == o); }

    private:
        bool done() const { return !g_ || g_->produced_ > g_->n_; }
        counting_strings* g_ = nullptr;
    };

    iterator begin() { return iterator(this); }
    iterator end() { return iterator(); }
    int produced() const { return produced_.load(); }

private:
    void produce() {
        const int k = produced_++;
        current_ = "s" + std::to_string(k);
    }
    int n_;
    std::atomic<int> produced_{0};
    std::string current_;
};

}  // namespace pmcpp

#endif
