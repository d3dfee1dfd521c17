// libFuzzer target: arbitrary bytes as a worker's result stream, read and
// decoded the way the collector does (frame_reader, then result_chunk), and
// task frames decoded the way a worker does (decode_task). Whatever the
// bytes, nothing may crash, read out of bounds, leak, or allocate more than
// a small multiple of the input; every accepted frame must be consistent.
//
// The input arrives in pieces of pseudo-random sizes (derived from the input
// itself, so a run is deterministic) with a "would block" between pieces, as
// a pipe delivers it, so the reader's resumption paths are exercised too.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "frame_codec.hpp"
#include "frame_reader.hpp"
#include "parmapper.h"

using namespace pm::core;

namespace {

// An invariant the decoder promises; a violation is a finding.
#define FUZZ_REQUIRE(cond)                                                      \
    do {                                                                        \
        if (!(cond)) {                                                          \
            std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__,     \
                         __LINE__, #cond);                                      \
            std::abort();                                                       \
        }                                                                       \
    } while (0)

class split_source final : public byte_source {
public:
    split_source(const uint8_t* data, size_t size) noexcept
        : data_(data), size_(size), rng_(0x9e3779b97f4a7c15ull ^ size) {
        for (size_t i = 0; i < size && i < 8; ++i)
            rng_ = rng_ * 0x100000001b3ull ^ data[i];
    }

    io_result read_some(void* buf, size_t len, size_t* got) noexcept override {
        *got = 0;
        if (pos_ == size_)
            return io_result::closed;
        if (piece_left_ == 0) {
            if (started_ && !paused_) {
                paused_ = true;
                return io_result::would_block;
            }
            paused_ = false;
            started_ = true;
            piece_left_ = next_piece();
        }
        size_t n = len;
        if (n > piece_left_)
            n = piece_left_;
        if (n > size_ - pos_)
            n = size_ - pos_;
        std::memcpy(buf, data_ + pos_, n);
        pos_ += n;
        piece_left_ -= n;
        *got = n;
        return io_result::done;
    }

private:
    size_t next_piece() noexcept {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        static const size_t spans[4] = {8, 64, 4096, size_t(1) << 20};
        return 1 + static_cast<size_t>(rng_ % spans[(rng_ >> 32) & 3]);
    }

    const uint8_t* data_;
    size_t size_;
    size_t pos_ = 0;
    size_t piece_left_ = 0;
    bool started_ = false;
    bool paused_ = false;
    uint64_t rng_;
};

// Reads every byte of an accepted item, so a bad pointer or length shows.
uint64_t touch(const char* data, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; ++i)
        h = (h ^ static_cast<unsigned char>(data[i])) * 0x100000001b3ull;
    return h;
}

volatile uint64_t g_sink;

// Decodes one frame as its receiver would. False: the receiver would drop
// the worker (or, for a task, the worker would exit) here.
bool decode_frame(frame_reader& reader) {
    const frame_header h = reader.header();
    payload_buffer payload = reader.take_payload();
    FUZZ_REQUIRE(payload.size() == h.payload_len);
    FUZZ_REQUIRE(check_header(h, PM_MAX_CHUNK_SIZE).empty());
    uint64_t seen = 0;
    switch (static_cast<frame_type>(h.type)) {
    case frame_type::result: {
        const bool uniform = h.flags == frame_flag_uniform;
        const uint64_t table = uniform ? 0 : uint64_t(h.count) * sizeof(result_entry);
        result_chunk chunk;
        if (!chunk.decode(h, std::move(payload)).empty())
            return false;
        FUZZ_REQUIRE(chunk.count() == h.count && chunk.first_index() == h.first_index);
        uint64_t bytes = 0;
        uint64_t first_failed = UINT64_MAX;
        for (uint32_t i = 0; i < h.count; ++i) {
            FUZZ_REQUIRE(!chunk.exhausted());
            result_chunk::item it = chunk.take();
            FUZZ_REQUIRE(it.index == h.first_index + i);
            // An item's own failure, or one a stream worker's far end reports.
            FUZZ_REQUIRE(it.status == PM_OK || known_result_status(it.status));
            // A uniform frame: results alone, all of one length.
            FUZZ_REQUIRE(!uniform || (it.status == PM_OK && it.len == h.payload_len / h.count));
            if (it.status != PM_OK && first_failed == UINT64_MAX)
                first_failed = it.index;
            seen ^= touch(it.data, it.len);
            seen ^= touch(it.message, it.message_len);
            bytes += it.len + it.message_len;
        }
        FUZZ_REQUIRE(chunk.exhausted());
        FUZZ_REQUIRE(chunk.first_failed() == first_failed);
        FUZZ_REQUIRE(table + bytes == h.payload_len);
        break;
    }
    case frame_type::task: {
        task_view view;
        if (!decode_task(h, payload.data(), &view).empty())
            return false;
        FUZZ_REQUIRE(view.count == h.count && view.first_index == h.first_index);
        const char* p = view.bytes;
        const char* end = payload.data() + payload.size();
        for (uint32_t i = 0; i < view.count; ++i) {
            FUZZ_REQUIRE(view.len_at(i) <= static_cast<uint64_t>(end - p));
            seen ^= touch(p, view.len_at(i));
            p += view.len_at(i);
        }
        FUZZ_REQUIRE(p == end);
        break;
    }
    case frame_type::stop:
        FUZZ_REQUIRE(h.count == 0 && h.payload_len == 0);
        break;
    case frame_type::range: {
        // Index ranges over an input the worker inherited (one-shot array
        // maps): every item the view names must lie inside that input.
        static const uint64_t records[64] = {};
        inherited_input input;
        input.shape = inherited_input::kind::array;
        input.base = reinterpret_cast<const char*>(records);
        input.record_size = sizeof records[0];
        input.count = 64;
        FUZZ_REQUIRE(h.payload_len == 0);
        task_view view;
        if (!decode_range(h, input, &view).empty())
            return false;
        FUZZ_REQUIRE(view.count == h.count && view.first_index == h.first_index);
        FUZZ_REQUIRE(view.first_index + view.count <= input.count);
        if (view.count)
            seen ^= touch(view.bytes, size_t(view.count) * view.record_size);
        break;
    }
    default:
        FUZZ_REQUIRE(false && "check_header let an unknown type through");
    }
    g_sink = seen;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    split_source source(data, size);
    // A small growth step, so that payload growth is exercised by small inputs.
    frame_reader reader(32);
    for (;;) {
        std::string problem;
        switch (reader.read(source, PM_MAX_CHUNK_SIZE, &problem)) {
        case frame_reader::status::need_more:
            continue;  // the collector would poll, then read again
        case frame_reader::status::frame:
            FUZZ_REQUIRE(problem.empty());
            if (!decode_frame(reader))
                return 0;
            continue;
        case frame_reader::status::bad:
            FUZZ_REQUIRE(!problem.empty());
            return 0;
        case frame_reader::status::closed:
            FUZZ_REQUIRE(problem.empty() == !reader.mid_frame());
            return 0;
        }
    }
}
