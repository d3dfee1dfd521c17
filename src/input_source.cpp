#include "input_source.hpp"

#include <algorithm>
#include <exception>
#include <utility>

namespace pm::core {

input_source input_source::pull(pm_input_fn fn, void* user_data, pm_destroy_fn destroy) {
    input_source in(kind::pull);
    in.fn_ = fn;
    in.user_data_ = user_data;
    in.destroy_ = destroy;
    return in;
}

input_source input_source::array(const void* base, size_t record_size, size_t count) {
    input_source in(kind::array);
    in.base_ = static_cast<const char*>(base);
    in.record_size_ = record_size;
    in.count_ = count;
    return in;
}

input_source input_source::records(const void* const* items, const size_t* lens,
                                   size_t count) {
    input_source in(kind::records);
    in.items_.assign(items, items + count);
    in.lens_.assign(lens, lens + count);
    in.count_ = count;
    return in;
}

input_source::input_source(input_source&& o) noexcept
    : kind_(o.kind_),
      fn_(o.fn_),
      user_data_(o.user_data_),
      destroy_(std::exchange(o.destroy_, nullptr)),
      ended_(o.ended_),
      base_(o.base_),
      record_size_(o.record_size_),
      items_(std::move(o.items_)),
      lens_(std::move(o.lens_)),
      count_(o.count_),
      next_(o.next_) {}

input_source::~input_source() {
    if (destroy_)
        destroy_(user_data_);
}

uint64_t input_source::length() const noexcept {
    return kind_ == kind::pull ? UINT64_MAX : count_;
}

size_t input_source::skip(size_t want) noexcept {
    const size_t n = std::min(std::max<size_t>(want, 1), count_ - next_);
    next_ += n;
    return n;
}

inherited_input input_source::inherited() const noexcept {
    inherited_input in;
    in.count = count_;
    if (kind_ == kind::array) {
        in.shape = inherited_input::kind::array;
        in.base = base_;
        in.record_size = record_size_;
    } else if (kind_ == kind::records) {
        in.shape = inherited_input::kind::records;
        in.items = items_.data();
        in.lens = lens_.data();
    }
    return in;
}

void input_source::item(uint64_t index, const char** data, size_t* len) const noexcept {
    if (kind_ == kind::array) {
        *data = base_ + index * record_size_;
        *len = record_size_;
    } else if (kind_ == kind::records) {
        *data = static_cast<const char*>(items_[index]);
        *len = lens_[index];
    } else {
        *data = nullptr;
        *len = 0;
    }
}

input_source::fill_status input_source::fill(task_builder& out, size_t want,
                                             const std::atomic<bool>* stop,
                                             std::string* message) {
    out.clear();
    want = std::max<size_t>(want, 1);
    switch (kind_) {
    case kind::array: {
        size_t n = std::min(want, count_ - next_);
        out.set_external_span(base_ + next_ * record_size_, record_size_, n);
        next_ += n;
        return next_ < count_ ? fill_status::more : fill_status::end;
    }
    case kind::records: {
        size_t n = std::min(want, count_ - next_);
        for (size_t i = 0; i < n; ++i)
            out.push(items_[next_ + i], lens_[next_ + i]);
        next_ += n;
        return next_ < count_ ? fill_status::more : fill_status::end;
    }
    case kind::pull:
        break;
    }
    if (ended_)
        return fill_status::end;
    pm_feed feed;
    feed.builder = &out;
    feed.wanted = want;
    while (out.count() < want) {
        if (stop && stop->load(std::memory_order_relaxed))
            return fill_status::more;
        int rc;
        try {
            rc = fn_(&feed, user_data_);
        } catch (const std::exception& e) {
            // A C++ callback must not unwind through the engine.
            *message = std::string("input callback threw: ") + e.what();
            ended_ = true;
            return fill_status::failed;
        } catch (...) {
            *message = "input callback threw a non-standard exception";
            ended_ = true;
            return fill_status::failed;
        }
        if (rc == PM_DONE) {
            ended_ = true;
            return fill_status::end;
        }
        if (rc == PM_EAGAIN)  // none ready now: send what it gave
            return out.count() > 0 ? fill_status::more : fill_status::idle;
        if (rc < 0) {
            ended_ = true;
            *message = feed.error.empty()
                           ? "input callback returned " + std::to_string(rc)
                           : feed.error;
            return fill_status::failed;
        }
    }
    return fill_status::more;
}

}  // namespace pm::core
