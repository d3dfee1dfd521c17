#include "frame_reader.hpp"

#include <cerrno>
#include <cstring>

#include "sys_io.hpp"

namespace pm::core {

frame_reader::status frame_reader::read(int fd, uint32_t max_count, std::string* problem) {
    for (;;) {
        char* dst;
        size_t want;
        if (!in_payload_) {
            dst = reinterpret_cast<char*>(&header_) + header_have_;
            want = sizeof header_ - header_have_;
        } else {
            dst = payload_.data() + payload_have_;
            want = payload_.size() - payload_have_;
        }
        size_t got = 0;
        if (want > 0) {
            switch (read_some(fd, dst, want, &got)) {
            case io_result::would_block:
                return status::need_more;
            case io_result::closed:
                if (mid_frame())
                    *problem = "stream ended inside a frame";
                return status::closed;
            case io_result::failed:
                *problem = std::string("read failed: ") + std::strerror(errno);
                return status::closed;
            case io_result::done:
                break;
            }
        }
        if (!in_payload_) {
            header_have_ += got;
            if (header_have_ < sizeof header_)
                continue;
            *problem = check_header(header_, max_count);
            if (!problem->empty())
                return status::bad;
            payload_.resize(header_.payload_len);
            payload_have_ = 0;
            in_payload_ = true;
        } else {
            payload_have_ += got;
        }
        if (payload_have_ == payload_.size()) {
            in_payload_ = false;
            header_have_ = 0;
            return status::frame;
        }
    }
}

std::vector<char> frame_reader::take_payload() noexcept {
    std::vector<char> out;
    out.swap(payload_);
    return out;
}

}  // namespace pm::core
