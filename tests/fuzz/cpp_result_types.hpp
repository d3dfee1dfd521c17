// The result types the cpp_result fuzz target decodes, shared with the
// program that writes its seed corpus.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "detail/codec.hpp"

namespace fuzz_types {

struct point {
    double x = 0, y = 0;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(x, y);
    }
};

// A user struct with a bit of everything: scalars, a bool, strings,
// containers, an optional, a nested struct.
struct record {
    int32_t id = 0;
    bool active = false;
    std::string name;
    std::vector<uint16_t> values;
    std::optional<std::string> note;
    std::map<int32_t, std::string> tags;
    std::vector<point> path;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(id, active, name, values, note, tags, path);
    }
};

// No serialize(): trivially copyable, so it travels as its bytes.
struct plain_point {
    double x = 0, y = 0;
};

// Coded member by member: a pair, an optional (its "nullopt" byte), a
// tuple with a bool (0 or 1 only), plain structs as bytes, a string
// through cereal.
using member_wise_result =
    std::pair<plain_point, std::optional<std::tuple<int32_t, bool, plain_point, std::string>>>;

using string_result = std::string;
using ints_result = std::vector<int>;
using table_result = std::map<std::string, std::vector<double>>;

// Bytes as a worker writes them: cereal's binary archive, through the
// layer's member-wise coding for pairs, tuples and optionals.
template <class T>
std::string encode(const T& value) {
    std::string out;
    pm::detail::string_streambuf buf(out);
    std::ostream os(&buf);
    cereal::BinaryOutputArchive archive(os);
    pm::detail::save_value<pm::detail::result_side>(archive, value);
    return out;
}

}  // namespace fuzz_types
