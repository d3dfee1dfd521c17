#include "frame_codec.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

using namespace pm::core;

namespace {

// Concatenates iovecs into the bytes a pipe would carry.
std::vector<char> flatten(const struct iovec* iov, int n) {
    std::vector<char> out;
    for (int i = 0; i < n; ++i) {
        const char* p = static_cast<const char*>(iov[i].iov_base);
        out.insert(out.end(), p, p + iov[i].iov_len);
    }
    return out;
}

payload_buffer as_payload(const std::vector<char>& bytes) {
    return payload_buffer(bytes.data(), bytes.size());
}

frame_header header_of(const std::vector<char>& wire) {
    frame_header h;
    std::memcpy(&h, wire.data(), sizeof h);
    return h;
}

}  // namespace

TEST(FrameCodec, TaskRoundTripsThroughTheWire) {
    task_builder b;
    b.push("abc", 3);
    b.push(nullptr, 0);
    b.push("hello", 5);
    struct iovec iov[3];
    auto wire = flatten(iov, b.to_iovecs(42, iov));
    frame_header h = header_of(wire);
    EXPECT_EQ(check_header(h, 100), "");
    EXPECT_EQ(h.type, static_cast<uint16_t>(frame_type::task));
    EXPECT_EQ(h.count, 3u);
    EXPECT_EQ(h.first_index, 42u);
    task_view v;
    ASSERT_EQ(decode_task(h, wire.data() + sizeof h, &v), "");
    EXPECT_EQ(v.first_index, 42u);
    ASSERT_EQ(v.count, 3u);
    EXPECT_EQ(v.len_at(0), 3u);
    EXPECT_EQ(v.len_at(1), 0u);
    EXPECT_EQ(std::string(v.bytes, 8), "abchello");
}

TEST(FrameCodec, ExternalSpanIsNotCopied) {
    const int values[4] = {1, 2, 3, 4};
    task_builder b;
    b.set_external_span(values + 1, sizeof(int), 3);
    EXPECT_EQ(b.bytes(), reinterpret_cast<const char*>(values + 1));
    EXPECT_EQ(b.byte_size(), 3 * sizeof(int));
    struct iovec iov[3];
    const int n = b.to_iovecs(1, iov);
    EXPECT_EQ(iov[n - 1].iov_base, static_cast<const void*>(values + 1));
}

TEST(FrameCodec, ResultRoundTripsWithFailures) {
    result_builder r;
    r.begin_item();
    std::memcpy(r.append(2), "ok", 2);
    r.end_item_ok();
    r.begin_item();
    std::memcpy(r.append(4), "junk", 4);
    r.end_item_failed(PM_EITEM, "boom");
    r.begin_item();
    r.end_item_ok();  // empty result
    r.begin_item();
    r.end_item_failed(PM_EITEM, "with payload", std::string("\0pickled", 8));
    struct iovec iov[3];
    auto wire = flatten(iov, r.to_iovecs(10, 999, iov));
    frame_header h = header_of(wire);
    EXPECT_EQ(h.aux, 999u);
    result_chunk c;
    ASSERT_EQ(c.decode(h, payload_buffer(wire.data() + sizeof h, wire.size() - sizeof h)), "");
    EXPECT_EQ(c.first_failed(), 11u);
    auto a = c.take();
    EXPECT_EQ(a.index, 10u);
    EXPECT_EQ(a.status, PM_OK);
    EXPECT_EQ(std::string(a.data, a.len), "ok");
    auto b = c.take();
    EXPECT_EQ(b.status, PM_EITEM);
    EXPECT_EQ(std::string(b.message, b.message_len), "boom");  // partial result dropped
    EXPECT_EQ(b.len, 0u);  // no payload
    auto e = c.take();
    EXPECT_EQ(e.status, PM_OK);
    EXPECT_EQ(e.len, 0u);
    auto p = c.take();
    EXPECT_EQ(p.status, PM_EITEM);
    EXPECT_EQ(std::string(p.message, p.message_len), "with payload");
    EXPECT_EQ(std::string(p.data, p.len), std::string("\0pickled", 8));
    EXPECT_TRUE(c.exhausted());
}

TEST(FrameCodec, HeaderChecksRejectCorruption) {
    frame_header good = make_header(frame_type::task, 2, 0, 16);
    EXPECT_EQ(check_header(good, 10), "");
    frame_header h = good;
    h.magic ^= 1;
    EXPECT_NE(check_header(h, 10), "");
    h = good;
    h.version = 9;
    EXPECT_NE(check_header(h, 10), "");
    h = good;
    h.type = 77;
    EXPECT_NE(check_header(h, 10), "");
    h = good;
    h.count = 11;
    EXPECT_NE(check_header(h, 10), "");
    h = good;
    h.payload_len = max_payload_len + 1;
    EXPECT_NE(check_header(h, 10), "");
    h = good;
    h.first_index = UINT64_MAX;
    EXPECT_NE(check_header(h, 10), "");
}

TEST(FrameCodec, DecodeRejectsLengthsThatDoNotAddUp) {
    // Two items claiming 5 + 5 bytes in a frame that carries 6.
    std::vector<char> payload(2 * sizeof(uint64_t) + 6);
    uint64_t lens[2] = {5, 5};
    std::memcpy(payload.data(), lens, sizeof lens);
    frame_header h = make_header(frame_type::task, 2, 0, payload.size());
    task_view v;
    EXPECT_NE(decode_task(h, payload.data(), &v), "");

    // Result table claiming more bytes than the frame has.
    result_entry e{100, PM_OK, 0};
    std::vector<char> res(sizeof e + 10);
    std::memcpy(res.data(), &e, sizeof e);
    frame_header rh = make_header(frame_type::result, 1, 0, res.size());
    result_chunk c;
    EXPECT_NE(c.decode(rh, as_payload(res)), "");

    // Unknown status.
    result_entry bad{0, 12345, 0};
    std::vector<char> res2(sizeof bad);
    std::memcpy(res2.data(), &bad, sizeof bad);
    frame_header bh = make_header(frame_type::result, 1, 0, res2.size());
    EXPECT_NE(c.decode(bh, as_payload(res2)), "");
}

// ---- Hostile input: every check of check_header and the two decoders. ----

namespace {

std::vector<char> result_payload(const std::vector<result_entry>& table, const std::string& data) {
    std::vector<char> p(table.size() * sizeof(result_entry));
    if (!table.empty())
        std::memcpy(p.data(), table.data(), p.size());
    p.insert(p.end(), data.begin(), data.end());
    return p;
}

std::vector<char> task_payload(const std::vector<uint64_t>& lens, const std::string& data) {
    std::vector<char> p(lens.size() * sizeof(uint64_t));
    if (!lens.empty())
        std::memcpy(p.data(), lens.data(), p.size());
    p.insert(p.end(), data.begin(), data.end());
    return p;
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST(FrameCodec, HeaderChecksNameWhatIsWrong) {
    frame_header h = make_header(frame_type::result, 1, 0, 16);
    h.magic = 0x78787878;  // "xxxx"
    EXPECT_EQ(check_header(h, 10), "bad frame magic 0x78787878");
    h = make_header(frame_type::result, 1, 0, 16);
    h.version = 2;
    EXPECT_EQ(check_header(h, 10), "unsupported frame version 2");
    h = make_header(frame_type::result, 1, 0, 16);
    h.type = 0;
    EXPECT_EQ(check_header(h, 10), "unknown frame type 0");
    h.type = 5;
    EXPECT_EQ(check_header(h, 10), "unknown frame type 5");
    h = make_header(frame_type::result, 1, 0, 16);
    h.flags = 0x80;
    EXPECT_EQ(check_header(h, 10), "frame with unknown flags 0x00000080");
}

TEST(FrameCodec, HeaderChecksBoundThePayload) {
    // Exactly the maximum passes (the reader then grows as bytes arrive);
    // one more, or a length that would wrap in arithmetic, does not.
    frame_header h = make_header(frame_type::result, 0, 0, max_payload_len);
    EXPECT_EQ(check_header(h, 10), "");
    h.payload_len = max_payload_len + 1;
    EXPECT_TRUE(contains(check_header(h, 10), "too large"));
    h.payload_len = UINT64_MAX;
    EXPECT_TRUE(contains(check_header(h, 10), "too large"));
    h.payload_len = UINT64_MAX - 39;  // header + payload would wrap a uint64
    EXPECT_TRUE(contains(check_header(h, 10), "too large"));
}

TEST(FrameCodec, HeaderChecksTheTableFitsThePayload) {
    // 3 result entries need 48 bytes; 3 task lengths need 24.
    EXPECT_EQ(check_header(make_header(frame_type::result, 3, 0, 48), 10), "");
    EXPECT_TRUE(contains(check_header(make_header(frame_type::result, 3, 0, 47), 10),
                         "too short for the table of its 3 items"));
    EXPECT_EQ(check_header(make_header(frame_type::task, 3, 0, 24), 10), "");
    EXPECT_NE(check_header(make_header(frame_type::task, 3, 0, 23), 10), "");
    // The largest count with no payload at all.
    EXPECT_NE(check_header(make_header(frame_type::result, UINT32_MAX, 0, 0), UINT32_MAX), "");
}

TEST(FrameCodec, HeaderChecksCountsAndIndices) {
    EXPECT_EQ(check_header(make_header(frame_type::result, 10, 0, 160), 10), "");
    EXPECT_TRUE(contains(check_header(make_header(frame_type::result, 11, 0, 176), 10),
                         "more than 10"));
    // The last representable range passes; one further overflows.
    EXPECT_EQ(check_header(make_header(frame_type::result, 1, UINT64_MAX - 1, 16), 10), "");
    EXPECT_EQ(check_header(make_header(frame_type::result, 2, UINT64_MAX - 1, 32), 10),
              "frame index range overflows");
    EXPECT_EQ(check_header(make_header(frame_type::stop, 0, 0, 0), 10), "");
    EXPECT_EQ(check_header(make_header(frame_type::stop, 1, 0, 0), 10), "stop frame with a payload");
    EXPECT_EQ(check_header(make_header(frame_type::stop, 0, 0, 8), 10), "stop frame with a payload");
}

TEST(FrameCodec, TaskDecodeRejectsInconsistentTables) {
    task_view v;
    // Lengths beyond the frame, short of it, and a pair whose sum wraps.
    auto p = task_payload({3, 4}, "abcdef");
    EXPECT_TRUE(contains(decode_task(make_header(frame_type::task, 2, 0, p.size()), p.data(), &v),
                         "exceed the frame (item 1)"));
    p = task_payload({2, 3}, "abcdef");
    EXPECT_EQ(decode_task(make_header(frame_type::task, 2, 0, p.size()), p.data(), &v),
              "task item lengths add up to 5 of the frame's 6 data bytes");
    p = task_payload({UINT64_MAX, 7}, "abcdef");
    EXPECT_NE(decode_task(make_header(frame_type::task, 2, 0, p.size()), p.data(), &v), "");
    p = task_payload({6, UINT64_MAX - 5}, "abcdef");
    EXPECT_NE(decode_task(make_header(frame_type::task, 2, 0, p.size()), p.data(), &v), "");
    // A table longer than the payload, and a frame that is not a task.
    p = task_payload({1}, "");
    EXPECT_NE(decode_task(make_header(frame_type::task, 2, 0, p.size()), p.data(), &v), "");
    p = task_payload({6}, "abcdef");
    EXPECT_NE(decode_task(make_header(frame_type::result, 1, 0, p.size()), p.data(), &v), "");
    // The same bytes with a sound header decode.
    ASSERT_EQ(decode_task(make_header(frame_type::task, 1, 9, p.size()), p.data(), &v), "");
    EXPECT_EQ(v.first_index, 9u);
    EXPECT_EQ(std::string(v.bytes, v.len_at(0)), "abcdef");
}

TEST(FrameCodec, ResultDecodeRejectsInconsistentTables) {
    struct bad_case {
        const char* what;
        std::vector<result_entry> table;
        std::string data;
        const char* expected;
    };
    const bad_case cases[] = {
        {"beyond the frame", {{2, PM_OK, 0}, {5, PM_OK, 0}}, "abcdef", "exceed the frame (item 1)"},
        {"short of the frame", {{2, PM_OK, 0}, {3, PM_OK, 0}}, "abcdef", "add up to 5 of"},
        {"wrapping sum", {{UINT64_MAX, PM_OK, 0}, {7, PM_OK, 0}}, "abcdef", "exceed the frame"},
        {"wrapping second", {{6, PM_OK, 0}, {UINT64_MAX - 5, PM_OK, 0}}, "abcdef", "exceed"},
        {"unknown status", {{6, 7, 0}}, "abcdef", "unknown status 7"},
        {"negative status", {{6, PM_ECANCELED, 0}}, "abcdef", "unknown status -6"},
        {"reserved field", {{6, PM_OK, 1}}, "abcdef", "reserved"},
        {"long message", {{6, PM_EITEM, 7}}, "abcdef", "message longer than its failure"},
    };
    for (const bad_case& c : cases) {
        auto p = result_payload(c.table, c.data);
        result_chunk chunk;
        std::string problem =
            chunk.decode(make_header(frame_type::result, c.table.size(), 0, p.size()), as_payload(p));
        EXPECT_TRUE(contains(problem, c.expected)) << c.what << ": " << problem;
        EXPECT_EQ(chunk.count(), 0u) << c.what;
    }
}

TEST(FrameCodec, ResultDecodeChecksThePayloadMatchesTheHeader) {
    auto p = result_payload({{3, PM_OK, 0}}, "abc");
    result_chunk chunk;
    // Header claims more, or fewer, bytes than the buffer has.
    EXPECT_TRUE(contains(chunk.decode(make_header(frame_type::result, 1, 0, p.size() + 1),
                                      as_payload(p)),
                         "where the header says"));
    EXPECT_NE(chunk.decode(make_header(frame_type::result, 1, 0, p.size() - 1), as_payload(p)),
              "");
    // A table of 2 entries in a 19-byte frame.
    EXPECT_EQ(chunk.decode(make_header(frame_type::result, 2, 0, p.size()), as_payload(p)),
              "result frame shorter than its table");
    // A task frame handed to the result decoder.
    EXPECT_NE(chunk.decode(make_header(frame_type::task, 1, 0, p.size()), as_payload(p)), "");
}

TEST(FrameCodec, FailedResultDecodeKeepsThePreviousChunk) {
    result_chunk chunk;
    auto good = result_payload({{3, PM_OK, 0}}, "abc");
    ASSERT_EQ(chunk.decode(make_header(frame_type::result, 1, 4, good.size()), as_payload(good)), "");
    auto bad = result_payload({{9, PM_OK, 0}}, "abc");
    EXPECT_NE(chunk.decode(make_header(frame_type::result, 1, 0, bad.size()), as_payload(bad)), "");
    ASSERT_FALSE(chunk.exhausted());
    auto it = chunk.take();
    EXPECT_EQ(it.index, 4u);
    EXPECT_EQ(std::string(it.data, it.len), "abc");
}

TEST(FrameCodec, EmptyResultFrameDecodes) {
    result_chunk chunk;
    EXPECT_EQ(chunk.decode(make_header(frame_type::result, 0, 0, 0), {}), "");
    EXPECT_TRUE(chunk.exhausted());
    EXPECT_EQ(chunk.first_failed(), UINT64_MAX);
}

namespace {

// A result frame of the given results (all successes) as a worker writes it.
std::vector<char> results_wire(uint64_t first, const std::vector<std::string>& results,
                               int* iov_count = nullptr) {
    result_builder r;
    for (const std::string& s : results) {
        r.begin_item();
        if (!s.empty())
            std::memcpy(r.append(s.size()), s.data(), s.size());
        r.end_item_ok();
    }
    struct iovec iov[3];
    const int n = r.to_iovecs(first, 7, iov);
    if (iov_count)
        *iov_count = n;
    return flatten(iov, n);
}

}  // namespace

TEST(FrameCodec, ResultsOfOneLengthTravelWithoutATable) {
    int n = 0;
    auto wire = results_wire(100, {"abcdefgh", "ijklmnop", "qrstuvwx"}, &n);
    EXPECT_EQ(n, 2);
    frame_header h = header_of(wire);
    EXPECT_EQ(h.flags, frame_flag_uniform);
    EXPECT_EQ(h.payload_len, 24u);  // the results' bytes alone
    EXPECT_EQ(wire.size(), sizeof h + 24);
    EXPECT_EQ(check_header(h, 10), "");
    result_chunk c;
    ASSERT_EQ(c.decode(h, payload_buffer(wire.data() + sizeof h, wire.size() - sizeof h)), "");
    EXPECT_EQ(c.count(), 3u);
    EXPECT_EQ(c.first_failed(), UINT64_MAX);
    ASSERT_TRUE(c.next_is_result());
    auto a = c.take();
    EXPECT_EQ(a.index, 100u);
    EXPECT_EQ(a.status, PM_OK);
    EXPECT_EQ(std::string(a.data, a.len), "abcdefgh");
    std::vector<std::string> rest;
    std::vector<uint64_t> indices;
    EXPECT_EQ(c.take_results(10, [&](uint64_t index, const char* data, size_t len) {
        indices.push_back(index);
        rest.emplace_back(data, len);
    }), 2u);
    EXPECT_EQ(indices, (std::vector<uint64_t>{101, 102}));
    EXPECT_EQ(rest, (std::vector<std::string>{"ijklmnop", "qrstuvwx"}));
    EXPECT_TRUE(c.exhausted());

    // Empty results of one length (0) are uniform too.
    wire = results_wire(0, {"", "", ""});
    h = header_of(wire);
    EXPECT_EQ(h.flags, frame_flag_uniform);
    EXPECT_EQ(h.payload_len, 0u);
    ASSERT_EQ(c.decode(h, payload_buffer()), "");
    EXPECT_EQ(c.take().len, 0u);
}

TEST(FrameCodec, OtherResultsKeepTheirTable) {
    // One result (a background process reads exactly one entry), lengths
    // that differ, or a failure among them: the table is sent.
    for (const auto& results : std::vector<std::vector<std::string>>{
             {"abcdefgh"}, {"ab", "abc"}, {"ab", "ab", "a"}}) {
        auto wire = results_wire(0, results);
        frame_header h = header_of(wire);
        EXPECT_EQ(h.flags, 0u);
        size_t data = 0;
        for (const std::string& s : results)
            data += s.size();
        EXPECT_EQ(h.payload_len, results.size() * sizeof(result_entry) + data);
        result_chunk c;
        ASSERT_EQ(c.decode(h, payload_buffer(wire.data() + sizeof h, wire.size() - sizeof h)), "");
        for (const std::string& s : results) {
            auto it = c.take();
            EXPECT_EQ(std::string(it.data, it.len), s);
        }
    }
    result_builder r;
    for (int i = 0; i < 3; ++i) {
        r.begin_item();
        std::memcpy(r.append(2), "ok", 2);
        if (i == 1)
            r.end_item_failed(PM_EITEM, "no");
        else
            r.end_item_ok();
    }
    struct iovec iov[3];
    EXPECT_EQ(r.to_iovecs(0, 0, iov), 3);
    EXPECT_EQ(header_of(flatten(iov, 3)).flags, 0u);
}

TEST(FrameCodec, UniformFlagOnlyWhereItCanHold) {
    frame_header h = make_header(frame_type::result, 3, 0, 24);
    h.flags = frame_flag_uniform;
    EXPECT_EQ(check_header(h, 10), "");  // no table needed
    h.payload_len = 10;  // 3 results cannot share 10 bytes evenly
    EXPECT_TRUE(contains(check_header(h, 10), "cannot carry it"));
    result_chunk c;
    EXPECT_TRUE(contains(c.decode(h, payload_buffer(std::string(10, 'x').data(), 10)),
                         "do not split"));
    h = make_header(frame_type::result, 0, 0, 0);
    h.flags = frame_flag_uniform;
    EXPECT_TRUE(contains(check_header(h, 10), "cannot carry it"));
    EXPECT_NE(c.decode(h, payload_buffer()), "");
    h = make_header(frame_type::task, 2, 0, 16);
    h.flags = frame_flag_uniform;
    EXPECT_EQ(check_header(h, 10), "");
    h.payload_len = 15;
    EXPECT_TRUE(contains(check_header(h, 10), "cannot carry it"));
    task_view v;
    EXPECT_TRUE(contains(decode_task(h, std::string(15, 't').data(), &v), "do not split"));
    h = make_header(frame_type::stop, 0, 0, 0);
    h.flags = frame_flag_uniform;
    EXPECT_TRUE(contains(check_header(h, 10), "cannot carry it"));
    h = make_header(frame_type::range, 4, 0, 0);
    h.flags = frame_flag_uniform;
    EXPECT_TRUE(contains(check_header(h, 10), "cannot carry it"));
    h = make_header(frame_type::result, 2, 0, 16);
    h.flags = frame_flag_uniform | 2;
    EXPECT_EQ(check_header(h, 10), "frame with unknown flags 0x00000003");
    EXPECT_NE(c.decode(h, payload_buffer(std::string(16, 'x').data(), 16)), "");
}

TEST(FrameCodec, TaskOfOneItemSizeTravelsWithoutATable) {
    task_builder b;
    b.push("abcd", 4);
    b.push("efgh", 4);
    b.push("ijkl", 4);
    struct iovec iov[3];
    const int n = b.to_iovecs(9, iov);
    EXPECT_EQ(n, 2);
    auto wire = flatten(iov, n);
    frame_header h = header_of(wire);
    EXPECT_EQ(h.flags, frame_flag_uniform);
    EXPECT_EQ(h.payload_len, 12u);
    EXPECT_EQ(check_header(h, 10), "");
    task_view v;
    ASSERT_EQ(decode_task(h, wire.data() + sizeof h, &v), "");
    EXPECT_EQ(v.first_index, 9u);
    ASSERT_EQ(v.count, 3u);
    EXPECT_EQ(v.lens, nullptr);
    EXPECT_EQ(v.record_size, 4u);
    EXPECT_EQ(v.len_at(2), 4u);
    EXPECT_EQ(std::string(v.bytes, 12), "abcdefghijkl");

    // An array's records referenced in place are of one size too.
    const int values[3] = {1, 2, 3};
    b.set_external_span(values, sizeof(int), 3);
    EXPECT_EQ(b.to_iovecs(0, iov), 2);
    EXPECT_EQ(iov[1].iov_base, static_cast<const void*>(values));

    // Sizes that differ, or a lone item, keep the length table.
    b.clear();
    b.push("ab", 2);
    b.push("abc", 3);
    EXPECT_EQ(b.to_iovecs(0, iov), 3);
    b.clear();
    b.push("ab", 2);
    EXPECT_EQ(b.to_iovecs(0, iov), 3);
    EXPECT_EQ(header_of(flatten(iov, 3)).flags, 0u);
}
