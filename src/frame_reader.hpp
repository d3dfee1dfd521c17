// Assembles frames from a nonblocking descriptor as bytes arrive, so one
// slow or dying worker never blocks the reading of the others. Bytes are read
// through a staging buffer, many frames to a read; the missing part of a
// large payload is read straight into its own buffer.
//
// The bytes come from a worker, which runs user code: they may be anything.
// Every header is checked (check_header) before its payload is read, and the
// payload buffer grows only as bytes arrive (to at most twice what has
// arrived, plus a step of 64 KiB), so a header that claims a huge payload costs
// nothing until the bytes are really sent.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include "frame_codec.hpp"
#include "payload_buffer.hpp"
#include "sys_io.hpp"

namespace pm::core {

// Where a reader's bytes come from: a descriptor in the engine, memory in
// tests and the fuzzer. Same contract as read_some() in sys_io.hpp.
class byte_source {
public:
    virtual io_result read_some(void* buf, size_t len, size_t* got) noexcept = 0;

protected:
    ~byte_source() = default;
};

class frame_reader {
public:
    enum class status { frame, need_more, closed, bad };

    // The first room made for a payload, and the least it grows by.
    static constexpr size_t default_payload_step = size_t(64) << 10;
    static constexpr size_t stage_bytes = size_t(64) << 10;

    // payload_step: default_payload_step, or smaller to exercise growth in tests.
    explicit frame_reader(size_t payload_step = default_payload_step) noexcept
        : payload_step_(payload_step ? payload_step : 1) {}

    // Reads what is available. frame: one whole frame is ready (header() and
    // take_payload()); closed: end of stream (at a frame boundary, or part-way:
    // then *problem says so, worded to follow "after it"); bad: the header
    // failed its checks (*problem says how). After closed or bad the stream
    // is over: it cannot be resynchronized.
    status read(int fd, uint32_t max_count, std::string* problem);
    status read(byte_source& source, uint32_t max_count, std::string* problem);
    const frame_header& header() const noexcept { return header_; }
    // The payload of the frame just returned; exactly header().payload_len bytes.
    payload_buffer take_payload() noexcept;
    bool mid_frame() const noexcept { return header_have_ > 0; }
    // Where a partly read frame stands: "12 bytes into a payload of 4096".
    std::string where_in_frame() const;

private:
    void make_room();
    // Copies up to len staged bytes to dst; returns how many.
    size_t take_staged(char* dst, size_t len) noexcept;

    size_t payload_step_;
    frame_header header_{};
    size_t header_have_ = 0;
    payload_buffer payload_;
    size_t payload_have_ = 0;
    bool in_payload_ = false;
    std::unique_ptr<char[]> stage_;
    size_t stage_begin_ = 0, stage_end_ = 0;
};

}  // namespace pm::core
