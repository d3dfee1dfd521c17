// Small lazy ranges for building pipelines in C++17 (no <ranges>):
// pm::subrange (an iterator pair), pm::generate (a generator function),
// pm::serial_map (a lazy map in the calling thread, Python's imap) and
// pm::to_vector. Include <parmapper.hpp>, not this file.
#ifndef PARMAPPER_CPP_RANGES_HPP
#define PARMAPPER_CPP_RANGES_HPP

#include <cstddef>
#include <functional>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "../detail/input.hpp"

namespace pm {

namespace detail {

// The iterator of a single-pass range that keeps its position in the range
// object itself: Owner provides value(), advance() and at_end(). All
// iterators of one range move together; the default one is the end.
template <class Owner, class Value, class Reference>
class owner_iterator {
public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Value;
    using difference_type = std::ptrdiff_t;
    using pointer = std::add_pointer_t<std::remove_reference_t<Reference>>;
    using reference = Reference;

    owner_iterator() = default;
    explicit owner_iterator(Owner* owner) : owner_(owner) {}
    reference operator*() const { return owner_->value(); }
    pointer operator->() const { return &owner_->value(); }
    owner_iterator& operator++() {
        owner_->advance();
        return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const owner_iterator& a, const owner_iterator& b) {
        return a.at_end() == b.at_end();
    }
    friend bool operator!=(const owner_iterator& a, const owner_iterator& b) { return !(a == b); }

private:
    bool at_end() const { return !owner_ || owner_->at_end(); }
    Owner* owner_ = nullptr;
};

// What a generator function yields: the T of the std::optional<T> it
// returns; invalid_call (after pm::generate's own error) for anything else.
template <class Fn, class = void>
struct generator_value {
    static constexpr bool ok = false;
    using type = invalid_call;
};
template <class Fn>
struct generator_value<
    Fn, std::enable_if_t<is_std_optional<remove_cvref_t<std::invoke_result_t<Fn&>>>::value>> {
    static constexpr bool ok = true;
    using type = typename remove_cvref_t<std::invoke_result_t<Fn&>>::value_type;
};

}  // namespace detail

/* An iterator pair as a range, for pm::map(f, pm::subrange(first, last)).
 * Holds copies of the iterators; what they point at must outlive the map.
 * Since: 0.2 */
template <class It, class Sentinel = It>
class subrange {
public:
    subrange(It first, Sentinel last) : first_(std::move(first)), last_(std::move(last)) {}
    It begin() const { return first_; }
    Sentinel end() const { return last_; }

private:
    It first_;
    Sentinel last_;
};

/* A single-pass range of the values fn() returns, until it returns an empty
 * std::optional: a generator. fn is called lazily, once per step, by
 * whoever iterates (for pm::map, the library's feeder thread). fn takes
 * no arguments and must return a std::optional (a compile-time error says
 * so otherwise; a lambda that returns std::nullopt on one path needs its
 * return type written, as below).
 *     int n = 0;
 *     auto squares = pm::generate([&]() -> std::optional<int> {
 *         if (n == 10) return std::nullopt;
 *         ++n; return n * n;
 *     });
 * Since: 0.2 */
template <class Fn>
class generate_range {
public:
    using value_type = typename detail::generator_value<Fn>::type;

    using iterator = detail::owner_iterator<generate_range, value_type, const value_type&>;

    explicit generate_range(Fn fn) : fn_(std::move(fn)) {}

    iterator begin() {
        if (!started_) {
            started_ = true;
            advance();
        }
        return iterator(this);
    }
    iterator end() { return iterator(); }

private:
    friend iterator;
    const value_type& value() const { return *current_; }
    void advance() {
        if constexpr (detail::generator_value<Fn>::ok)
            current_ = fn_();
        else
            current_.reset();  // rejected by pm::generate; no further errors
    }
    bool at_end() const { return !current_; }

    Fn fn_;
    std::optional<value_type> current_;
    bool started_ = false;
};

template <class Fn>
generate_range<std::decay_t<Fn>> generate(Fn&& fn) {
    // Here, not in the class: a class whose static_assert failed is invalid
    // to clang, which would then refuse to construct it, a second error.
    static_assert(detail::generator_value<std::decay_t<Fn>>::ok,
                  "pm::generate: the generator must return std::optional<T>, the next value "
                  "or std::nullopt at the end, and take no arguments: write "
                  "[&]() -> std::optional<T> { ... }");
    return generate_range<std::decay_t<Fn>>(std::forward<Fn>(fn));
}

/* A lazy, serial map: the range of fn(x) for each x of range, computed in
 * the iterating thread one step at a time (Python's imap/map). Use it for
 * cheap pre- and post-processing around pm::map in a pipeline:
 *     auto parsed = pm::serial_map(parse, lines);          // lazy
 *     auto scored = pm::map(score, parsed, opts);          // parallel
 *     for (auto& s : pm::serial_map(summarize, scored))    // lazy
 *         ...
 * Holds an rvalue range by value and an lvalue range by reference (which
 * must then outlive it). Single-pass.
 * Since: 0.2 */
template <class Stored, class Fn>
class serial_map_range {
    using base_type = std::remove_reference_t<Stored>;
    using base_iterator = detail::iterator_t<base_type>;
    using base_sentinel = detail::sentinel_t<base_type>;

public:
    using value_type =
        std::decay_t<std::invoke_result_t<Fn&, decltype(*std::declval<base_iterator&>())>>;

    using iterator = detail::owner_iterator<serial_map_range, value_type, value_type&>;

    template <class R>
    serial_map_range(Fn fn, R&& range) : fn_(std::move(fn)), base_(std::forward<R>(range)) {}

    iterator begin() {
        if (!it_) {
            it_.emplace(detail::adl::begin_of(base_));
            end_.emplace(detail::adl::end_of(base_));
        }
        return iterator(this);
    }
    iterator end() { return iterator(); }

private:
    friend iterator;
    bool at_end() { return *it_ == *end_; }
    value_type& value() {
        if (!current_)
            current_.emplace(std::invoke(fn_, **it_));
        return *current_;
    }
    void advance() {
        current_.reset();
        ++*it_;
    }

    Fn fn_;
    Stored base_;
    std::optional<base_iterator> it_;
    std::optional<base_sentinel> end_;
    std::optional<value_type> current_;
};

template <class Fn, class R>
auto serial_map(Fn&& fn, R&& range) {
    using stored = std::conditional_t<std::is_lvalue_reference_v<R>, R, std::decay_t<R>>;
    return serial_map_range<stored, std::decay_t<Fn>>(std::forward<Fn>(fn),
                                                      std::forward<R>(range));
}

/* Every value of a range, in a vector (Python's list(...)). Values are
 * moved out of the range. Since: 0.2 */
template <class R>
auto to_vector(R&& range) {
    std::vector<detail::range_value_t<std::remove_reference_t<R>>> out;
    for (auto&& v : range)
        out.push_back(std::move(v));
    return out;
}

}  // namespace pm

#endif
