// Internal: a pm_input over a C++ range. A contiguous range of trivially
// copyable items is handed over in place (pm_input_create_array); any other
// range, a single-pass generator included, is pulled one item at a time on
// the library's feeder thread. The range_input outlives the pm_map it feeds,
// so that an exception the range throws can be rethrown once the map is gone.
#ifndef PARMAPPER_DETAIL_INPUT_HPP
#define PARMAPPER_DETAIL_INPUT_HPP

#include <cstdint>
#include <exception>
#include <iterator>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include "../parmapper.h"
#include "call.hpp"
#include "codec.hpp"
#include "handles.hpp"

namespace pm::detail {

// ---------------------------------------------------------------------------
// Range traits (C++17: no <ranges>).

namespace adl {
using std::begin;
using std::end;
template <class R>
auto begin_of(R& r) -> decltype(begin(r)) {
    return begin(r);
}
template <class R>
auto end_of(R& r) -> decltype(end(r)) {
    return end(r);
}
}  // namespace adl

template <class R>
using iterator_t = decltype(adl::begin_of(std::declval<R&>()));
template <class R>
using sentinel_t = decltype(adl::end_of(std::declval<R&>()));

template <class R, class = void>
struct is_range : std::false_type {};
template <class R>
struct is_range<R, std::void_t<iterator_t<R>, sentinel_t<R>>> : std::true_type {};

template <class It, class = void>
struct iterator_value {
    using type = remove_cvref_t<decltype(*std::declval<It&>())>;
};
template <class It>
struct iterator_value<It, std::void_t<typename std::iterator_traits<It>::value_type>> {
    using type = typename std::iterator_traits<It>::value_type;
};

// A map's std::pair<const K, V> travels as std::pair<K, V>: a const member
// cannot be decoded into.
template <class T>
struct item_of {
    using type = T;
};
template <class K, class V>
struct item_of<std::pair<const K, V>> {
    using type = std::pair<K, V>;
};

template <class R>
using range_value_t = typename item_of<typename iterator_value<iterator_t<R>>::type>::type;

template <class R, class = void>
struct has_size : std::false_type {};
template <class R>
struct has_size<R, std::void_t<decltype(std::size(std::declval<R&>()))>> : std::true_type {};

template <class R, class = void>
struct has_data : std::false_type {};
template <class R>
struct has_data<R, std::void_t<decltype(std::data(std::declval<R&>()))>> : std::true_type {};

// In memory, in order, items of exactly this type: usable in place.
template <class R, class Item, class = void>
struct is_contiguous_of : std::false_type {};
template <class R, class Item>
struct is_contiguous_of<R, Item, std::enable_if_t<has_data<R>::value && has_size<R>::value>>
    : std::bool_constant<std::is_same_v<
          remove_cvref_t<std::remove_pointer_t<decltype(std::data(std::declval<R&>()))>>,
          Item>> {};

// ---------------------------------------------------------------------------

class input_base {
public:
    virtual ~input_base() = default;

    // A new pm_input reading this range; throws pm::error.
    virtual pm_input* make_input() = 0;

    // The number of items if the range knows it, else PM_TOTAL_UNKNOWN.
    virtual uint64_t length() = 0;

    // What the range threw while being read (null if nothing). Read it only
    // once the map is destroyed, which joins the feeder thread.
    std::exception_ptr failure() const { return failure_; }

protected:
    std::exception_ptr failure_;
};

// Stored is the range type as held: a reference for an lvalue range (it must
// outlive the map), a value for an rvalue range (moved in).
template <class Stored, class Item>
class range_input final : public input_base {
    using range_type = std::remove_reference_t<Stored>;

public:
    template <class R>
    explicit range_input(R&& r) : range_(std::forward<R>(r)) {}

    pm_input* make_input() override {
        pm_input* in = nullptr;
        if constexpr (is_raw_item_v<Item> && is_contiguous_of<range_type, Item>::value) {
            const size_t n = static_cast<size_t>(std::size(range_));
            check(pm_input_create_array(&in, n ? static_cast<const void*>(std::data(range_))
                                               : nullptr,
                                        sizeof(Item), n),
                  "pm_input_create_array");
        } else {
            // No destroy function: this object outlives the map by design.
            check(pm_input_create_pull(&in, &range_input::pull, this, nullptr),
                  "pm_input_create_pull");
        }
        return in;
    }

    uint64_t length() override {
        if constexpr (has_size<range_type>::value)
            return static_cast<uint64_t>(std::size(range_));
        else
            return PM_TOTAL_UNKNOWN;
    }

private:
    // The pm_input_fn, on the feeder thread (or the iterating thread for an
    // in-process map): one item per call. The iterator is advanced at the
    // start of the next call, so a slow generator never holds back an item
    // already pushed.
    static int pull(pm_feed* feed, void* self) noexcept {
        auto* me = static_cast<range_input*>(self);
        try {
            if (!me->it_) {
                me->it_.emplace(adl::begin_of(me->range_));
                me->end_.emplace(adl::end_of(me->range_));
            } else if (me->advance_) {
                ++*me->it_;
            }
            me->advance_ = false;
            if (*me->it_ == *me->end_)
                return PM_DONE;
            const Item& item = **me->it_;
            encode_item<Item>(item, me->buffer_);
            me->advance_ = true;
            if (pm_feed_push(feed, me->buffer_.data(), me->buffer_.size()) != PM_OK)
                throw std::bad_alloc();
            return PM_OK;
        } catch (...) {
            me->failure_ = std::current_exception();
            try {
                pm_feed_set_error(feed, ("the input range threw " +
                                         failure_text(describe_current_exception()))
                                            .c_str());
            } catch (...) {
                pm_feed_set_error(feed, "the input range threw");
            }
            return PM_EINPUT;
        }
    }

    Stored range_;
    std::optional<iterator_t<range_type>> it_;
    std::optional<sentinel_t<range_type>> end_;
    bool advance_ = false;
    std::string buffer_;
};

}  // namespace pm::detail

#endif
