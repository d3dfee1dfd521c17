// Writes the seed corpus of the cpp_result fuzz target: results encoded as a
// worker encodes them (valid-*), and hostile edge cases (edge-*).
//   make_cpp_result_corpus DIR          write the files into DIR
//   make_cpp_result_corpus --check DIR  fail if DIR's files differ from these
// Other files in DIR (regress-*: inputs that once found a bug) are left alone.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <string>

#include "corpus_writer.hpp"
#include "cpp_result_types.hpp"

using namespace fuzz_types;

namespace {

std::string u64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }

std::map<std::string, std::string> make_corpus() {
    std::map<std::string, std::string> c;
    c["valid-string"] = encode(string_result("hello, world"));
    c["valid-string-empty"] = encode(string_result());
    c["valid-ints"] = encode(ints_result{1, -2, 3, 1 << 30});
    c["valid-table"] = encode(table_result{{"a", {1.5, -0.0}},
                                           {"nan", {std::numeric_limits<double>::quiet_NaN()}},
                                           {"", {}}});
    record r;
    r.id = 42;
    r.active = true;
    r.name = "record";
    r.values = {1, 2, 65535};
    r.note = "a note";
    r.tags = {{1, "one"}, {-7, "minus seven"}};
    r.path = {{0.5, 1.5}, {2, 3}};
    c["valid-record"] = encode(r);
    c["valid-record-empty"] = encode(record{});

    c["edge-empty"] = "";
    // Size prefixes far beyond the bytes that follow.
    c["edge-string-size-2p40"] = u64(uint64_t(1) << 40) + "abc";
    c["edge-ints-size-wraps"] = u64(uint64_t(1) << 62) + std::string(8, '\1');
    c["edge-table-size-huge"] = u64(UINT64_MAX) + u64(1) + "k";
    c["edge-table-inner-huge"] = u64(1) + u64(1) + "k" + u64(uint64_t(1) << 34);
    std::string rec = encode(r);
    // The record's bool (right after the 4-byte id) stored as 2.
    std::string bad_bool = rec;
    bad_bool[4] = 2;
    c["edge-record-bool-2"] = bad_bool;
    c["edge-record-truncated"] = rec.substr(0, rec.size() - 5);
    c["edge-record-trailing"] = rec + "xyz";

    const member_wise_result mw{{1.5, -2}, std::make_tuple(7, true, plain_point{3, 4}, "mw")};
    c["valid-member-wise"] = encode(mw);
    c["valid-member-wise-nullopt"] = encode(member_wise_result{{0, 1}, std::nullopt});
    std::string mw_bytes = encode(mw);
    // The optional's "nullopt" byte (after the 16-byte point) stored as 2,
    // then the tuple's bool (after the int32) stored as 3.
    std::string bad_nullopt = mw_bytes;
    bad_nullopt[16] = 2;
    c["edge-member-wise-nullopt-2"] = bad_nullopt;
    std::string bad_tuple_bool = mw_bytes;
    bad_tuple_bool[16 + 1 + 4] = 3;
    c["edge-member-wise-bool-3"] = bad_tuple_bool;
    c["edge-member-wise-truncated"] = mw_bytes.substr(0, 20);
    return c;
}

}  // namespace

int main(int argc, char** argv) { return corpus_writer::run(argc, argv, make_corpus()); }
