// Internal: turns one item into a call of the mapped function according to
// the argument mode (plain, star, star_none; args; kwargs; kwstar).
#ifndef PARMAPPER_DETAIL_CALL_HPP
#define PARMAPPER_DETAIL_CALL_HPP

#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "../cpp/arguments.hpp"

namespace pm::detail {

struct plain_shape {};  // star=False: the item is the first argument
struct no_kwargs {};
struct no_merge {};

// The "result" of a call that does not compile: its static_assert has said
// why, and the callers check for this type to add no further errors.
struct invalid_call {};

template <class T>
using remove_cvref_t = std::remove_cv_t<std::remove_reference_t<T>>;

template <class>
inline constexpr bool dependent_false_v = false;

template <class T, class = void>
struct is_tuple_like : std::false_type {};
template <class T>
struct is_tuple_like<T, std::void_t<decltype(std::tuple_size<T>::value)>> : std::true_type {};

template <class F, class Tuple>
struct is_invocable_with_tuple : std::false_type {};
template <class F, class... T>
struct is_invocable_with_tuple<F, std::tuple<T...>> : std::is_invocable<F, T...> {};

// The leading arguments an item gives: itself, its elements, or nothing.
// References into the item, which outlives the call.
template <class Shape, class V>
auto leading_arguments(V&& v) {
    if constexpr (std::is_same_v<Shape, star_t>) {
        static_assert(is_tuple_like<remove_cvref_t<V>>::value,
                      "pm::star: each item must be tuple-like (std::tuple, std::pair or "
                      "std::array): its elements become the leading arguments");
        return std::apply(
            [](auto&&... e) { return std::forward_as_tuple(std::forward<decltype(e)>(e)...); },
            std::forward<V>(v));
    } else if constexpr (std::is_same_v<Shape, star_none_t>) {
        return std::tuple<>();
    } else {
        return std::forward_as_tuple(std::forward<V>(v));
    }
}

// The mapped function with its argument mode, as stored in every process.
// Invoked as a non-const lvalue (a stateful function object may change its
// own copy); with threads > 1 it is invoked concurrently.
template <class F, class Shape, class Args, class Kw, class Merge>
class call_spec {
public:
    static constexpr bool has_kwargs = !std::is_same_v<Kw, no_kwargs>;
    static constexpr bool has_kwstar = !std::is_same_v<Merge, no_merge>;

    call_spec(F f, Args args, Kw kw, Merge merge)
        : f_(std::move(f)), args_(std::move(args)), kw_(std::move(kw)), merge_(std::move(merge)) {}

    template <class Item>
    auto operator()(Item&& item) {
        if constexpr (has_kwstar && !has_kwargs) {
            static_assert(dependent_false_v<Item>,
                          "pm::kwstar needs pm::kwargs(defaults) to know the keyword struct "
                          "the overrides are merged into (pass pm::kwargs(Keywords{}) for "
                          "all defaults)");
            return invalid_call{};
        } else if constexpr (has_kwstar && std::is_same_v<Shape, star_none_t>) {
            const Kw keywords = merged(item);
            return invoke(std::tuple<>(), std::forward_as_tuple(keywords));
        } else if constexpr (has_kwstar) {
            using item_t = remove_cvref_t<Item>;
            if constexpr (!is_tuple_like<item_t>::value) {
                static_assert(dependent_false_v<Item>,
                              "pm::kwstar: each item must be a pair (value, overrides), or "
                              "(values, overrides) with pm::star");
                return invalid_call{};
            } else {
                static_assert(std::tuple_size<item_t>::value == 2,
                              "pm::kwstar: each item must be a pair (value, overrides), or "
                              "(values, overrides) with pm::star");
                const Kw keywords = merged(std::get<1>(item));
                return invoke(leading_arguments<Shape>(std::get<0>(std::forward<Item>(item))),
                              std::forward_as_tuple(keywords));
            }
        } else if constexpr (has_kwargs) {
            return invoke(leading_arguments<Shape>(std::forward<Item>(item)),
                          std::forward_as_tuple(std::as_const(kw_)));
        } else {
            return invoke(leading_arguments<Shape>(std::forward<Item>(item)), std::tuple<>());
        }
    }

private:
    template <class Lead, class KwTuple>
    auto invoke(Lead&& lead, KwTuple&& kw) {
        auto all = std::tuple_cat(
            std::forward<Lead>(lead),
            std::apply([](const auto&... a) { return std::forward_as_tuple(a...); }, args_),
            std::forward<KwTuple>(kw));
        constexpr bool callable = is_invocable_with_tuple<F&, decltype(all)>::value;
        static_assert(callable,
                      "pm::map: the function cannot be called with the arguments its argument "
                      "mode gives: the item (its elements with pm::star, nothing with "
                      "pm::star_none), then the pm::args values as const lvalues, then the "
                      "pm::kwargs struct as a const lvalue (merged with the item's overrides "
                      "with pm::kwstar)");
        if constexpr (callable)
            return std::apply(f_, std::move(all));
        else
            return invalid_call{};
    }

    template <class O>
    Kw merged(const O& overrides) const {
        static_assert(std::is_invocable_v<const Merge&, Kw&, const O&>,
                      "pm::kwstar: the merge function must be callable as "
                      "merge(Keywords&, const Overrides&)");
        Kw keywords = kw_;
        if constexpr (std::is_void_v<std::invoke_result_t<const Merge&, Kw&, const O&>>)
            std::invoke(merge_, keywords, overrides);
        else
            keywords = std::invoke(merge_, keywords, overrides);
        return keywords;
    }

    F f_;
    Args args_;
    Kw kw_;
    Merge merge_;
};

}  // namespace pm::detail

#endif
