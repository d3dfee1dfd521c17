#include "frame_codec.hpp"

#include <cstdio>
#include <cstring>
#include <new>

#include "parmapper.h"

namespace pm::core {

namespace {

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

// Bytes each item takes in a frame's table (lengths or result entries).
uint64_t table_entry_size(uint16_t type) noexcept {
    switch (static_cast<frame_type>(type)) {
    case frame_type::task:
        return sizeof(uint64_t);
    case frame_type::result:
        return sizeof(result_entry);
    case frame_type::stop:
    case frame_type::range:
        break;
    }
    return 0;
}

}  // namespace

frame_header make_header(frame_type type, uint32_t count, uint64_t first_index,
                         uint64_t payload_len, uint64_t aux) noexcept {
    frame_header h{};
    h.magic = frame_magic;
    h.version = frame_version;
    h.type = static_cast<uint16_t>(type);
    h.count = count;
    h.first_index = first_index;
    h.payload_len = payload_len;
    h.aux = aux;
    return h;
}

std::string check_header(const frame_header& h, uint32_t max_count) {
    if (h.magic != frame_magic)
        return "bad frame magic " + hex32(h.magic);
    if (h.version != frame_version)
        return "unsupported frame version " + std::to_string(h.version);
    if (h.type < static_cast<uint16_t>(frame_type::task) ||
        h.type > static_cast<uint16_t>(frame_type::range))
        return "unknown frame type " + std::to_string(h.type);
    const bool uniform = h.flags == frame_flag_uniform;
    if (h.flags != 0 && !uniform)
        return "frame with unknown flags " + hex32(h.flags);
    if (uniform && ((h.type != static_cast<uint16_t>(frame_type::result) &&
                     h.type != static_cast<uint16_t>(frame_type::task)) ||
                    h.count == 0 || h.payload_len % h.count != 0))
        return "uniform flag on a frame that cannot carry it";
    if (h.count > max_count)
        return "frame holds " + std::to_string(h.count) + " items, more than " +
               std::to_string(max_count);
    if (h.payload_len > max_payload_len)
        return "frame payload of " + std::to_string(h.payload_len) + " bytes is too large";
    if (h.type == static_cast<uint16_t>(frame_type::stop) && (h.count || h.payload_len))
        return "stop frame with a payload";
    if (h.type == static_cast<uint16_t>(frame_type::range) && h.payload_len)
        return "range frame with a payload";
    // Checked here, before a reader makes room for the payload.
    const uint64_t table = uniform ? 0 : uint64_t(h.count) * table_entry_size(h.type);
    if (h.payload_len < table)
        return "frame of " + std::to_string(h.payload_len) + " bytes is too short for the " +
               "table of its " + std::to_string(h.count) + " items";
    if (h.first_index > UINT64_MAX - h.count)
        return "frame index range overflows";
    return {};
}

// ---- task_builder --------------------------------------------------------

void task_builder::clear() noexcept {
    lens_.clear();
    bytes_.clear();
    external_ = nullptr;
}

void task_builder::push(const void* data, size_t len) {
    // A builder holds either copied items or one external span, never both.
    if (lens_.size() == lens_.capacity())
        lens_.reserve(lens_.size() * 2 + 16);  // so that nothing below can fail half-way
    bytes_.append(data, len);  // leaves the bytes as they were if it throws
    lens_.push_back(len);
}

void task_builder::set_external_span(const void* base, size_t record_size, size_t count) {
    clear();
    external_ = static_cast<const char*>(base);
    lens_.assign(count, record_size);
}

uint64_t task_builder::byte_size() const noexcept {
    if (external_)
        return lens_.empty() ? 0 : lens_.size() * lens_[0];
    return bytes_.size();
}

bool task_builder::uniform() const noexcept {
    if (lens_.size() < 2)
        return false;
    if (external_)
        return true;  // one record size
    const uint64_t len = lens_[0];
    uint64_t odd = 0;
    for (const uint64_t l : lens_)
        odd |= l ^ len;
    return odd == 0;
}

int task_builder::to_iovecs(uint64_t first_index, struct iovec iov[3]) {
    if (uniform()) {
        header_ = make_header(frame_type::task, count(), first_index, byte_size());
        header_.flags = frame_flag_uniform;
        iov[0] = {&header_, sizeof header_};
        iov[1] = {const_cast<char*>(bytes()), byte_size()};
        return 2;
    }
    uint64_t table = lens_.size() * sizeof(uint64_t);
    header_ = make_header(frame_type::task, count(), first_index, table + byte_size());
    iov[0] = {&header_, sizeof header_};
    iov[1] = {lens_.data(), table};
    iov[2] = {const_cast<char*>(bytes()), byte_size()};
    return 3;
}

std::string decode_task(const frame_header& h, const char* payload, task_view* view) {
    if (h.type != static_cast<uint16_t>(frame_type::task))
        return "frame of type " + std::to_string(h.type) + " is not a task frame";
    if (h.flags == frame_flag_uniform) {
        if (h.count == 0 || h.payload_len % h.count != 0)
            return "uniform task frame whose " + std::to_string(h.payload_len) +
                   " bytes do not split into its " + std::to_string(h.count) + " items";
        *view = task_view{};
        view->first_index = h.first_index;
        view->count = h.count;
        view->bytes = payload;
        view->record_size = static_cast<size_t>(h.payload_len / h.count);
        return {};
    }
    if (h.flags != 0)
        return "task frame with unknown flags " + hex32(h.flags);
    const uint64_t table = uint64_t(h.count) * sizeof(uint64_t);
    if (h.payload_len < table)
        return "task frame shorter than its length table";
    task_view v;
    v.lens = payload;
    const uint64_t data_len = h.payload_len - table;
    uint64_t sum = 0;
    for (uint32_t i = 0; i < h.count; ++i) {
        const uint64_t len = v.len_at(i);
        // sum <= data_len holds throughout, so this cannot wrap.
        if (len > data_len - sum)
            return "task item lengths exceed the frame (item " + std::to_string(i) + ")";
        sum += len;
    }
    if (sum != data_len)
        return "task item lengths add up to " + std::to_string(sum) + " of the frame's " +
               std::to_string(data_len) + " data bytes";
    *view = task_view{};
    view->first_index = h.first_index;
    view->count = h.count;
    view->lens = payload;
    view->bytes = payload + table;
    return {};
}

std::string decode_range(const frame_header& h, const inherited_input& input, task_view* view) {
    if (h.type != static_cast<uint16_t>(frame_type::range))
        return "frame of type " + std::to_string(h.type) + " is not a range frame";
    if (!input.usable())
        return "range frame to a worker that inherited no input";
    if (h.first_index > input.count || h.count > input.count - h.first_index)
        return "range frame for items past the input's " + std::to_string(input.count);
    *view = task_view{};
    view->first_index = h.first_index;
    view->count = h.count;
    if (input.shape == inherited_input::kind::array) {
        view->bytes = input.base + h.first_index * input.record_size;
        view->record_size = input.record_size;
    } else {
        view->records = input.items + h.first_index;
        view->record_lens = input.lens + h.first_index;
    }
    return {};
}

// ---- result_builder ------------------------------------------------------

void result_builder::clear() noexcept {
    table_.clear();
    data_.clear();
    item_start_ = 0;
}

void result_builder::end_item_failed(int status, const std::string& message,
                                     const std::string& payload) {
    data_.truncate(item_start_);  // a failed item's partial result is dropped
    // A message longer than the field can say is cut.
    const size_t message_len = std::min<size_t>(message.size(), UINT32_MAX);
    data_.append(message.data(), message_len);
    data_.append(payload.data(), payload.size());
    table_.push_back(
        {message_len + payload.size(), status, static_cast<uint32_t>(message_len)});
}

bool result_builder::uniform() const noexcept {
    // Two or more results of one length and no failure: the table says
    // nothing the header cannot (a single result keeps its table, as the
    // background process's reader expects one).
    if (table_.size() < 2)
        return false;
    const uint64_t len = table_[0].len;
    uint64_t odd = 0;
    for (const result_entry& e : table_)
        odd |= (e.len ^ len) | static_cast<uint32_t>(e.status) | e.message_len;
    return odd == 0;
}

int result_builder::to_iovecs(uint64_t first_index, uint64_t elapsed_ns, struct iovec iov[3]) {
    if (uniform()) {
        header_ = make_header(frame_type::result, count(), first_index, data_.size(), elapsed_ns);
        header_.flags = frame_flag_uniform;
        iov[0] = {&header_, sizeof header_};
        iov[1] = {data_.data(), data_.size()};
        return 2;
    }
    uint64_t table = table_.size() * sizeof(result_entry);
    header_ = make_header(frame_type::result, count(), first_index, table + data_.size(),
                          elapsed_ns);
    iov[0] = {&header_, sizeof header_};
    iov[1] = {table_.data(), table};
    iov[2] = {data_.data(), data_.size()};
    return 3;
}


bool known_result_status(int status) noexcept {
    switch (status) {
    case PM_EITEM:
    case PM_EWORKER:
    case PM_ETIMEOUT:
    case PM_EIO:
    case PM_ESYS:
    case PM_ENOMEM:
    case PM_EINTERNAL:
        return true;
    default:
        return false;
    }
}

int result_status_for_wire(int status) noexcept {
    return known_result_status(status) ? status : PM_EWORKER;
}

// ---- result_chunk --------------------------------------------------------

std::string result_chunk::decode(const frame_header& h, payload_buffer&& payload) {
    if (h.type != static_cast<uint16_t>(frame_type::result))
        return "frame of type " + std::to_string(h.type) + " is not a result frame";
    if (payload.size() != h.payload_len)
        return "result payload of " + std::to_string(payload.size()) +
               " bytes where the header says " + std::to_string(h.payload_len);
    if (h.flags == frame_flag_uniform) {
        if (h.count == 0 || h.payload_len % h.count != 0)
            return "uniform result frame whose " + std::to_string(h.payload_len) +
                   " bytes do not split into its " + std::to_string(h.count) + " results";
        // Adopted as a frame with an empty table, then told its one length.
        std::string ok = adopt(h, std::move(payload), 0, UINT64_MAX);
        uniform_len_ = h.payload_len / h.count;
        table_ = nullptr;
        return ok;
    }
    if (h.flags != 0)
        return "result frame with unknown flags " + hex32(h.flags);
    const uint64_t table = uint64_t(h.count) * sizeof(result_entry);
    if (h.payload_len < table)
        return "result frame shorter than its table";
    const result_entry* entries = reinterpret_cast<const result_entry*>(payload.data());
    const uint64_t data_len = h.payload_len - table;
    uint64_t first_failed = UINT64_MAX;
    // A chunk of results alone (the common case) is checked in one pass
    // with no branch per entry: no entry longer than the data (with
    // count * data_len in range, so the sum cannot wrap), status 0 and no
    // message length anywhere, lengths adding up. Anything else takes the
    // loop below, which also says what is wrong.
    uint64_t sum = 0, flags = 0;
    bool too_long = false;
    for (uint32_t i = 0; i < h.count; ++i) {
        const result_entry& e = entries[i];
        too_long |= e.len > data_len;
        flags |= static_cast<uint32_t>(e.status) | uint64_t(e.message_len);
        sum += e.len;
    }
    const bool sum_in_range = h.count == 0 || data_len <= UINT64_MAX / h.count;
    if (sum_in_range && !too_long && flags == 0 && sum == data_len)
        return adopt(h, std::move(payload), table, first_failed);
    sum = 0;
    for (uint32_t i = 0; i < h.count; ++i) {
        const result_entry& e = entries[i];
        // sum <= data_len holds throughout, so this cannot wrap.
        if (e.len > data_len - sum)
            return "result lengths exceed the frame (item " + std::to_string(i) + ")";
        if (e.status != PM_OK && !known_result_status(e.status))
            return "result with unknown status " + std::to_string(e.status);
        if (e.status == PM_OK && e.message_len != 0)
            return "result entry with a nonzero reserved field (a message length on a result)";
        if (e.message_len > e.len)
            return "result entry with a message longer than its failure (item " +
                   std::to_string(i) + ")";
        if (e.status != PM_OK && first_failed == UINT64_MAX)
            first_failed = h.first_index + i;
        sum += e.len;
    }
    if (sum != data_len)
        return "result lengths add up to " + std::to_string(sum) + " of the frame's " +
               std::to_string(data_len) + " data bytes";
    return adopt(h, std::move(payload), table, first_failed);
}

std::string result_chunk::adopt(const frame_header& h, payload_buffer&& payload, uint64_t table,
                               uint64_t first_failed) {
    payload_ = std::move(payload);
    uniform_len_ = no_uniform_len;
    table_ = reinterpret_cast<const result_entry*>(payload_.data());
    data_ = payload_.data() + table;
    first_index_ = h.first_index;
    count_ = h.count;
    next_ = 0;
    offset_ = 0;
    failed_status_ = 0;
    first_failed_ = first_failed;
    return {};
}

void result_chunk::make_failed(uint64_t first_index, uint32_t count, int status,
                               const std::string& message) {
    // One shared message: every entry points at the same bytes (offset 0).
    payload_ = payload_buffer(message.data(), message.size());
    uniform_len_ = no_uniform_len;
    table_ = nullptr;
    data_ = payload_.data();
    first_index_ = first_index;
    count_ = count;
    next_ = 0;
    offset_ = 0;
    failed_status_ = status;
    first_failed_ = count ? first_index : UINT64_MAX;
}

}  // namespace pm::core
