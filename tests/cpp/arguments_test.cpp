// The Python tool's argument modes, one test per row of its table
// (star False/True/None x kwstar False/True, with args and kwargs), each for
// 1, 2 and 4 processes, plus the pieces they are made of.
#include "cpp_test_util.hpp"

#include <array>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace kw {

// The keyword struct (Python kwargs): an aggregate with defaults.
struct knobs {
    int scale = 1;
    std::string unit = "m";
    bool loud = false;
};

// Per-item overrides (Python kwvals): only the fields an item sets.
struct knob_overrides {
    std::optional<int> scale;
    std::optional<std::string> unit;
    std::optional<bool> loud;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(scale, unit, loud);
    }
};

inline auto merge() {
    return pm::merge_fields(&knobs::scale, &knob_overrides::scale, &knobs::unit,
                            &knob_overrides::unit, &knobs::loud, &knob_overrides::loud);
}

inline std::string show(const knobs& k) {
    return std::to_string(k.scale) + k.unit + (k.loud ? "!" : "");
}

// Overrides for item i: every third sets the scale, every other the unit.
inline knob_overrides overrides_for(int i) {
    knob_overrides o;
    if (i % 3 == 0) o.scale = i;
    if (i % 2 == 0) o.unit = "cm";
    return o;
}

// Python's dj(kwargs, kwvals): the item's overrides take precedence.
inline knobs dj(knobs k, const knob_overrides& o) {
    if (o.scale) k.scale = *o.scale;
    if (o.unit) k.unit = *o.unit;
    if (o.loud) k.loud = *o.loud;
    return k;
}

}  // namespace kw

namespace {

using kw::knob_overrides;
using kw::knobs;
using pmcpp::iota;

class ArgumentModes : public pmcpp::Processes {};
PMCPP_FOR_PROCESSES(ArgumentModes);

const knobs fixed_knobs{10, "km", true};  // the call's kwargs

// star=False, kwstar=False: f(val, *args, **kwargs)
TEST_P(ArgumentModes, StarFalseKwstarFalse) {
    auto f = [](int val, int offset, const std::string& tag, const knobs& k) {
        return tag + std::to_string(val + offset) + "x" + kw::show(k);
    };
    std::vector<std::string> expected;
    for (int v : iota(20)) expected.push_back("t" + std::to_string(v + 5) + "x10km!");
    EXPECT_EQ(pm::to_vector(pm::map(f, iota(20), pm::args(5, std::string("t")),
                                    pm::kwargs(fixed_knobs), opts())),
              expected);
    // Without kwargs the call gets no keyword struct; without args, just val.
    EXPECT_EQ(pm::to_vector(pm::map([](int v, int o) { return v * o; }, iota(4), pm::args(3),
                                    opts())),
              (std::vector<int>{0, 3, 6, 9}));
    EXPECT_EQ(pm::to_vector(pm::map([](int v) { return -v; }, iota(3), opts())),
              (std::vector<int>{0, -1, -2}));
}

// star=True, kwstar=False: f(*vals, *args, **kwargs)
TEST_P(ArgumentModes, StarTrueKwstarFalse) {
    std::vector<std::tuple<int, std::string>> items;
    for (int i = 0; i < 20; ++i) items.emplace_back(i, "n" + std::to_string(i));
    auto f = [](int a, const std::string& b, double c, const knobs& k) {
        return b + "/" + std::to_string(a * k.scale + int(c));
    };
    std::vector<std::string> expected;
    for (int i = 0; i < 20; ++i) expected.push_back("n" + std::to_string(i) + "/" + std::to_string(i * 10 + 2));
    EXPECT_EQ(pm::to_vector(pm::map(f, items, pm::star, pm::args(2.0), pm::kwargs(fixed_knobs),
                                    opts())),
              expected);
    // Pairs and arrays are tuple-like too.
    std::vector<std::pair<int, int>> pairs{{1, 2}, {3, 4}};
    EXPECT_EQ(pm::to_vector(pm::map([](int a, int b) { return a * b; }, pairs, pm::star, opts())),
              (std::vector<int>{2, 12}));
    std::vector<std::array<int, 3>> triples{{{1, 2, 3}}, {{4, 5, 6}}};
    EXPECT_EQ(pm::to_vector(pm::map([](int a, int b, int c) { return a + b + c; }, triples,
                                    pm::star, opts())),
              (std::vector<int>{6, 15}));
}

// star=None, kwstar=False: f(*args, **kwargs); items only count the calls.
TEST_P(ArgumentModes, StarNoneKwstarFalse) {
    auto f = [](int a, int b, const knobs& k) { return (a + b) * k.scale; };
    EXPECT_EQ(pm::to_vector(pm::map(f, std::vector<std::string>(7, "ignored"), pm::star_none,
                                    pm::args(1, 2), pm::kwargs(fixed_knobs), opts())),
              std::vector<int>(7, 30));
    // No args and no kwargs: called with nothing at all.
    EXPECT_EQ(pm::to_vector(pm::map([] { return 42; }, iota(3), pm::star_none, opts())),
              (std::vector<int>{42, 42, 42}));
}

// star=None, kwstar=True: f(*args, **dj(kwargs, kwvals)); the item is kwvals.
TEST_P(ArgumentModes, StarNoneKwstarTrue) {
    std::vector<knob_overrides> items;
    for (int i = 0; i < 20; ++i) items.push_back(kw::overrides_for(i));
    auto f = [](const std::string& prefix, const knobs& k) { return prefix + kw::show(k); };
    std::vector<std::string> expected;
    for (int i = 0; i < 20; ++i)
        expected.push_back(">" + kw::show(kw::dj(fixed_knobs, kw::overrides_for(i))));
    EXPECT_EQ(pm::to_vector(pm::map(f, items, pm::star_none, pm::kwstar(kw::merge()),
                                    pm::args(std::string(">")), pm::kwargs(fixed_knobs), opts())),
              expected);
}

// star=False, kwstar=True: f(val, *args, **dj(kwargs, kwvals)); items are
// (val, kwvals).
TEST_P(ArgumentModes, StarFalseKwstarTrue) {
    std::vector<std::pair<int, knob_overrides>> items;
    for (int i = 0; i < 20; ++i) items.emplace_back(i * 7, kw::overrides_for(i));
    auto f = [](int val, int offset, const knobs& k) {
        return std::to_string(val + offset) + ":" + kw::show(k);
    };
    std::vector<std::string> expected;
    for (int i = 0; i < 20; ++i)
        expected.push_back(std::to_string(i * 7 + 1) + ":" +
                           kw::show(kw::dj(fixed_knobs, kw::overrides_for(i))));
    EXPECT_EQ(pm::to_vector(pm::map(f, items, pm::kwstar(kw::merge()), pm::args(1),
                                    pm::kwargs(fixed_knobs), opts())),
              expected);
}

// star=True, kwstar=True: f(*vals, *args, **dj(kwargs, kwvals)); items are
// (vals, kwvals).
TEST_P(ArgumentModes, StarTrueKwstarTrue) {
    std::vector<std::pair<std::tuple<int, int>, knob_overrides>> items;
    for (int i = 0; i < 20; ++i) items.push_back({{i, i * i}, kw::overrides_for(i)});
    auto f = [](int a, int b, char sep, const knobs& k) {
        return std::to_string(a) + sep + std::to_string(b) + sep + kw::show(k);
    };
    std::vector<std::string> expected;
    for (int i = 0; i < 20; ++i)
        expected.push_back(std::to_string(i) + "," + std::to_string(i * i) + "," +
                           kw::show(kw::dj(fixed_knobs, kw::overrides_for(i))));
    EXPECT_EQ(pm::to_vector(pm::map(f, items, pm::star, pm::kwstar(kw::merge()), pm::args(','),
                                    pm::kwargs(fixed_knobs), opts())),
              expected);
}

// Issue 8: per-item overrides of plain optionals need no serialize(); the
// (value, overrides) pair travels member by member.
struct timing {
    double t = 1.0;
    int n = 1;
};
struct timing_overrides {
    std::optional<double> t;
    std::optional<int> n;
};

TEST_P(ArgumentModes, KwstarOverridesOfPlainOptionalsNeedNoSerialize) {
    std::vector<std::pair<int, timing_overrides>> items;
    std::vector<double> expected;
    for (int i = 0; i < 30; ++i) {
        timing_overrides o;
        if (i % 2) o.t = i * 0.5;
        if (i % 3 == 0) o.n = i;
        items.push_back({i, o});
        expected.push_back(i + (o.t ? *o.t : 1.0) * (o.n ? *o.n : 1));
    }
    auto merge = pm::kwstar(
        pm::merge_fields(&timing::t, &timing_overrides::t, &timing::n, &timing_overrides::n));
    EXPECT_EQ(pm::to_vector(pm::map([](int v, const timing& k) { return v + k.t * k.n; }, items,
                                    merge, pm::kwargs(timing{}), opts())),
              expected);
}

TEST_P(ArgumentModes, KwstarMergeMayReturnTheMergedStruct) {
    // The merge function in the functional style, like Python's dj.
    std::vector<std::pair<int, knob_overrides>> items{{1, kw::overrides_for(0)},
                                                      {2, kw::overrides_for(1)}};
    auto f = [](int v, const knobs& k) { return v * k.scale; };
    EXPECT_EQ(pm::to_vector(pm::map(f, items, pm::kwstar(&kw::dj), pm::kwargs(knobs{}), opts())),
              (std::vector<int>{0, 2}));
}

TEST_P(ArgumentModes, PiecesComeInAnyOrder) {
    auto f = [](int a, int b, int c, const knobs& k) { return a + b + c + k.scale; };
    std::vector<std::pair<int, int>> items{{1, 2}};
    const std::vector<int> expected{1 + 2 + 3 + 10};
    EXPECT_EQ(pm::to_vector(pm::map(f, items, opts(), pm::kwargs(fixed_knobs), pm::args(3), pm::star)),
              expected);
    EXPECT_EQ(pm::to_vector(pm::map(f, items, pm::star, pm::args(3), opts(), pm::kwargs(fixed_knobs))),
              expected);
}

TEST(ArgumentPieces, MergeFieldsReplacesOnlyTheFieldsAnOverrideSets) {
    knobs k{5, "mm", false};
    knob_overrides o;
    o.loud = true;
    kw::merge()(k, o);
    EXPECT_EQ(kw::show(k), "5mm!");
    o.scale = 7;
    o.unit = "in";
    kw::merge()(k, o);
    EXPECT_EQ(kw::show(k), "7in!");
}

TEST(ArgumentPieces, ArgsAreCopiedAtTheCallAndPassedAsConstLvalues) {
    std::string unit = "kg";
    auto a = pm::args(unit, 3);
    unit = "changed";
    EXPECT_EQ(std::get<0>(a.values), "kg");
    // std::cref passes a reference instead (fine for inherited memory).
    const std::vector<int> big = iota(1000);
    auto sum_at = [](int i, const std::vector<int>& v) { return v[size_t(i)] * 2; };
    EXPECT_EQ(pm::to_vector(pm::map(sum_at, iota(3, 10), pm::args(std::cref(big)),
                                    pm::options{}.processes(2))),
              (std::vector<int>{20, 22, 24}));
}

}  // namespace
