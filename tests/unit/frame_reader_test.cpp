#include "frame_reader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
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

// ---- Hostile streams, through a scripted byte source. ----

namespace {

// Hands out scripted pieces of bytes, one piece per call at most, with
// would_block between pieces and closed (or an error) after the last. It
// records the largest read asked of it: the room the reader had made.
class scripted_source final : public byte_source {
public:
    void add(const std::vector<char>& piece) { pieces_.push_back(piece); }
    void add(const void* data, size_t len) {
        const char* p = static_cast<const char*>(data);
        pieces_.emplace_back(p, p + len);
    }
    void fail_at_end(int err) { end_error_ = err; }
    size_t largest_request() const { return largest_; }
    size_t delivered() const { return delivered_; }

    io_result read_some(void* buf, size_t len, size_t* got) noexcept override {
        *got = 0;
        largest_ = std::max(largest_, len);
        if (next_ == pieces_.size()) {
            if (end_error_) {
                errno = end_error_;
                return io_result::failed;
            }
            return io_result::closed;
        }
        if (pause_) {  // a pause between pieces, as a pipe would show
            pause_ = false;
            return io_result::would_block;
        }
        std::vector<char>& piece = pieces_[next_];
        size_t n = std::min(len, piece.size() - offset_);
        std::memcpy(buf, piece.data() + offset_, n);
        offset_ += n;
        delivered_ += n;
        if (offset_ == piece.size()) {
            ++next_;
            offset_ = 0;
            pause_ = true;
        }
        *got = n;
        return io_result::done;
    }

private:
    std::vector<std::vector<char>> pieces_;
    size_t next_ = 0, offset_ = 0, largest_ = 0, delivered_ = 0;
    bool pause_ = false;
    int end_error_ = 0;
};

// Reads until something other than need_more.
frame_reader::status read_through(frame_reader& reader, byte_source& source,
                                  std::string* problem, uint32_t max_count = 10) {
    for (;;) {
        auto st = reader.read(source, max_count, problem);
        if (st != frame_reader::status::need_more)
            return st;
    }
}

std::vector<char> header_bytes(const frame_header& h) {
    const char* p = reinterpret_cast<const char*>(&h);
    return std::vector<char>(p, p + sizeof h);
}

}  // namespace

TEST(FrameReader, RejectsABadHeaderBeforeReadingItsPayload) {
    struct bad_case {
        const char* what;
        frame_header h;
    };
    frame_header magic = make_header(frame_type::result, 1, 0, 16);
    magic.magic = 0;
    frame_header version = make_header(frame_type::result, 1, 0, 16);
    version.version = 0xffff;
    frame_header type = make_header(frame_type::result, 1, 0, 16);
    type.type = 9;
    const bad_case cases[] = {
        {"magic", magic},
        {"version", version},
        {"type", type},
        {"count", make_header(frame_type::result, 11, 0, 11 * 16)},
        {"table", make_header(frame_type::result, 2, 0, 31)},
        {"length", make_header(frame_type::result, 1, 0, UINT64_MAX)},
    };
    for (const bad_case& c : cases) {
        scripted_source source;
        source.add(header_bytes(c.h));
        source.add(std::vector<char>(64, 'p'));
        frame_reader reader;
        std::string problem;
        EXPECT_EQ(read_through(reader, source, &problem), frame_reader::status::bad) << c.what;
        EXPECT_NE(problem, "") << c.what;
        EXPECT_EQ(source.delivered(), sizeof(frame_header)) << c.what << ": read past the header";
    }
}

TEST(FrameReader, ReportsATruncatedHeader) {
    auto wire = result_frame(0, "abc");
    scripted_source source;
    source.add(wire.data(), 17);
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(read_through(reader, source, &problem), frame_reader::status::closed);
    EXPECT_EQ(problem, "ended its stream 17 bytes into a frame header");
}

TEST(FrameReader, ReportsATruncatedPayload) {
    auto wire = result_frame(0, "abcdef");
    scripted_source source;
    source.add(wire.data(), wire.size() - 2);
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(read_through(reader, source, &problem), frame_reader::status::closed);
    EXPECT_EQ(problem, "ended its stream 20 bytes into a payload of 22");
}

TEST(FrameReader, ReportsAReadError) {
    scripted_source source;
    source.fail_at_end(EIO);
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(read_through(reader, source, &problem), frame_reader::status::closed);
    EXPECT_NE(problem.find("could not be read from"), std::string::npos) << problem;
}

TEST(FrameReader, HugeClaimedPayloadCostsOnlyWhatArrives) {
    // A header claiming the largest payload allowed (1 TiB), then 1 MiB of
    // bytes and silence: the reader's room stays near what arrived.
    scripted_source source;
    source.add(header_bytes(make_header(frame_type::result, 1, 0, max_payload_len)));
    const std::vector<char> mib(size_t(1) << 20, 'z');
    source.add(mib);
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(read_through(reader, source, &problem), frame_reader::status::closed);
    EXPECT_EQ(source.delivered(), sizeof(frame_header) + mib.size());
    EXPECT_LE(source.largest_request(), mib.size() + frame_reader::default_payload_step);
    EXPECT_NE(problem.find("into a payload of 1099511627776"), std::string::npos) << problem;
}

TEST(FrameReader, HugeClaimedPayloadOnAPipeDoesNotAllocateIt) {
    // The same through a real pipe whose writer stays open: need_more, at once.
    nonblocking_pipe pipe;
    auto h = header_bytes(make_header(frame_type::result, 1, 0, max_payload_len));
    pipe.write(h.data(), h.size());
    pipe.write("0123456789abcdef", 16);
    frame_reader reader;
    std::string problem;
    EXPECT_EQ(reader.read(pipe.p.read_end.get(), 10, &problem), frame_reader::status::need_more);
    EXPECT_TRUE(reader.mid_frame());
}

TEST(FrameReader, LargeFrameInOddPiecesArrivesIntact) {
    // 3 MiB + 5 bytes of result, delivered in pieces of awkward sizes, then
    // a second frame right behind it: buffers grow and are handed over whole.
    std::string big(size_t(3) << 20 | 5, '\0');
    for (size_t i = 0; i < big.size(); ++i)
        big[i] = static_cast<char>(i * 131 + (i >> 12));
    auto wire = result_frame(7, big);
    auto small = result_frame(8, "tail");
    wire.insert(wire.end(), small.begin(), small.end());
    for (size_t step : {frame_reader::default_payload_step, size_t(1), size_t(1000)}) {
        SCOPED_TRACE("payload step " + std::to_string(step));
        scripted_source source;
        size_t pos = 0, piece = 1;
        while (pos < wire.size()) {
            size_t n = std::min(piece, wire.size() - pos);
            source.add(wire.data() + pos, n);
            pos += n;
            piece = piece * 7 % 300007 + 1;
        }
        frame_reader reader(step);
        std::string problem;
        ASSERT_EQ(read_through(reader, source, &problem), frame_reader::status::frame) << problem;
        payload_buffer payload = reader.take_payload();
        EXPECT_EQ(payload.size(), reader.header().payload_len);
        result_chunk c;
        ASSERT_EQ(c.decode(reader.header(), std::move(payload)), "");
        auto it = c.take();
        EXPECT_EQ(it.index, 7u);
        ASSERT_EQ(it.len, big.size());
        EXPECT_EQ(std::memcmp(it.data, big.data(), big.size()), 0);
        ASSERT_EQ(read_through(reader, source, &problem), frame_reader::status::frame) << problem;
        result_chunk c2;
        ASSERT_EQ(c2.decode(reader.header(), reader.take_payload()), "");
        auto t = c2.take();
        EXPECT_EQ(t.index, 8u);
        EXPECT_EQ(std::string(t.data, t.len), "tail");
        EXPECT_EQ(read_through(reader, source, &problem), frame_reader::status::closed);
        EXPECT_EQ(problem, "");
    }
}

TEST(FrameReader, EmptyPayloadFrameNeedsNoPayloadRead) {
    scripted_source source;
    source.add(header_bytes(make_header(frame_type::result, 0, 3, 0)));
    frame_reader reader;
    std::string problem;
    ASSERT_EQ(read_through(reader, source, &problem), frame_reader::status::frame);
    EXPECT_EQ(reader.header().first_index, 3u);
    EXPECT_TRUE(reader.take_payload().empty());
    EXPECT_FALSE(reader.mid_frame());
}

TEST(PayloadBuffer, GrowsKeepingItsBytesAndMovesWhole) {
    payload_buffer b("abc", 3);
    b.resize(size_t(1) << 20);  // past glibc's mmap threshold: remapped, not copied
    ASSERT_EQ(b.size(), size_t(1) << 20);
    EXPECT_EQ(std::string(b.data(), 3), "abc");
    b.data()[b.size() - 1] = 'z';
    b.resize(b.size() * 4);
    EXPECT_EQ(std::string(b.data(), 3), "abc");
    EXPECT_EQ(b.data()[(size_t(1) << 20) - 1], 'z');
    payload_buffer moved = std::move(b);
    EXPECT_TRUE(b.empty());
    EXPECT_EQ(b.data(), nullptr);
    EXPECT_EQ(std::string(moved.data(), 3), "abc");
    moved.resize(0);
    EXPECT_TRUE(moved.empty());
    EXPECT_TRUE(payload_buffer(nullptr, 0).empty());
}
