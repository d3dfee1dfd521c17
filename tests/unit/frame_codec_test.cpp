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
    EXPECT_EQ(v.lens[0], 3u);
    EXPECT_EQ(v.lens[1], 0u);
    EXPECT_EQ(std::string(v.bytes, 8), "abchello");
}

TEST(FrameCodec, ExternalSpanIsNotCopied) {
    const int values[4] = {1, 2, 3, 4};
    task_builder b;
    b.set_external_span(values + 1, sizeof(int), 3);
    EXPECT_EQ(b.bytes(), reinterpret_cast<const char*>(values + 1));
    EXPECT_EQ(b.byte_size(), 3 * sizeof(int));
    struct iovec iov[3];
    b.to_iovecs(1, iov);
    EXPECT_EQ(iov[2].iov_base, static_cast<const void*>(values + 1));
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
    struct iovec iov[3];
    auto wire = flatten(iov, r.to_iovecs(10, 999, iov));
    frame_header h = header_of(wire);
    EXPECT_EQ(h.aux, 999u);
    result_chunk c;
    ASSERT_EQ(c.decode(h, std::vector<char>(wire.begin() + sizeof h, wire.end())), "");
    EXPECT_EQ(c.first_failed(), 11u);
    auto a = c.take();
    EXPECT_EQ(a.index, 10u);
    EXPECT_EQ(a.status, PM_OK);
    EXPECT_EQ(std::string(a.data, a.len), "ok");
    auto b = c.take();
    EXPECT_EQ(b.status, PM_EITEM);
    EXPECT_EQ(std::string(b.data, b.len), "boom");  // partial result dropped
    auto e = c.take();
    EXPECT_EQ(e.status, PM_OK);
    EXPECT_EQ(e.len, 0u);
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
    EXPECT_NE(c.decode(rh, std::move(res)), "");

    // Unknown status.
    result_entry bad{0, 12345, 0};
    std::vector<char> res2(sizeof bad);
    std::memcpy(res2.data(), &bad, sizeof bad);
    frame_header bh = make_header(frame_type::result, 1, 0, res2.size());
    EXPECT_NE(c.decode(bh, std::move(res2)), "");
}
