// libFuzzer target: arbitrary bytes as one result of the C++ layer, decoded
// by pm::detail::decode_result (what pm::map does with each result a worker
// sends) as each of a few representative result types: std::string,
// std::vector<int>, std::map<std::string, std::vector<double>>, a user
// struct, and a pair / optional / tuple of plain structs (coded member by
// member). Whatever the bytes, decoding must fail cleanly (an error text) or
// succeed, never crash, read out of bounds, trip UBSan, leak, or allocate
// far more than the input; a value that decodes must survive a round trip
// (encode, decode, encode gives the same bytes).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cpp_result_types.hpp"

namespace {

template <class T>
void decode_as(const uint8_t* data, size_t size) {
    T value{};
    if (!pm::detail::decode_result(data, size, value).empty())
        return;
    const std::string once = fuzz_types::encode(value);
    T again{};
    const std::string problem = pm::detail::decode_result(once.data(), once.size(), again);
    if (!problem.empty() || fuzz_types::encode(again) != once) {
        std::fprintf(stderr, "round trip failed (%s)\n", problem.c_str());
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    decode_as<fuzz_types::string_result>(data, size);
    decode_as<fuzz_types::ints_result>(data, size);
    decode_as<fuzz_types::table_result>(data, size);
    decode_as<fuzz_types::record>(data, size);
    decode_as<fuzz_types::member_wise_result>(data, size);
    return 0;
}
