// Result (and item) types that cereal serializes: standard types, user
// structs with a member or a free serialize function, and results that do
// not decode (an error, never a crash).
#include "cpp_test_util.hpp"

#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

namespace shapes {

// A user type with a member serialize().
struct rect {
    std::string name;
    std::vector<double> sides;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(name, sides);
    }
    bool operator==(const rect& o) const { return name == o.name && sides == o.sides; }
};

// A user type with a free serialize(), found by ADL.
struct tagged {
    int id = 0;
    std::map<std::string, std::optional<int>> tags;
    bool operator==(const tagged& o) const { return id == o.id && tags == o.tags; }
};
template <class Archive>
void serialize(Archive& ar, tagged& t) {
    ar(t.id, t.tags);
}

// Saves differently from how it loads for odd values: the result of an odd
// value cannot be decoded (8 bytes left over).
struct lopsided {
    int value = 0;
    template <class Archive>
    void save(Archive& ar) const {
        ar(value);
        if (value % 2) ar(int64_t{-1});
    }
    template <class Archive>
    void load(Archive& ar) {
        ar(value);
    }
};

// Loads more than was saved for multiples of 3: a short read.
struct greedy {
    int value = 0;
    template <class Archive>
    void save(Archive& ar) const {
        ar(value);
    }
    template <class Archive>
    void load(Archive& ar) {
        ar(value);
        if (value % 3 == 0) {
            std::string more;
            ar(more);
        }
    }
};

// Encodes a member with the layer's own codec from inside its save(): the
// per-thread stream is then in use, and the nested call must get another.
struct nested {
    std::string text;
    template <class Archive>
    void save(Archive& ar) const {
        std::string inner;
        pm::detail::encode_item(text, inner);
        ar(inner, text.size());
    }
    template <class Archive>
    void load(Archive& ar) {
        std::string inner;
        size_t size = 0;
        ar(inner, size);
        text = pm::detail::decode_item<std::string>(inner.data(), inner.size());
        if (text.size() != size) throw std::runtime_error("nested decode lost bytes");
    }
};

// Plain aggregates with no serialize(): trivially copyable, so they travel
// as their bytes, alone or as members of pairs, tuples and optionals.
struct point {
    double x = 0, y = 0;
    bool operator==(const point& o) const { return x == o.x && y == o.y; }
};
enum class color : uint8_t { red = 1, green = 2 };
struct limits {  // the per-item keyword overrides of issue 8
    std::optional<double> t;
    std::optional<int> n;
    bool operator==(const limits& o) const { return t == o.t && n == o.n; }
};
static_assert(std::is_trivially_copyable_v<std::optional<double>>,
              "libstdc++: optional of a trivially copyable type is trivially copyable");
static_assert(std::is_trivially_copyable_v<limits>);
static_assert(!std::is_trivially_copyable_v<std::pair<int, point>>,
              "std::pair never is: the layer codes it member by member");

}  // namespace shapes

namespace {

using pmcpp::iota;

class Results : public pmcpp::Processes {};
PMCPP_FOR_PROCESSES(Results);

TEST_P(Results, StandardLibraryTypes) {
    const std::vector<int> items = iota(30);

    auto strings = pm::to_vector(
        pm::map([](int x) { return std::string(size_t(x), char('a' + x % 26)); }, items, opts()));
    ASSERT_EQ(strings.size(), items.size());
    for (int x : items) EXPECT_EQ(strings[size_t(x)], std::string(size_t(x), char('a' + x % 26)));

    auto vectors = pm::to_vector(pm::map([](int x) { return iota(x % 5, x); }, items, opts()));
    for (int x : items) EXPECT_EQ(vectors[size_t(x)], iota(x % 5, x));

    auto maps = pm::to_vector(pm::map(
        [](int x) { return std::map<std::string, int>{{"x", x}, {"sq", x * x}}; }, items, opts()));
    for (int x : items) EXPECT_EQ(maps[size_t(x)].at("sq"), x * x);

    auto tuples = pm::to_vector(pm::map(
        [](int x) { return std::make_tuple(x, double(x) / 2, std::to_string(x)); }, items, opts()));
    for (int x : items)
        EXPECT_EQ(tuples[size_t(x)], std::make_tuple(x, double(x) / 2, std::to_string(x)));

    auto optionals = pm::to_vector(pm::map(
        [](int x) { return x % 3 ? std::optional<std::string>(std::to_string(x)) : std::nullopt; },
        items, opts()));
    for (int x : items)
        EXPECT_EQ(optionals[size_t(x)],
                  x % 3 ? std::optional<std::string>(std::to_string(x)) : std::nullopt);

    auto variants = pm::to_vector(pm::map(
        [](int x) -> std::variant<int, std::string> {
            if (x % 2) return std::to_string(x);
            return x;
        },
        items, opts()));
    for (int x : items)
        EXPECT_EQ(variants[size_t(x)],
                  (x % 2 ? std::variant<int, std::string>(std::to_string(x))
                         : std::variant<int, std::string>(x)));

    auto nested = pm::to_vector(pm::map(
        [](int x) {
            return std::pair<std::set<int>, std::array<char, 3>>{{x, -x}, {{'a', char('a' + x % 26), 'z'}}};
        },
        items, opts()));
    for (int x : items) {
        EXPECT_EQ(nested[size_t(x)].first, (std::set<int>{x, -x}));
        EXPECT_EQ(nested[size_t(x)].second[1], char('a' + x % 26));
    }
}

TEST_P(Results, UserStructsWithMemberAndFreeSerialize) {
    const std::vector<int> items = iota(20);
    auto rects = pm::to_vector(pm::map(
        [](int x) { return shapes::rect{"r" + std::to_string(x), {double(x), x + 0.5}}; }, items,
        opts()));
    for (int x : items)
        EXPECT_EQ(rects[size_t(x)], (shapes::rect{"r" + std::to_string(x), {double(x), x + 0.5}}));

    auto tagged = pm::to_vector(pm::map(
        [](int x) {
            shapes::tagged t;
            t.id = x;
            t.tags["even"] = x % 2 ? std::nullopt : std::optional<int>(x / 2);
            return t;
        },
        items, opts()));
    for (int x : items) {
        EXPECT_EQ(tagged[size_t(x)].id, x);
        EXPECT_EQ(tagged[size_t(x)].tags.at("even"),
                  x % 2 ? std::nullopt : std::optional<int>(x / 2));
    }
}

TEST_P(Results, UserStructsAsItems) {
    std::vector<shapes::rect> rects;
    for (int i = 0; i < 25; ++i)
        rects.push_back({std::string(size_t(i), 'n'), std::vector<double>(size_t(i % 4), i)});
    auto perimeter = [](const shapes::rect& r) {
        double p = 0;
        for (double s : r.sides) p += s;
        return r.name + ":" + std::to_string(p);
    };
    std::vector<std::string> expected;
    for (const auto& r : rects) expected.push_back(perimeter(r));
    EXPECT_EQ(pm::to_vector(pm::map(perimeter, rects, opts())), expected);
}

TEST_P(Results, SerializersMayUseTheCodecThemselves) {
    auto got = pm::to_vector(pm::map(
        [](const shapes::nested& n) { return shapes::nested{n.text + "/" + n.text}; },
        std::vector<shapes::nested>{{"a"}, {"bc"}, {""}}, opts()));
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0].text, "a/a");
    EXPECT_EQ(got[1].text, "bc/bc");
    EXPECT_EQ(got[2].text, "/");
}

TEST_P(Results, PairsTuplesAndOptionalsOfPlainStructsNeedNoSerialize) {
    using shapes::color;
    using shapes::limits;
    using shapes::point;
    using item_t = std::tuple<int, point, std::pair<color, limits>, std::optional<point>>;
    std::vector<item_t> items;
    for (int i = 0; i < 40; ++i) {
        limits l;
        if (i % 3) l.t = i / 4.0;
        if (i % 5 == 0) l.n = -i;
        items.push_back({i, point{double(i), -1.5}, {i % 2 ? color::red : color::green, l},
                         i % 4 ? std::optional<point>(point{0.5, double(i)}) : std::nullopt});
    }
    // The item comes back unchanged, also as members of the result.
    EXPECT_EQ(pm::to_vector(pm::map([](const item_t& it) { return it; }, items, opts())), items);
    // A plain struct as the whole result, and an optional pair of them.
    std::vector<point> points;
    std::vector<std::optional<std::pair<int, point>>> opt_pairs;
    for (const item_t& it : items) {
        points.push_back(std::get<1>(it));
        if (std::get<0>(it) % 3)
            opt_pairs.emplace_back(std::pair<int, point>(std::get<0>(it), std::get<1>(it)));
        else
            opt_pairs.emplace_back();
    }
    EXPECT_EQ(pm::to_vector(pm::map([](const item_t& it) { return std::get<1>(it); }, items,
                                    opts())),
              points);
    EXPECT_EQ(pm::to_vector(pm::map(
                  [](const item_t& it) -> std::optional<std::pair<int, point>> {
                      if (std::get<0>(it) % 3 == 0) return std::nullopt;
                      return std::pair<int, point>(std::get<0>(it), std::get<1>(it));
                  },
                  items, opts())),
              opt_pairs);
    // Mixed with members that go through cereal.
    std::vector<std::pair<std::string, point>> named;
    for (int i = 0; i < 10; ++i) named.push_back({std::string(size_t(i), 'n'), point{1, 2}});
    EXPECT_EQ(pm::to_vector(pm::map([](const std::pair<std::string, point>& p) { return p; },
                                    named, opts())),
              named);
}

TEST(ResultDecoding, MemberWiseCodingIsTheMembersBytes) {
    // A pair of plain members is their bytes, one after the other: no size,
    // no padding.
    std::string out;
    pm::detail::encode_item(std::pair<int32_t, double>(7, 2.5), out);
    ASSERT_EQ(out.size(), sizeof(int32_t) + sizeof(double));
    int32_t first = 0;
    double second = 0;
    std::memcpy(&first, out.data(), sizeof first);
    std::memcpy(&second, out.data() + sizeof first, sizeof second);
    EXPECT_EQ(first, 7);
    EXPECT_EQ(second, 2.5);
    // An optional that is not trivially copyable is cereal's layout: a
    // "nullopt" byte (1: empty), then the value when it has one.
    using opt_pair = std::optional<std::pair<int32_t, int32_t>>;
    pm::detail::encode_item(std::pair<int32_t, opt_pair>(1, std::nullopt), out);
    EXPECT_EQ(out.size(), sizeof(int32_t) + 1);
    EXPECT_EQ(out[sizeof(int32_t)], 1);
    pm::detail::encode_item(std::pair<int32_t, opt_pair>(1, std::pair(2, 3)), out);
    EXPECT_EQ(out.size(), 3 * sizeof(int32_t) + 1);
    EXPECT_EQ(out[sizeof(int32_t)], 0);
    // A result's flag byte other than 0 or 1 is refused, never loaded.
    std::optional<std::pair<int32_t, shapes::point>> r;
    const char bad_flag[] = {2, 0, 0, 0, 0};
    EXPECT_FALSE(pm::detail::decode_result(bad_flag, sizeof bad_flag, r).empty());
    const char engaged_short[] = {0, 5, 0, 0, 0};  // no point after the int
    EXPECT_FALSE(pm::detail::decode_result(engaged_short, sizeof engaged_short, r).empty());
    const char empty[] = {1};
    EXPECT_EQ(pm::detail::decode_result(empty, sizeof empty, r), "");
    EXPECT_FALSE(r.has_value());
}

TEST_P(Results, ResultThatDoesNotDecodeFailsTheItemInRaiseMode) {
    auto raising = opts().errors(pm::errors::raise);
    std::vector<int> got;
    try {
        for (const shapes::lopsided& r :
             pm::map([](int x) { return shapes::lopsided{x}; }, iota(10, 2), raising))
            got.push_back(r.value);
        FAIL() << "no exception";
    } catch (const pm::worker_error& e) {
        EXPECT_EQ(e.kind(), pm::failure::bad_result);
        EXPECT_EQ(e.index(), 1u);  // the value 3
        EXPECT_TRUE(e.type_name().empty());
        EXPECT_NE(e.message().find("left undecoded"), std::string::npos) << e.message();
        EXPECT_EQ(e.status(), PM_EITEM);
    }
    EXPECT_EQ(got, (std::vector<int>{2}));
    EXPECT_TRUE(pmtest::no_children());
}

TEST_P(Results, ResultThatDoesNotDecodeIsAnErrorResultInReturnMode) {
    auto returning = opts().errors(pm::errors::return_);
    size_t n = 0;
    for (auto& r : pm::map([](int x) { return shapes::greedy{x}; }, iota(12), returning)) {
        if (n % 3 == 0) {
            ASSERT_FALSE(r.ok()) << n;
            EXPECT_EQ(r.error().kind(), pm::failure::bad_result);
            EXPECT_EQ(r.error().index(), n);
            EXPECT_NE(r.error().message().find("Failed to read"), std::string::npos)
                << r.error().message();
            EXPECT_THROW(r.value(), pm::worker_error);
        } else {
            ASSERT_TRUE(r.ok()) << n << ": " << r.error().what();
            EXPECT_EQ(r->value, int(n));
            EXPECT_THROW(r.error(), pm::error);
        }
        ++n;
    }
    EXPECT_EQ(n, 12u);
}

TEST(ResultDecoding, BytesOfTheWrongShapeAreReportedNotTrusted) {
    // Straight at the decoder: truncated, too long and garbage buffers.
    std::string problem;
    double d = 0;
    problem = pm::detail::decode_result<double>("abc", 3, d);
    EXPECT_NE(problem.find("expected 8"), std::string::npos) << problem;

    std::vector<std::string> v;
    const char junk[] = {1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 'x'};
    problem = pm::detail::decode_result(junk, sizeof junk, v);
    EXPECT_FALSE(problem.empty());

    std::string s;
    const char exact[] = {2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i'};
    EXPECT_EQ(pm::detail::decode_result(exact, sizeof exact, s), "");
    EXPECT_EQ(s, "hi");
    const char longer[] = {2, 0, 0, 0, 0, 0, 0, 0, 'h', 'i', '!'};
    EXPECT_NE(pm::detail::decode_result(longer, sizeof longer, s).find("left undecoded"),
              std::string::npos);
}

}  // namespace
