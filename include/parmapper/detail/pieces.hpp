// Internal: sorts the trailing arguments of pm::map and pm::make_pool (the
// options, argument-mode tags, args, kwargs, kwstar, with_index), which may
// come in any order, and builds the call from them.
#ifndef PARMAPPER_DETAIL_PIECES_HPP
#define PARMAPPER_DETAIL_PIECES_HPP

#include <cstddef>
#include <type_traits>
#include <utility>

#include "../cpp/arguments.hpp"
#include "../cpp/options.hpp"
#include "call.hpp"

namespace pm::detail {

template <class T>
struct is_options : std::false_type {};
template <class E>
struct is_options<basic_options<E>> : std::true_type {};

template <class T>
struct is_args : std::false_type {};
template <class... A>
struct is_args<args_t<A...>> : std::true_type {};

template <class T>
struct is_kwargs : std::false_type {};
template <class K>
struct is_kwargs<kwargs_t<K>> : std::true_type {};

template <class T>
struct is_kwstar : std::false_type {};
template <class M>
struct is_kwstar<kwstar_t<M>> : std::true_type {};

template <class T>
struct is_shape
    : std::bool_constant<std::is_same_v<T, star_t> || std::is_same_v<T, star_none_t>> {};

template <class T>
struct is_with_index : std::is_same<T, with_index_t> {};

template <template <class> class Pred, class... P>
inline constexpr size_t count_v = (size_t{Pred<remove_cvref_t<P>>::value} + ... + 0);

// The first piece matching Pred (a copy), or fallback.
template <template <class> class Pred, class Default>
Default pick(Default fallback) {
    return fallback;
}
template <template <class> class Pred, class Default, class P, class... Ps>
auto pick(Default fallback, const P& piece, const Ps&... rest) {
    if constexpr (Pred<P>::value)
        return piece;
    else
        return pick<Pred>(std::move(fallback), rest...);
}

template <class... P>
using options_of_t = decltype(pick<is_options>(options{}, std::declval<const P&>()...));

template <class... P>
constexpr bool check_call_pieces() {
    static_assert(count_v<is_args, P...> <= 1, "pm: give pm::args(...) at most once");
    static_assert(count_v<is_kwargs, P...> <= 1, "pm: give pm::kwargs(...) at most once");
    static_assert(count_v<is_kwstar, P...> <= 1, "pm: give pm::kwstar(...) at most once");
    static_assert(count_v<is_shape, P...> <= 1,
                  "pm: give at most one of pm::star and pm::star_none");
    static_assert(count_v<is_options, P...> <= 1, "pm: give pm::options at most once");
    static_assert(count_v<is_with_index, P...> <= 1, "pm: give pm::with_index at most once");
    return true;
}

// pm::map's trailing arguments: any of them.
template <class... P>
constexpr bool check_map_pieces() {
    static_assert(((is_options<remove_cvref_t<P>>::value || is_args<remove_cvref_t<P>>::value ||
                    is_kwargs<remove_cvref_t<P>>::value || is_kwstar<remove_cvref_t<P>>::value ||
                    is_shape<remove_cvref_t<P>>::value ||
                    is_with_index<remove_cvref_t<P>>::value) &&
                   ...),
                  "pm::map: after the function and the items, expected only pm::options, "
                  "pm::args(...), pm::kwargs(...), pm::star, pm::star_none, pm::kwstar(...) "
                  "and pm::with_index");
    return check_call_pieces<remove_cvref_t<P>...>();
}

// The call an argument mode describes.
template <class F, class... P>
auto make_call(F&& f, const P&... pieces) {
    auto a = pick<is_args>(args_t<>{}, pieces...);
    auto k = pick<is_kwargs>(kwargs_t<no_kwargs>{}, pieces...);
    auto m = pick<is_kwstar>(kwstar_t<no_merge>{}, pieces...);
    using shape = decltype(pick<is_shape>(plain_shape{}, pieces...));
    return call_spec<std::decay_t<F>, shape, decltype(a.values), decltype(k.defaults),
                     decltype(m.merge)>(std::forward<F>(f), std::move(a.values),
                                        std::move(k.defaults), std::move(m.merge));
}

}  // namespace pm::detail

#endif
