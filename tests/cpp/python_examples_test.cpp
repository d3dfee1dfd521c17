// The Python parmapper's own usage examples (its tests.py and README),
// ported to the C++ layer with exact expected results, for 1, 2 and 4
// processes. Python's keyword arguments with defaults become keyword
// structs; "sleep" returns the t it was given instead of sleeping, so the
// tests check that the right value reached every call.
#include "cpp_test_util.hpp"

#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace py {

// def sleep(ii, t=0.05): ...; return ii   (here: return (ii, t))
struct sleep_kw {
    double t = 0.05;
};
struct sleep_kwvals {  // a per-item {'t': ...}: no serialize() needed
    std::optional<double> t;
};
struct sleeper {
    std::pair<int, double> operator()(int ii) const { return {ii, 0.05}; }
    std::pair<int, double> operator()(int ii, double t) const { return {ii, t}; }
    std::pair<int, double> operator()(int ii, const sleep_kw& k) const { return {ii, k.t}; }
};

// def addsleep(ii, jj, t=0.05): ...; return ii + jj  (here: (ii + jj, t))
struct addsleeper {
    std::pair<int, double> operator()(int ii, int jj) const { return {ii + jj, 0.05}; }
    std::pair<int, double> operator()(int ii, int jj, double t) const { return {ii + jj, t}; }
    std::pair<int, double> operator()(int ii, int jj, const sleep_kw& k) const {
        return {ii + jj, k.t};
    }
};

inline auto merge_t() { return pm::merge_fields(&sleep_kw::t, &sleep_kwvals::t); }

inline sleep_kwvals t_of(double t) {
    sleep_kwvals k;
    k.t = t;
    return k;
}

inline std::vector<int> range(int n) { return pmcpp::iota(n); }

// zip(range(n), range(n))
inline std::vector<std::pair<int, int>> zip_ranges(int n) {
    std::vector<std::pair<int, int>> v;
    for (int i = 0; i < n; ++i) v.emplace_back(i, i);
    return v;
}

// Expected (value, t) pairs.
inline std::vector<std::pair<int, double>> with_t(const std::vector<int>& values, double t) {
    std::vector<std::pair<int, double>> v;
    for (int x : values) v.emplace_back(x, t);
    return v;
}

inline std::vector<std::pair<int, double>> with_t_i40(const std::vector<int>& values) {
    std::vector<std::pair<int, double>> v;
    for (size_t i = 0; i < values.size(); ++i) v.emplace_back(values[i], double(i) / 40.0);
    return v;
}

const std::vector<int> rgold = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18};

}  // namespace py

namespace {

using namespace py;

class PythonTests : public pmcpp::Processes {};
PMCPP_FOR_PROCESSES(PythonTests);

// print('--- Regular ---'): list(parmap(sleep, range(10), N=N))
TEST_P(PythonTests, Regular) {
    EXPECT_EQ(pm::to_vector(pm::map(sleeper{}, range(10), opts())), with_t(range(10), 0.05));
}

// '--- Set KW fixed ---': kwargs={'t': 0.01}
TEST_P(PythonTests, SetKwFixed) {
    EXPECT_EQ(pm::to_vector(pm::map(sleeper{}, range(10), pm::kwargs(sleep_kw{0.01}), opts())),
              with_t(range(10), 0.01));
}

// '--- Set KW as args fixed ---': args=(0.01,)
TEST_P(PythonTests, SetKwAsArgsFixed) {
    EXPECT_EQ(pm::to_vector(pm::map(sleeper{}, range(10), pm::args(0.01), opts())),
              with_t(range(10), 0.01));
}

// '--- Set KW varied ---': ((i, {'t': i/40.0}) for i in range(10)), kwstar=True
TEST_P(PythonTests, SetKwVaried) {
    int i = 0;
    auto gen = pm::generate([&]() -> std::optional<std::pair<int, sleep_kwvals>> {
        if (i == 10) return std::nullopt;
        const int k = i++;
        return std::make_pair(k, t_of(k / 40.0));
    });
    EXPECT_EQ(pm::to_vector(pm::map(sleeper{}, gen, pm::kwstar(merge_t()),
                                    pm::kwargs(sleep_kw{}), opts())),
              with_t_i40(range(10)));
}

// '--- Set KW as arg varied ---': ((i, i/40.0) for i in range(10)), star=True
TEST_P(PythonTests, SetKwAsArgVaried) {
    std::vector<std::pair<int, double>> items;
    for (int i = 0; i < 10; ++i) items.emplace_back(i, i / 40.0);
    EXPECT_EQ(pm::to_vector(pm::map(sleeper{}, items, pm::star, opts())), with_t_i40(range(10)));
}

// '--- star ---': parmap(addsleep, zip(range(10), range(10)), star=True) == rgold
TEST_P(PythonTests, Star) {
    EXPECT_EQ(pm::to_vector(pm::map(addsleeper{}, zip_ranges(10), pm::star, opts())),
              with_t(rgold, 0.05));
}

// '--- star with kw time ---': star=True, kwargs={'t': 0.01}
TEST_P(PythonTests, StarWithKwTime) {
    EXPECT_EQ(pm::to_vector(pm::map(addsleeper{}, zip_ranges(10), pm::star,
                                    pm::kwargs(sleep_kw{0.01}), opts())),
              with_t(rgold, 0.01));
}

// '--- star with kw time as arg ---': star=True, args=(0.01,)
TEST_P(PythonTests, StarWithKwTimeAsArg) {
    EXPECT_EQ(pm::to_vector(
                  pm::map(addsleeper{}, zip_ranges(10), pm::star, pm::args(0.01), opts())),
              with_t(rgold, 0.01));
}

// '--- star with kwstar time varied ---': zip(args, [{'t': i/40.0}]),
// star=True, kwstar=True
TEST_P(PythonTests, StarWithKwstarTimeVaried) {
    std::vector<std::pair<std::pair<int, int>, sleep_kwvals>> items;
    for (int i = 0; i < 10; ++i) items.push_back({{i, i}, t_of(i / 40.0)});
    EXPECT_EQ(pm::to_vector(pm::map(addsleeper{}, items, pm::star, pm::kwstar(merge_t()),
                                    pm::kwargs(sleep_kw{}), opts())),
              with_t_i40(rgold));
}

// '--- star with arg time varied via star ---': zip(range, range, [i/40.0])
TEST_P(PythonTests, StarWithArgTimeVariedViaStar) {
    std::vector<std::tuple<int, int, double>> items;
    for (int i = 0; i < 10; ++i) items.emplace_back(i, i, i / 40.0);
    EXPECT_EQ(pm::to_vector(pm::map(addsleeper{}, items, pm::star, opts())), with_t_i40(rgold));
}

// '--- star with kwstar time varied OVERRIDE kwarg ---': kwargs={'t': 1}
// and per-item {'t': i/40.0}: the item's value wins.
TEST_P(PythonTests, StarWithKwstarTimeVariedOverrideKwarg) {
    std::vector<std::pair<std::pair<int, int>, sleep_kwvals>> items;
    for (int i = 0; i < 10; ++i) items.push_back({{i, i}, t_of(i / 40.0)});
    items[3].second.t.reset();  // no override: the kwargs' t=1 applies
    auto expected = with_t_i40(rgold);
    expected[3].second = 1.0;
    EXPECT_EQ(pm::to_vector(pm::map(addsleeper{}, items, pm::star, pm::kwstar(merge_t()),
                                    pm::kwargs(sleep_kw{1.0}), opts())),
              expected);
}

// '--- Threads ---': parmap(sleep, range(10), N=1, Nt=N, kwargs={'t': 0.01})
TEST_P(PythonTests, Threads) {
    EXPECT_EQ(pm::to_vector(pm::map(sleeper{}, range(10), pm::kwargs(sleep_kw{0.01}),
                                    pm::options{}.processes(1).threads(processes()))),
              with_t(range(10), 0.01));
}

// '--- Lambdas ---', all with N=2 in Python; here for each process count.
TEST_P(PythonTests, Lambdas) {
    // parmap(lambda a: a, range(10)) == list(range(10))
    EXPECT_EQ(pm::to_vector(pm::map([](int a) { return a; }, range(10), opts())), range(10));

    // parmap(lambda a, b: a + b, zip(range(10), range(10)), star=True)
    std::vector<int> doubled;
    for (int a : range(10)) doubled.push_back(2 * a);
    EXPECT_EQ(pm::to_vector(
                  pm::map([](int a, int b) { return a + b; }, zip_ranges(10), pm::star, opts())),
              doubled);

    // lambda a, b=2: a + b
    struct b_kw {
        int b = 2;
    };
    auto a_plus_b = [](int a, const b_kw& k) { return a + k.b; };
    std::vector<int> plus2, plus3;
    for (int a : range(10)) {
        plus2.push_back(a + 2);
        plus3.push_back(a + 3);
    }
    EXPECT_EQ(pm::to_vector(pm::map(a_plus_b, range(10), pm::kwargs(b_kw{}), opts())), plus2);
    // ... kwargs={'b': 3}
    EXPECT_EQ(pm::to_vector(pm::map(a_plus_b, range(10), pm::kwargs(b_kw{3}), opts())), plus3);
    // ... zip(range(10), [{'b': i}]), kwstar=True == [2*a]
    std::vector<std::pair<int, int>> with_b = zip_ranges(10);
    auto set_b = [](b_kw& k, int b) { k.b = b; };
    EXPECT_EQ(pm::to_vector(pm::map(a_plus_b, with_b, pm::kwstar(set_b), pm::kwargs(b_kw{}),
                                    opts())),
              doubled);

    // lambda a, b, c=2: a + b + c, zip(zip(range, range), [{'c': i}]),
    // kwstar=True, star=True == [3*a]
    struct c_kw {
        int c = 2;
    };
    std::vector<std::pair<std::pair<int, int>, int>> abc;
    std::vector<int> tripled;
    for (int i = 0; i < 10; ++i) {
        abc.push_back({{i, i}, i});
        tripled.push_back(3 * i);
    }
    EXPECT_EQ(pm::to_vector(pm::map([](int a, int b, const c_kw& k) { return a + b + k.c; }, abc,
                                    pm::star, pm::kwstar([](c_kw& k, int c) { k.c = c; }),
                                    pm::kwargs(c_kw{}), opts())),
              tripled);
}

// The README's examples.
struct opt_kw {
    bool opt = false;
    bool opt2 = true;
};
struct opt_kwvals {
    std::optional<bool> opt;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(opt);
    }
};
auto merge_opt() { return pm::merge_fields(&opt_kw::opt, &opt_kwvals::opt); }

std::string do_something_ab(int a, int b) { return std::to_string(a) + "+" + std::to_string(b); }
std::string do_something_opt(int item, const opt_kw& k) {
    return std::to_string(item) + (k.opt ? "T" : "F");
}
std::string do_something_ab_opt(int a, int b, const opt_kw& k) {
    return std::to_string(a) + "+" + std::to_string(b) + (k.opt ? "T" : "F");
}
std::string do_something_abc(int a, int b, int c, const opt_kw& k) {
    return std::to_string(a + b + c) + (k.opt ? "T" : "F") + (k.opt2 ? "T" : "F");
}

TEST_P(PythonTests, ReadmeMultipleArgumentsWithStar) {
    // parmap(do_something, zip(itemsA, itemsB), star=True)
    std::vector<std::pair<int, int>> ab;
    std::vector<std::string> expected;
    for (int i = 0; i < 10; ++i) {
        ab.emplace_back(i, 10 * i);
        expected.push_back(do_something_ab(i, 10 * i));
    }
    EXPECT_EQ(pm::to_vector(pm::map(do_something_ab, ab, pm::star, opts())), expected);
}

TEST_P(PythonTests, ReadmeChangingKeywordArguments) {
    // parmap(do_something, zip(items, [{'opt': i % 2 == 0}]), kwstar=True)
    std::vector<std::pair<int, opt_kwvals>> items;
    std::vector<std::string> expected;
    for (int i = 0; i < 10; ++i) {
        opt_kwvals o;
        o.opt = i % 2 == 0;
        items.emplace_back(100 + i, o);
        expected.push_back(std::to_string(100 + i) + (i % 2 == 0 ? "T" : "F"));
    }
    EXPECT_EQ(pm::to_vector(pm::map(do_something_opt, items, pm::kwstar(merge_opt()),
                                    pm::kwargs(opt_kw{}), opts())),
              expected);
}

TEST_P(PythonTests, ReadmeKeywordsAndMultipleArguments) {
    // parmap(do_something, zip(itemsAB, kws), star=True, kwstar=True)
    std::vector<std::pair<std::pair<int, int>, opt_kwvals>> items;
    std::vector<std::string> expected;
    for (int i = 0; i < 10; ++i) {
        opt_kwvals o;
        o.opt = i % 2 == 0;
        items.push_back({{i, -i}, o});
        expected.push_back(do_something_ab_opt(i, -i, opt_kw{i % 2 == 0, true}));
    }
    EXPECT_EQ(pm::to_vector(pm::map(do_something_ab_opt, items, pm::star, pm::kwstar(merge_opt()),
                                    pm::kwargs(opt_kw{}), opts())),
              expected);
}

TEST_P(PythonTests, ReadmeFixedArgumentAndFixedKeyword) {
    // parmap(do_something, zip(itemsAB, kws), star=True, kwstar=True,
    //        args=(itemC,), kwargs={'opt2': False})
    const int itemC = 1000;
    std::vector<std::pair<std::pair<int, int>, opt_kwvals>> items;
    std::vector<std::string> expected;
    for (int i = 0; i < 10; ++i) {
        opt_kwvals o;
        o.opt = i % 2 == 0;
        items.push_back({{i, 2 * i}, o});
        expected.push_back(do_something_abc(i, 2 * i, itemC, opt_kw{i % 2 == 0, false}));
    }
    opt_kw fixed;
    fixed.opt2 = false;
    EXPECT_EQ(pm::to_vector(pm::map(do_something_abc, items, pm::star, pm::kwstar(merge_opt()),
                                    pm::args(itemC), pm::kwargs(fixed), opts())),
              expected);
}

// ReturnProcess-free part of the README: "semi-lazy" evaluation means a map
// already runs before it is iterated, and results wait for the caller.
TEST_P(PythonTests, ResultsWaitUntilIterated) {
    auto map = pm::map([](int x) { return x * x; }, range(100), opts());
    std::vector<int> expected;
    for (int x : range(100)) expected.push_back(x * x);
    EXPECT_EQ(pm::to_vector(map), expected);
}

}  // namespace
