// The wire format between the parent and its workers, and the builders and
// views that encode and decode it without a per-item allocation.
//
// Every message is a frame: a fixed 40-byte header, then payload_len bytes.
//   task:   count x u64 item length, then the items' bytes back to back;
//           or, with flag uniform, no table: count items of payload_len /
//           count bytes each
//   range:  no payload: items first_index .. first_index + count - 1 of the
//           input the worker inherited (a one-shot map over an array input,
//           whose workers were forked with the array in their memory)
//   result: count x result_entry, then each item's result (or, for a failed
//           item, its error message and then its payload) back to back;
//           or, with flag uniform, no table: count results of payload_len /
//           count bytes each, back to back
//   stop:   no payload; the worker finishes what it holds and exits
// A task or result frame of two or more items of one size with nothing else
// to say (no failure) is sent uniform: small items, the common case, then
// cross the pipe at their own size, not with 8 or 16 bytes of table each.
// A chunk is a run of count consecutive items starting at first_index; a
// worker may answer it with several result frames, each a run that follows
// the last (results stream back as they are made). Both ends run the same
// binary on the same machine, so fields are native-endian.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "parmapper.h"
#include "byte_builder.hpp"
#include "payload_buffer.hpp"

namespace pm::core {

constexpr uint32_t frame_magic = 0x31464d50;  // "PMF1"
constexpr uint16_t frame_version = 1;

enum class frame_type : uint16_t { task = 1, result = 2, stop = 3, range = 4 };

// Header flags. A reader rejects any other bit, so a reader that predates a
// flag fails such a frame as bad rather than misreading it.
constexpr uint32_t frame_flag_uniform = 1;  // task and result frames, count > 0

struct frame_header {
    uint32_t magic;
    uint16_t version;
    uint16_t type;
    uint32_t count;
    uint32_t flags;
    uint64_t first_index;
    uint64_t payload_len;
    uint64_t aux;  // result: nanoseconds the worker spent on the chunk
};
static_assert(sizeof(frame_header) == 40, "frame header is 40 bytes on the wire");

struct result_entry {
    uint64_t len;
    int32_t status;  // PM_OK, or a failure (known_result_status())
    // A failure: the first message_len of its len bytes are the message,
    // the rest its payload. A result: 0 (the reserved field of 0.2).
    uint32_t message_len;
};
static_assert(sizeof(result_entry) == 16, "result entry is 16 bytes on the wire");

// The failure statuses a result entry may carry: an item's own (PM_EITEM),
// and those a pool at the far end of a stream worker reports for an item
// (a crash, a timeout, a bad frame, a system error there).
bool known_result_status(int status) noexcept;
// status as a result entry carries it: a status no entry may carry becomes
// PM_EWORKER (the far end failed the item).
int result_status_for_wire(int status) noexcept;

// Largest payload a frame may announce (1 TiB, one chunk's results): a
// header claiming more is corrupt. A reader never allocates what a header
// claims up front, only room for bytes that have arrived (frame_reader).
constexpr uint64_t max_payload_len = uint64_t(1) << 40;
static_assert(max_payload_len <= PTRDIFF_MAX, "a payload fits in one buffer");

frame_header make_header(frame_type type, uint32_t count, uint64_t first_index,
                         uint64_t payload_len, uint64_t aux = 0) noexcept;
// Checks magic, version, type, flags, count, payload bounds, that
// the payload can hold the frame's table, and that the index range does not
// overflow. Returns "" when the header is sound, else what is wrong with it.
// Nothing here trusts the header: it may be arbitrary bytes from a worker.
std::string check_header(const frame_header& h, uint32_t max_count);

// Collects items for one task frame. Items are copied into an owned buffer,
// or, for an array input, referenced where they lie (zero copy).
class task_builder {
public:
    void clear() noexcept;
    void push(const void* data, size_t len);
    // Items of equal size lying back to back in memory the caller keeps alive.
    void set_external_span(const void* base, size_t record_size, size_t count);
    uint32_t count() const noexcept { return static_cast<uint32_t>(lens_.size()); }
    bool empty() const noexcept { return lens_.empty(); }
    uint64_t byte_size() const noexcept;

    // Fills iov (header, length table, bytes; or header and bytes for a
    // uniform frame); returns how many are used.
    int to_iovecs(uint64_t first_index, struct iovec iov[3]);

    // Sequential access for callers that run items in-process.
    const uint64_t* lens() const noexcept { return lens_.data(); }
    const char* bytes() const noexcept { return external_ ? external_ : bytes_.data(); }

private:
    bool uniform() const noexcept;

    frame_header header_{};
    std::vector<uint64_t> lens_;
    byte_builder bytes_;
    const char* external_ = nullptr;
};

// A decoded task: its items, wherever they lie. Three shapes:
// - packed (a task frame): lens[i] bytes each, back to back from bytes;
// - array (a range frame over fixed records): record_size bytes each, back
//   to back from bytes (lens is null);
// - records (a range frame over variable records): records[i], of
//   record_lens[i] bytes (bytes and lens are null).
struct task_view {
    uint64_t first_index = 0;
    uint32_t count = 0;
    // The length table (count x u64) where it lies in the frame, which may
    // be anywhere in a read buffer: read it with len_at(), never in place.
    const char* lens = nullptr;
    const char* bytes = nullptr;
    size_t record_size = 0;
    const void* const* records = nullptr;
    const size_t* record_lens = nullptr;

    // Item i's length, whatever the shape.
    uint64_t len_at(uint32_t i) const noexcept {
        if (!lens)
            return record_lens ? record_lens[i] : record_size;
        uint64_t len;
        std::memcpy(&len, lens + size_t(i) * sizeof len, sizeof len);
        return len;
    }
};

// What a worker of a one-shot map knows of the input it inherited, for
// range frames. Plain values, taken when the workers' template is forked.
struct inherited_input {
    enum class kind { none, array, records } shape = kind::none;
    const char* base = nullptr;       // array
    size_t record_size = 0;           // array
    const void* const* items = nullptr;  // records
    const size_t* lens = nullptr;        // records
    uint64_t count = 0;
    bool usable() const noexcept { return shape != kind::none; }
};
// Returns "" and fills view for items [h.first_index, +h.count) of input,
// else the problem (a range past the input's end).
std::string decode_range(const frame_header& h, const inherited_input& input, task_view* view);
// Returns "" and fills view if the payload matches the header, else the
// problem. payload: h.payload_len bytes, with no alignment needed.
std::string decode_task(const frame_header& h, const char* payload, task_view* view);

// Collects the results of one chunk in a worker (or in-process).
class result_builder {
public:
    void clear() noexcept;
    // Inline: they run once per item.
    void begin_item() noexcept { item_start_ = data_.size(); }
    // Appends to the current item's result; returns where the bytes go.
    char* append(size_t len) { return data_.append(len); }
    char* append_if_room(size_t len) noexcept { return data_.append_if_room(len); }
    void end_item_ok() {
        // Fields stored in place: a pushed temporary was written as two
        // 8-byte stores and read back as one 16-byte load, which stalls.
        const uint64_t len = data_.size() - item_start_;
        result_entry& e = table_.emplace_back();
        e.len = len;
        e.status = PM_OK;
        e.message_len = 0;
    }
    void end_item_failed(int status, const std::string& message,
                         const std::string& payload = std::string());
    uint32_t count() const noexcept { return static_cast<uint32_t>(table_.size()); }

    // Fills iov (header, then table and data, or only the data of a
    // uniform frame); returns how many are used.
    int to_iovecs(uint64_t first_index, uint64_t elapsed_ns, struct iovec iov[3]);
    // Result bytes (data and table) held so far.
    size_t byte_size() const noexcept {
        return data_.size() + table_.size() * sizeof(result_entry);
    }

    // The items' outcomes so far, for callers that run items in-process:
    // entry i's bytes start at data() + (the sum of the earlier entries'
    // lens); data() moves as the builder grows.
    const std::vector<result_entry>& table() const noexcept { return table_; }
    const char* data() const noexcept { return data_.data(); }

private:
    bool uniform() const noexcept;

    frame_header header_{};
    std::vector<result_entry> table_;
    byte_builder data_;
    size_t item_start_ = 0;
};

// A received result chunk, held until the consumer has taken every item.
class result_chunk {
public:
    // Takes ownership of payload (when it returns ""); returns "" if it
    // matches the header: its size, a table whose lengths add up to the
    // rest, known statuses, no message length on a result and none longer
    // than its failure. On a problem the chunk is left as it was.
    std::string decode(const frame_header& h, payload_buffer&& payload);
    // A chunk whose items all failed with one status and message (lost items).
    void make_failed(uint64_t first_index, uint32_t count, int status,
                     const std::string& message);

    uint64_t first_index() const noexcept { return first_index_; }
    uint32_t count() const noexcept { return count_; }
    bool exhausted() const noexcept { return next_ >= count_; }
    // Whether the next item (!exhausted()) is a result, not a failure.
    bool next_is_result() const noexcept {
        return uniform_len_ != no_uniform_len || (table_ && table_[next_].status == PM_OK);
    }
    // Index of the first failed item, UINT64_MAX if none failed.
    uint64_t first_failed() const noexcept { return first_failed_; }

    // A result (status PM_OK): data, len. A failure: its message
    // (message, message_len) and its payload (data, len).
    struct item {
        uint64_t index;
        int status;
        const char* data;
        size_t len;
        const char* message;
        size_t message_len;
    };
    // The next item in chunk order; call only when !exhausted(). Inline:
    // it runs once per result on the caller's thread.
    item take() noexcept {
        const uint32_t i = next_++;
        if (uniform_len_ != no_uniform_len) {
            const char* at = data_ + offset_;
            offset_ += uniform_len_;
            return {first_index_ + i, PM_OK, at, static_cast<size_t>(uniform_len_), nullptr, 0};
        }
        if (!table_)
            return {first_index_ + i, failed_status_, nullptr, 0, data_, payload_.size()};
        const result_entry& e = table_[i];
        const char* at = data_ + offset_;
        offset_ += e.len;
        if (e.status == PM_OK)
            return {first_index_ + i, e.status, at, static_cast<size_t>(e.len), nullptr, 0};
        return {first_index_ + i, e.status, at + e.message_len,
                static_cast<size_t>(e.len - e.message_len), at, e.message_len};
    }
    // Takes up to max results in a row, stopping before a failure: calls
    // put(index, data, len) for each. Returns how many it took.
    template <class Put>
    size_t take_results(size_t max, Put&& put) noexcept {
        size_t n = 0;
        if (uniform_len_ != no_uniform_len) {
            while (n < max && next_ < count_) {
                put(first_index_ + next_, data_ + offset_, static_cast<size_t>(uniform_len_));
                offset_ += uniform_len_;
                ++next_;
                ++n;
            }
            return n;
        }
        if (!table_)
            return 0;
        while (n < max && next_ < count_ && table_[next_].status == PM_OK) {
            const uint64_t len = table_[next_].len;
            put(first_index_ + next_, data_ + offset_, static_cast<size_t>(len));
            offset_ += len;
            ++next_;
            ++n;
        }
        return n;
    }

private:
    // decode() once the frame is known to be sound: takes the payload.
    std::string adopt(const frame_header& h, payload_buffer&& payload, uint64_t table,
                      uint64_t first_failed);

    static constexpr uint64_t no_uniform_len = UINT64_MAX;

    payload_buffer payload_;
    // A uniform frame: every item a result of uniform_len_ bytes (and no
    // table); else no_uniform_len, and the table says (null: make_failed()).
    uint64_t uniform_len_ = no_uniform_len;
    const result_entry* table_ = nullptr;
    const char* data_ = nullptr;
    uint64_t first_index_ = 0;
    uint32_t count_ = 0;
    uint32_t next_ = 0;
    uint64_t offset_ = 0;
    int failed_status_ = 0;
    uint64_t first_failed_ = UINT64_MAX;
};

}  // namespace pm::core
