#include "frame_reader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "sys_io.hpp"

using namespace pm::core;

namespace {

std::vector<char> result_frame(uint64_t first, const std::string& value) {
    result_builder r;
    r.begin_item();
    std::memcpy(r.append(value.size()), value.data(), value.size());
    r.end_item_ok();
    struct iovec iov[3];
    int n = r.to_iovecs(first, 0, iov);
    std::vector<char> out;
    for (int i = 0; i < n; ++i) {
        const char* p = static_cast<const char*>(iov[i].iov_base);
        out.insert(out.end(), p, p + iov[i].iov_len);
    }
    return out;
}

struct nonblocking_pipe {
    pipe_pair p = make_pipe();
    nonblocking_pipe() { set_nonblocking(p.read_end.get()); }
    void write(const char* data, size_t len) {
        ASSERT_EQ(::write(p.write_end.get(), data, len), static_cast<ssize_t>(len));
    }
};

}  // namespace

TEST(FrameReader, AssemblesAFrameArrivingInPieces) {
    nonblocking_pipe pipe;
    auto wire = result_frame(3, "hello");
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::need_more);
    pipe.write(wire.data(), 7);  // part of the header
    EXPECT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::need_more);
    pipe.write(wire.data() + 7, wire.size() - 9);
    EXPECT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::need_more);
    pipe.write(wire.data() + wire.size() - 2, 2);
    ASSERT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::frame);
    EXPECT_EQ(reader.header().first_index, 3u);
    result_chunk c;
    ASSERT_EQ(c.decode(reader.header(), reader.take_payload()), "");
    auto it = c.take();
    EXPECT_EQ(std::string(it.data, it.len), "hello");
}

TEST(FrameReader, ReadsBackToBackFrames) {
    nonblocking_pipe pipe;
    auto a = result_frame(0, "a");
    auto b = result_frame(1, "bb");
    a.insert(a.end(), b.begin(), b.end());
    pipe.write(a.data(), a.size());
    frame_reader reader;
    std::string problem;
    ASSERT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::frame);
    EXPECT_EQ(reader.header().first_index, 0u);
    reader.take_payload();
    ASSERT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::frame);
    EXPECT_EQ(reader.header().first_index, 1u);
}

TEST(FrameReader, ReportsEndOfStreamInsideAFrame) {
    nonblocking_pipe pipe;
    auto wire = result_frame(0, "truncated");
    pipe.write(wire.data(), wire.size() - 3);
    pipe.p.write_end.reset();
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::closed);
    EXPECT_NE(problem, "");
}

TEST(FrameReader, CleanEndOfStreamHasNoProblem) {
    nonblocking_pipe pipe;
    pipe.p.write_end.reset();
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::closed);
    EXPECT_EQ(problem, "");
}

TEST(FrameReader, RejectsGarbage) {
    nonblocking_pipe pipe;
    std::vector<char> junk(64, 'x');
    pipe.write(junk.data(), junk.size());
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::bad);
    EXPECT_NE(problem, "");
}
