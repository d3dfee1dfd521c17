// Assembles frames from a nonblocking descriptor as bytes arrive, so one
// slow or dying worker never blocks the reading of the others.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "frame_codec.hpp"

namespace pm::core {

class frame_reader {
public:
    enum class status { frame, need_more, closed, bad };

    // Reads what is available. frame: one whole frame is ready (header() and
    // take_payload()); closed: end of stream (at a frame boundary, or part-way:
    // then *problem says so); bad: the header failed its checks (*problem).
    status read(int fd, uint32_t max_count, std::string* problem);
    const frame_header& header() const noexcept { return header_; }
    std::vector<char> take_payload() noexcept;
    bool mid_frame() const noexcept { return header_have_ > 0; }

private:
    frame_header header_{};
    size_t header_have_ = 0;
    std::vector<char> payload_;
    size_t payload_have_ = 0;
    bool in_payload_ = false;
};

}  // namespace pm::core
