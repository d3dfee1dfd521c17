// Argument modes: how an item and fixed values become the arguments of the
// mapped function (the Python tool's star, kwstar, args and kwargs).
// Include <parmapper.hpp>, not this file.
#ifndef PARMAPPER_CPP_ARGUMENTS_HPP
#define PARMAPPER_CPP_ARGUMENTS_HPP

#include <cstddef>
#include <cstdint>
#include <tuple>
#include <type_traits>
#include <utility>

namespace pm {

/* Fixed trailing arguments, passed after the item to every call (Python
 * args). Stored by value (workers get the fork-time copy) and passed as const
 * lvalues; wrap a large object in std::cref to pass it by reference.
 *     pm::map(f, items, pm::args(2, "x"))   // f(item, 2, "x")
 * Since: 0.2 */
template <class... A>
struct args_t {
    std::tuple<A...> values;
};
template <class... A>
args_t<std::decay_t<A>...> args(A&&... a) {
    return {std::tuple<std::decay_t<A>...>(std::forward<A>(a)...)};
}

/* Fixed keyword arguments (Python kwargs): C++ has no keywords, so they are
 * a struct, typically an aggregate with default member values, passed as the
 * last argument (a const lvalue) of every call.
 *     struct knobs { double scale = 1; bool clip = false; };
 *     pm::map(f, items, pm::kwargs(knobs{2.0}))   // f(item, knobs{2.0, false})
 * Since: 0.2 */
template <class K>
struct kwargs_t {
    K defaults;
};
template <class K>
kwargs_t<std::decay_t<K>> kwargs(K&& k) {
    return {std::forward<K>(k)};
}

/* star (Python star=True): each item is tuple-like (std::tuple, std::pair,
 * std::array) and its elements are the leading arguments (std::apply),
 * followed by the args. Since: 0.2 */
struct star_t {
    explicit constexpr star_t() = default;
};
inline constexpr star_t star{};

/* star_none (Python star=None): the call gets only the args (and keywords);
 * the items only drive how many calls there are (and, with kwstar, carry
 * each call's keyword overrides). Since: 0.2 */
struct star_none_t {
    explicit constexpr star_none_t() = default;
};
inline constexpr star_none_t star_none{};

/* kwstar (Python kwstar=True): each item carries its own keyword overrides,
 * merged over the kwargs struct for that call, the item's taking
 * precedence. Items are pairs (value or values, overrides); with star_none
 * the item is the overrides alone. merge(K& keywords, const O& overrides)
 * applies an item's overrides of type O to a copy of the kwargs; it may
 * instead return the merged K. pm::merge_fields builds one for the common
 * case of an overrides struct of std::optional fields. The merge function is
 * not serialized: workers inherit it like the mapped function.
 * Since: 0.2 */
template <class M>
struct kwstar_t {
    M merge;
};
template <class M>
kwstar_t<std::decay_t<M>> kwstar(M&& merge) {
    return {std::forward<M>(merge)};
}

/* A merge function for kwstar from pairs of member pointers: for each pair
 * (&K::field, &O::override), an override that holds a value (a
 * std::optional, or anything testable and dereferenceable) replaces the
 * field; an empty one leaves it.
 *     struct knobs { double scale = 1; bool clip = false; };
 *     struct knob_overrides { std::optional<double> scale; std::optional<bool> clip; };
 *     pm::kwstar(pm::merge_fields(&knobs::scale, &knob_overrides::scale,
 *                                 &knobs::clip, &knob_overrides::clip))
 * Since: 0.2 */
template <class... MemberPointers>
class merge_fields_t {
    static_assert(sizeof...(MemberPointers) % 2 == 0,
                  "pm::merge_fields: give pairs (&Keywords::field, &Overrides::field)");

public:
    explicit merge_fields_t(MemberPointers... p) : fields_(p...) {}

    template <class K, class O>
    void operator()(K& keywords, const O& overrides) const {
        apply(keywords, overrides, std::make_index_sequence<sizeof...(MemberPointers) / 2>());
    }

private:
    template <class K, class O, std::size_t... I>
    void apply(K& k, const O& o, std::index_sequence<I...>) const {
        (assign(k.*std::get<2 * I>(fields_), o.*std::get<2 * I + 1>(fields_)), ...);
    }

    template <class Field, class Override>
    static void assign(Field& field, const Override& value) {
        if (value)
            field = *value;
    }

    std::tuple<MemberPointers...> fields_;
};
template <class... MemberPointers>
merge_fields_t<MemberPointers...> merge_fields(MemberPointers... p) {
    return merge_fields_t<MemberPointers...>(p...);
}

/* with_index: the map yields pm::indexed<T> (the item's input index and its
 * value) instead of T, to tell which item an unordered result belongs to.
 * Since: 0.2 */
struct with_index_t {
    explicit constexpr with_index_t() = default;
};
inline constexpr with_index_t with_index{};

/* What a map yields with pm::with_index: the item's position in the input
 * (from 0) and its value (a result, or a pm::result<T> in the return_ mode).
 * Since: 0.2 */
template <class T>
struct indexed {
    uint64_t index;
    T value;
};

}  // namespace pm

#endif
