// The result types the cpp_result fuzz target decodes, shared with the
// program that writes its seed corpus.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
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

using string_result = std::string;
using ints_result = std::vector<int>;
using table_result = std::map<std::string, std::vector<double>>;

// Bytes as cereal's binary archive writes them (what a worker sends).
template <class T>
std::string encode(const T& value) {
    std::string out;
    pm::detail::string_streambuf buf(out);
    std::ostream os(&buf);
    cereal::BinaryOutputArchive archive(os);
    archive(value);
    return out;
}

}  // namespace fuzz_types
