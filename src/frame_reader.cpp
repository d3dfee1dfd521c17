#include "frame_reader.hpp"

#include <string.h>

#include <algorithm>
#include <cerrno>

namespace pm::core {

namespace {

class fd_source final : public byte_source {
public:
    explicit fd_source(int fd) noexcept : fd_(fd) {}
    io_result read_some(void* buf, size_t len, size_t* got) noexcept override {
        return pm::core::read_some(fd_, buf, len, got);
    }

private:
    int fd_;
};

}  // namespace

frame_reader::status frame_reader::read(int fd, uint32_t max_count, std::string* problem) {
    fd_source source(fd);
    return read(source, max_count, problem);
}

size_t frame_reader::take_staged(char* dst, size_t len) noexcept {
    const size_t n = std::min(len, stage_end_ - stage_begin_);
    if (n) {
        std::memcpy(dst, stage_.get() + stage_begin_, n);
        stage_begin_ += n;
    }
    return n;
}

frame_reader::status frame_reader::read(byte_source& source, uint32_t max_count,
                                        std::string* problem) {
    if (!stage_)
        stage_.reset(new char[stage_bytes]);
    for (;;) {
        char* dst;
        size_t want;
        if (!in_payload_) {
            dst = reinterpret_cast<char*>(&header_) + header_have_;
            want = sizeof header_ - header_have_;
        } else {
            if (payload_have_ == payload_.size())
                make_room();
            dst = payload_.data() + payload_have_;
            want = payload_.size() - payload_have_;
        }
        size_t got = take_staged(dst, want);
        if (got == 0 && want > 0) {
            // The stage is empty: refill it, or read a large remainder of a
            // payload straight into its place.
            const bool direct = in_payload_ && want >= stage_bytes;
            char* into = direct ? dst : stage_.get();
            const size_t room = direct ? want : stage_bytes;
            size_t n = 0;
            switch (source.read_some(into, room, &n)) {
            case io_result::would_block:
                return status::need_more;
            case io_result::closed:
                if (mid_frame())
                    *problem = "ended its stream " + where_in_frame();
                return status::closed;
            case io_result::failed: {
                char buf[256];
                // GNU strerror_r: thread-safe, returns the message pointer.
                *problem = std::string("could not be read from (") +
                           ::strerror_r(errno, buf, sizeof buf) + ")";
                return status::closed;
            }
            case io_result::done:
                break;
            }
            if (direct) {
                got = n;
            } else {
                stage_begin_ = 0;
                stage_end_ = n;
                continue;
            }
        }
        if (!in_payload_) {
            header_have_ += got;
            if (header_have_ < sizeof header_)
                continue;
            *problem = check_header(header_, max_count);
            if (!problem->empty())
                return status::bad;
            // Room is made as bytes arrive, never for what the header claims.
            payload_.clear();
            payload_have_ = 0;
            in_payload_ = true;
        } else {
            payload_have_ += got;
        }
        if (payload_have_ == header_.payload_len) {
            in_payload_ = false;
            header_have_ = 0;
            return status::frame;
        }
    }
}

void frame_reader::make_room() {
    // Doubling keeps the number of reallocations logarithmic in the frame's
    // size; the last one stops at the frame's end.
    const size_t missing = static_cast<size_t>(header_.payload_len) - payload_have_;
    const size_t grow = std::min(missing, std::max(payload_have_, payload_step_));
    payload_.resize(payload_have_ + grow);
}

payload_buffer frame_reader::take_payload() noexcept { return std::move(payload_); }

std::string frame_reader::where_in_frame() const {
    if (in_payload_)
        return std::to_string(payload_have_) + " bytes into a payload of " +
               std::to_string(header_.payload_len);
    return std::to_string(header_have_) + " bytes into a frame header";
}

}  // namespace pm::core
