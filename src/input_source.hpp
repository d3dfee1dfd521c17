// Where items come from: a pull callback, an array of fixed-size records, or
// an array of variable-size records. The feeder (or an in-process map) asks
// it to fill a task_builder with the next items.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "frame_codec.hpp"
#include "parmapper.h"

// What a pm_input_fn pushes into. Defined here because the C API only has the
// opaque name.
struct pm_feed {
    pm::core::task_builder* builder = nullptr;
    std::string error;
    size_t wanted = 1;  // items this fill asks for in all, counting those pushed
};

namespace pm::core {

class input_source {
public:
    // idle: a pull callback had no item ready (it returned PM_EAGAIN with
    // none pushed in this fill); ask again later.
    enum class fill_status { more, end, failed, idle };

    static input_source pull(pm_input_fn fn, void* user_data, pm_destroy_fn destroy);
    static input_source array(const void* base, size_t record_size, size_t count);
    static input_source records(const void* const* items, const size_t* lens, size_t count);

    input_source(input_source&& other) noexcept;
    input_source& operator=(input_source&&) = delete;
    input_source(const input_source&) = delete;
    ~input_source();

    // Number of items, or UINT64_MAX for a pull input.
    uint64_t length() const noexcept;
    // Array inputs: any item can be read again, where it lies, from any
    // thread (item() only reads what the input was created with).
    bool random_access() const noexcept { return kind_ != kind::pull; }
    void item(uint64_t index, const char** data, size_t* len) const noexcept;

    // Array inputs whose workers inherited them: moves past up to want items
    // without reading them (they travel as an index range); returns how many.
    size_t skip(size_t want) noexcept;
    bool at_end() const noexcept { return kind_ != kind::pull && next_ == count_; }

    // What a forked worker needs to find items by index (range frames).
    inherited_input inherited() const noexcept;

    // Clears out, then adds up to want items (a pull callback may overshoot:
    // it pushes what it pushes). A pull input also stops between calls once
    // stop is set. failed: message holds the callback's error.
    fill_status fill(task_builder& out, size_t want, const std::atomic<bool>* stop,
                     std::string* message);

private:
    enum class kind { pull, array, records };
    explicit input_source(kind k) : kind_(k) {}

    kind kind_;
    // pull
    pm_input_fn fn_ = nullptr;
    void* user_data_ = nullptr;
    pm_destroy_fn destroy_ = nullptr;
    bool ended_ = false;
    // array and records
    const char* base_ = nullptr;
    size_t record_size_ = 0;
    std::vector<const void*> items_;
    std::vector<size_t> lens_;
    size_t count_ = 0;
    size_t next_ = 0;
};

}  // namespace pm::core
