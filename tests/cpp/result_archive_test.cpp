// Result bytes come from a worker, which runs user code: the C++ layer
// decodes them with pm::detail::result_archive, which refuses a size prefix
// larger than the bytes that follow (cereal's BinaryInputArchive resizes to
// it first: eight bytes could make the caller allocate terabytes) and a bool
// stored as anything but 0 or 1 (undefined behaviour once loaded).
#include "cpp_test_util.hpp"

#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace {

std::string u64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }

bool contains(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

template <class T>
std::string encode(const T& value) {
    std::string out;
    pm::detail::string_streambuf buf(out);
    std::ostream os(&buf);
    cereal::BinaryOutputArchive archive(os);
    archive(value);
    return out;
}

struct flagged {
    int id = 0;
    bool on = false;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(id, on);
    }
};

// Saved as one int, through save_minimal / load_minimal.
struct minimal {
    int v = 0;
    template <class Archive>
    int save_minimal(const Archive&) const {
        return v;
    }
    template <class Archive>
    void load_minimal(const Archive&, const int& x) {
        v = x;
    }
};

struct nothing {
    template <class Archive>
    void serialize(Archive&) {}
};

// Saves a size far beyond what follows, as a hostile or buggy worker could;
// loads as a string.
struct liar {
    std::string text;
    template <class Archive>
    void save(Archive& ar) const {
        ar(cereal::make_size_tag(cereal::size_type(1) << 40));
    }
    template <class Archive>
    void load(Archive& ar) {
        ar(text);
    }
};

}  // namespace

TEST(ResultArchive, SizeBeyondTheBytesLeftIsRefusedBeforeAllocating) {
    std::string s;
    std::string problem = pm::detail::decode_result((u64(uint64_t(1) << 40) + "abc").data(), 11, s);
    EXPECT_EQ(problem, "a size of 1099511627776 where 3 bytes are left");

    std::vector<int> v;
    problem = pm::detail::decode_result((u64(uint64_t(1) << 62) + u64(1)).data(), 16, v);
    EXPECT_TRUE(contains(problem, "a size of 4611686018427387904")) << problem;

    // The inner vector of a map's first value claims 2^31 doubles (16 GiB).
    std::map<std::string, std::vector<double>> m;
    const std::string inner = u64(1) + u64(1) + "k" + u64(uint64_t(1) << 31);
    problem = pm::detail::decode_result(inner.data(), inner.size(), m);
    EXPECT_TRUE(contains(problem, "a size of 2147483648 where 0 bytes are left")) << problem;
}

TEST(ResultArchive, BoolMustBeZeroOrOne) {
    std::string bytes = encode(flagged{7, true});
    flagged f;
    ASSERT_EQ(pm::detail::decode_result(bytes.data(), bytes.size(), f), "");
    EXPECT_EQ(f.id, 7);
    EXPECT_TRUE(f.on);
    bytes[sizeof(int)] = 2;
    EXPECT_EQ(pm::detail::decode_result(bytes.data(), bytes.size(), f), "a bool stored as 2");
}

TEST(ResultArchive, ShortBufferSaysHowShort) {
    std::string bytes = encode(std::string("hello"));
    std::string s;
    EXPECT_EQ(pm::detail::decode_result(bytes.data(), bytes.size() - 2, s),
              "a size of 5 where 3 bytes are left");
    EXPECT_EQ(pm::detail::decode_result(bytes.data(), 4, s),
              "Failed to read 8 bytes: the result has 4 left");
}

TEST(ResultArchive, EveryKindOfValueStillRoundTrips) {
    using blob = std::tuple<std::vector<bool>, std::optional<std::string>, std::shared_ptr<int>,
                            std::unique_ptr<double>, std::variant<int, std::string>, minimal,
                            std::vector<nothing>>;
    blob in;
    std::get<0>(in) = {true, false, true};
    std::get<1>(in) = "note";
    std::get<2>(in) = std::make_shared<int>(5);
    std::get<3>(in) = std::make_unique<double>(2.5);
    std::get<4>(in) = std::string("alt");
    std::get<5>(in).v = 42;
    const std::string bytes = encode(in);
    blob out;
    ASSERT_EQ(pm::detail::decode_result(bytes.data(), bytes.size(), out), "");
    EXPECT_EQ(std::get<0>(out), std::get<0>(in));
    EXPECT_EQ(std::get<1>(out), std::get<1>(in));
    EXPECT_EQ(*std::get<2>(out), 5);
    EXPECT_EQ(*std::get<3>(out), 2.5);
    EXPECT_EQ(std::get<4>(out), std::get<4>(in));
    EXPECT_EQ(std::get<5>(out).v, 42);
    // The documented limit: a container of objects of an empty class takes
    // no bytes per element, so more of them than bytes left is refused.
    const std::string empties = encode(std::vector<nothing>(3));
    std::vector<nothing> e;
    EXPECT_EQ(pm::detail::decode_result(empties.data(), empties.size(), e),
              "a size of 3 where 0 bytes are left");
}

TEST(ResultArchive, HostileSizeFromAWorkerIsABadResultNotACrash) {
    size_t n = 0;
    for (auto& r : pm::map([](int) { return liar{}; }, pmcpp::iota(4),
                           pm::options{}.processes(2).errors(pm::errors::return_))) {
        ASSERT_FALSE(r.ok());
        EXPECT_EQ(r.error().kind(), pm::failure::bad_result);
        EXPECT_TRUE(contains(r.error().message(), "a size of 1099511627776 where 0 bytes"))
            << r.error().message();
        ++n;
    }
    EXPECT_EQ(n, 4u);
    EXPECT_TRUE(pmtest::no_children());
}
