// Internal: how items and results become bytes and back.
// - Items that are trivially copyable travel as their own bytes (an array
//   input is handed to the C API in place, zero copy); std::pair, std::tuple
//   and std::optional member by member; other items through a cereal binary
//   archive.
// - Results: arithmetic and enum types as their bytes, written directly;
//   std::pair, std::tuple and std::optional member by member; types with a
//   cereal serialization through it; other trivially copyable types as their
//   bytes.
// - A failure (exception) is sent as the text "<type>: <what>".
#ifndef PARMAPPER_DETAIL_CODEC_HPP
#define PARMAPPER_DETAIL_CODEC_HPP

#include <cxxabi.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <istream>
#include <memory>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <streambuf>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>
// Support for the standard types, so that results and items of these types
// need no further include. Other types (boost, std::valarray, ...) need their
// cereal header included by the user.
#include <cereal/types/array.hpp>
#include <cereal/types/bitset.hpp>
#include <cereal/types/chrono.hpp>
#include <cereal/types/complex.hpp>
#include <cereal/types/deque.hpp>
#include <cereal/types/forward_list.hpp>
#include <cereal/types/list.hpp>
#include <cereal/types/map.hpp>
#include <cereal/types/memory.hpp>
#include <cereal/types/optional.hpp>
#include <cereal/types/set.hpp>
#include <cereal/types/string.hpp>
#include <cereal/types/tuple.hpp>
#include <cereal/types/unordered_map.hpp>
#include <cereal/types/unordered_set.hpp>
#include <cereal/types/utility.hpp>
#include <cereal/types/variant.hpp>
#include <cereal/types/vector.hpp>

#include "../parmapper.h"
#include "call.hpp"
#include "result_archive.hpp"

namespace pm::detail {

// ---------------------------------------------------------------------------
// Stream buffers: cereal's binary archives only call sgetn/sputn on them.

// Reads a byte span in place.
class span_streambuf : public std::streambuf {
public:
    span_streambuf(const void* data, size_t len) {
        char* p = static_cast<char*>(const_cast<void*>(data));
        setg(p, p, p + len);
    }
    size_t remaining() const { return static_cast<size_t>(egptr() - gptr()); }
};

// Appends to a std::string.
class string_streambuf : public std::streambuf {
public:
    explicit string_streambuf(std::string& out) : out_(out) {}

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        out_.append(s, static_cast<size_t>(n));
        return n;
    }
    int_type overflow(int_type c) override {
        if (!traits_type::eq_int_type(c, traits_type::eof()))
            out_.push_back(traits_type::to_char_type(c));
        return traits_type::not_eof(c);
    }

private:
    std::string& out_;
};

// Appends to a work function's result sink, without an intermediate copy.
class sink_streambuf : public std::streambuf {
public:
    explicit sink_streambuf(pm_sink* out) : out_(out) {}

protected:
    std::streamsize xsputn(const char* s, std::streamsize n) override {
        // A short count makes cereal throw, which fails the item.
        return pm_sink_write(out_, s, static_cast<size_t>(n)) == PM_OK ? n : 0;
    }
    int_type overflow(int_type c) override {
        if (traits_type::eq_int_type(c, traits_type::eof()))
            return traits_type::not_eof(c);
        char ch = traits_type::to_char_type(c);
        return pm_sink_write(out_, &ch, 1) == PM_OK ? c : traits_type::eof();
    }

private:
    pm_sink* out_;
};

// A stream over buf for one encode or decode. Constructing a std::ostream or
// std::istream costs more than encoding a short string, so each thread keeps
// one of each and points it at the buffer for the call; a nested use (a
// serialize function that encodes in turn) gets a fresh stream instead.
template <class Stream>
class stream_over {
public:
    explicit stream_over(std::streambuf* buf) {
        Stream& kept = kept_stream();
        if (kept.rdbuf() == nullptr) {
            stream_ = &kept;
        } else {
            fresh_.emplace(nullptr);
            stream_ = &*fresh_;
        }
        stream_->rdbuf(buf);  // also clears the state flags
    }
    ~stream_over() { stream_->rdbuf(nullptr); }
    stream_over(const stream_over&) = delete;
    stream_over& operator=(const stream_over&) = delete;

    Stream& get() noexcept { return *stream_; }

private:
    static Stream& kept_stream() {
        thread_local Stream s(nullptr);
        return s;
    }

    std::optional<Stream> fresh_;
    Stream* stream_;
};

// ---------------------------------------------------------------------------
// What can travel.
//
// A type travels in one of three ways:
// - as its bytes: trivially copyable items (a contiguous range of them is
//   even read in place), arithmetic and enum results, and trivially copyable
//   results with no cereal serialization of their own;
// - member by member: std::pair, std::tuple and std::optional (that are not
//   trivially copyable items) are written member after member, each member
//   in turn as its bytes, member by member, or through cereal, in cereal's
//   own binary layout for these types (an optional starts with cereal's
//   "nullopt" bool byte). So a pair of trivially copyable structs needs no
//   user code;
// - through cereal (its serialize/save/load), for anything else.
// A type that fits none is refused at compile time, naming the type (the
// item, the result, or a member of one).

template <class T>
inline constexpr bool cereal_saveable_v =
    cereal::traits::is_output_serializable<T, cereal::BinaryOutputArchive>::value;
template <class T>
inline constexpr bool cereal_loadable_v =
    cereal::traits::is_input_serializable<T, cereal::BinaryInputArchive>::value;

// Results are decoded with result_archive (which refuses hostile sizes).
template <class T>
inline constexpr bool result_loadable_v =
    cereal::traits::is_input_serializable<T, result_archive>::value;

template <class T>
inline constexpr bool is_raw_bytes_v = std::is_arithmetic_v<T> || std::is_enum_v<T>;

template <class T>
inline constexpr bool is_raw_item_v =
    std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T>;

template <class T>
struct is_std_pair : std::false_type {};
template <class A, class B>
struct is_std_pair<std::pair<A, B>> : std::true_type {};

template <class T>
struct is_std_tuple : std::false_type {};
template <class... E>
struct is_std_tuple<std::tuple<E...>> : std::true_type {};

template <class T>
struct is_std_optional : std::false_type {};
template <class T>
struct is_std_optional<std::optional<T>> : std::true_type {};

// Written member by member (when not already bytes).
template <class T>
inline constexpr bool is_member_wise_v =
    is_std_pair<T>::value || is_std_tuple<T>::value || is_std_optional<T>::value;

// Which side a value travels for: items (encoded in the caller, decoded in
// a worker) or results (the other way, decoded with result_archive).
struct item_side {};
struct result_side {};

// How one value (the item or result itself, or a member of one) is coded;
// decoding also needs it default-constructible (see codable()).
enum class coding { bytes, member_wise, cereal, none };

template <class Side, class T>
constexpr coding coding_of() {
    if constexpr (std::is_same_v<Side, item_side>) {
        if constexpr (is_raw_item_v<T>)
            return coding::bytes;
        else if constexpr (is_member_wise_v<T>)
            return coding::member_wise;
        else if constexpr (cereal_saveable_v<T> && cereal_loadable_v<T>)
            return coding::cereal;
        else
            return coding::none;
    } else {
        // A result's own serialization wins over its bytes (a save that
        // writes something else is the user's to choose); a pointer would
        // point into the worker.
        if constexpr (std::is_pointer_v<T>)
            return coding::none;
        else if constexpr (is_raw_bytes_v<T>)
            return coding::bytes;
        else if constexpr (is_member_wise_v<T>)
            return coding::member_wise;
        else if constexpr (cereal_saveable_v<T> && result_loadable_v<T>)
            return coding::cereal;
        else if constexpr (is_raw_item_v<T>)
            return coding::bytes;
        else
            return coding::none;
    }
}

// Whether T can travel and be decoded, members included (no diagnostics).
template <class Side, class T>
constexpr bool codable();

template <class Side, class Tuple>
struct tuple_codable;
template <class Side, class... E>
struct tuple_codable<Side, std::tuple<E...>>
    : std::bool_constant<(codable<Side, E>() && ... && true)> {};

template <class Side, class T>
constexpr bool codable() {
    constexpr coding c = coding_of<Side, T>();
    if constexpr (!std::is_default_constructible_v<T> || c == coding::none)
        return false;
    else if constexpr (c != coding::member_wise)
        return true;
    else if constexpr (is_std_pair<T>::value)
        return codable<Side, typename T::first_type>() &&
               codable<Side, typename T::second_type>();
    else if constexpr (is_std_tuple<T>::value)
        return tuple_codable<Side, T>::value;
    else
        return codable<Side, typename T::value_type>();
}

template <class T>
inline constexpr bool is_encodable_item_v = codable<item_side, T>();
template <class T>
inline constexpr bool is_encodable_result_v = codable<result_side, T>();

// Results that travel as their own bytes, without an archive.
template <class R>
inline constexpr bool is_raw_result_v = coding_of<result_side, R>() == coding::bytes;

// Compile-time checks with messages a user can act on. Each returns whether
// the type is usable, so that callers instantiate nothing more (and print no
// further errors) when it is not. The compiler's "In instantiation of"
// line above the message names the type (Item, R or Member).

template <class Member>
constexpr bool check_item_member() {
    static_assert(dependent_false_v<Member>,
                  "pm: a member of the item (in a std::pair, std::tuple or std::optional) is "
                  "neither trivially copyable nor serializable with cereal: give the type "
                  "named above (Member = ...) a serialize(Archive&) member or free function "
                  "(or save/load), or make it default-constructible");
    return false;
}

template <class Member>
constexpr bool check_result_member() {
    if constexpr (std::is_pointer_v<Member>) {
        static_assert(dependent_false_v<Member>,
                      "pm: a member of the result is a pointer, which would point into the "
                      "worker's memory: hold a value, std::string for text");
    } else {
        static_assert(dependent_false_v<Member>,
                      "pm: a member of the result (in a std::pair, std::tuple or "
                      "std::optional) is neither trivially copyable nor serializable with "
                      "cereal: give the type named above (Member = ...) a serialize(Archive&) "
                      "member or free function (or save/load), or make it "
                      "default-constructible");
    }
    return false;
}

// Checks each member of a member-wise T, reporting every one that cannot
// travel (a call named in && is instantiated even when not evaluated).
template <class Side, class T>
constexpr bool check_members();

template <class Side, class Tuple>
struct tuple_checked;
template <class Side, class... E>
struct tuple_checked<Side, std::tuple<E...>>
    : std::bool_constant<(check_members<Side, E>() && ... && true)> {};

template <class Side, class T>
constexpr bool check_members() {
    constexpr coding c = coding_of<Side, T>();
    if constexpr (c == coding::member_wise) {
        if constexpr (is_std_pair<T>::value)
            return check_members<Side, typename T::first_type>() &&
                   check_members<Side, typename T::second_type>();
        else if constexpr (is_std_tuple<T>::value)
            return tuple_checked<Side, T>::value;
        else
            return check_members<Side, typename T::value_type>();
    } else if constexpr (codable<Side, T>()) {
        return true;
    } else if constexpr (std::is_same_v<Side, item_side>) {
        return check_item_member<T>();
    } else {
        return check_result_member<T>();
    }
}

template <class R>
constexpr bool check_result_type() {
    if constexpr (std::is_same_v<R, invalid_call>) {
        return false;  // the call itself was rejected, with its own message
    } else if constexpr (std::is_void_v<R>) {
        static_assert(!std::is_void_v<R>,
                      "pm: the mapped function returns void; return the value each item "
                      "should yield");
        return false;
    } else if constexpr (std::is_pointer_v<R>) {
        static_assert(!std::is_pointer_v<R>,
                      "pm: the function returns a pointer (a string literal is a const char*), "
                      "which would point into the worker's memory: return a value, "
                      "std::string for text");
        return false;
    } else if constexpr (is_member_wise_v<R>) {
        return check_members<result_side, R>();
    } else {
        constexpr bool serializable = coding_of<result_side, R>() != coding::none;
        static_assert(serializable,
                      "pm: the result type is neither trivially copyable nor serializable with "
                      "cereal. Give it a serialize(Archive&) member or free function (or "
                      "save/load), exactly one of them; for a library type include its "
                      "<cereal/types/...> header");
        constexpr bool constructible = std::is_default_constructible_v<R>;
        static_assert(!serializable || constructible,
                      "pm: the result type must be default-constructible to be decoded");
        return serializable && constructible;
    }
}

template <class Item>
constexpr bool check_item_type() {
    if constexpr (std::is_same_v<Item, invalid_call>) {
        return false;  // the range was rejected (pm::generate), with its own message
    } else if constexpr (coding_of<item_side, Item>() == coding::member_wise) {
        return check_members<item_side, Item>();
    } else {
        constexpr bool transferable = coding_of<item_side, Item>() != coding::none;
        static_assert(transferable,
                      "pm: the item type is neither trivially copyable nor serializable with "
                      "cereal. Give it a serialize(Archive&) member or free function (or "
                      "save/load); for a library type include its <cereal/types/...> header");
        constexpr bool constructible = std::is_default_constructible_v<Item>;
        static_assert(!transferable || constructible,
                      "pm: the item type must be default-constructible to be decoded");
        return transferable && constructible;
    }
}

// ---------------------------------------------------------------------------
// One value into an archive and back, by its coding (see above).

template <class Side, class Archive, class T>
void save_value(Archive& ar, const T& v) {
    constexpr coding c = coding_of<Side, T>();
    if constexpr (c == coding::bytes) {
        if constexpr (std::is_arithmetic_v<T>)
            ar(v);
        else
            ar(cereal::binary_data(std::addressof(v), sizeof(T)));
    } else if constexpr (c == coding::member_wise) {
        if constexpr (is_std_pair<T>::value) {
            save_value<Side>(ar, v.first);
            save_value<Side>(ar, v.second);
        } else if constexpr (is_std_tuple<T>::value) {
            std::apply([&ar](const auto&... e) { (save_value<Side>(ar, e), ...); }, v);
        } else {
            // cereal's layout: a "nullopt" bool first, true when empty.
            const bool nullopt = !v.has_value();
            ar(nullopt);
            if (!nullopt)
                save_value<Side>(ar, *v);
        }
    } else {
        ar(v);
    }
}

template <class Side, class Archive, class T>
void load_value(Archive& ar, T& v) {
    constexpr coding c = coding_of<Side, T>();
    if constexpr (c == coding::bytes) {
        if constexpr (std::is_arithmetic_v<T>)
            ar(v);  // result_archive refuses a bool byte other than 0 or 1
        else
            ar(cereal::binary_data(static_cast<void*>(std::addressof(v)), sizeof(T)));
    } else if constexpr (c == coding::member_wise) {
        if constexpr (is_std_pair<T>::value) {
            load_value<Side>(ar, v.first);
            load_value<Side>(ar, v.second);
        } else if constexpr (is_std_tuple<T>::value) {
            std::apply([&ar](auto&... e) { (load_value<Side>(ar, e), ...); }, v);
        } else {
            bool nullopt = true;
            ar(nullopt);
            if (nullopt) {
                v.reset();
            } else {
                v.emplace();
                load_value<Side>(ar, *v);
            }
        }
    } else {
        ar(v);
    }
}

// ---------------------------------------------------------------------------
// Items.

// Appends an item's bytes to out (after clearing it).
template <class Item>
void encode_item(const Item& item, std::string& out) {
    out.clear();
    if constexpr (is_raw_item_v<Item>) {
        out.append(reinterpret_cast<const char*>(std::addressof(item)), sizeof(Item));
    } else if constexpr (is_encodable_item_v<Item>) {
        string_streambuf buf(out);
        stream_over<std::ostream> os(&buf);
        cereal::BinaryOutputArchive archive(os.get());
        save_value<item_side>(archive, item);
    }
}

// Decodes an item's bytes; throws on a size mismatch or a cereal failure.
template <class Item>
Item decode_item(const void* data, size_t len) {
    Item item{};
    if constexpr (is_raw_item_v<Item>) {
        if (len != sizeof(Item))
            throw std::length_error("item of " + std::to_string(len) + " bytes, expected " +
                                    std::to_string(sizeof(Item)));
        std::memcpy(static_cast<void*>(std::addressof(item)), data, sizeof(Item));
    } else if constexpr (is_encodable_item_v<Item>) {
        span_streambuf buf(data, len);
        stream_over<std::istream> is(&buf);
        cereal::BinaryInputArchive archive(is.get());
        load_value<item_side>(archive, item);
        if (buf.remaining() != 0)
            throw std::length_error(std::to_string(buf.remaining()) +
                                    " bytes of the item left undecoded");
    }
    return item;
}

// ---------------------------------------------------------------------------
// Results.

// Writes a result to the sink; throws if the sink refuses the bytes.
template <class R>
void encode_result(const R& value, pm_sink* out) {
    if constexpr (is_raw_result_v<R>) {
        if (pm_sink_write(out, std::addressof(value), sizeof(R)) != PM_OK)
            throw std::runtime_error(std::string("pm_sink_write: ") + pm_last_error());
    } else if constexpr (is_encodable_result_v<R>) {
        sink_streambuf buf(out);
        stream_over<std::ostream> os(&buf);
        cereal::BinaryOutputArchive archive(os.get());
        save_value<result_side>(archive, value);
    }
}

// Decodes a result into out. Never throws: returns "" on success, else what
// went wrong (a short or long buffer, a size prefix larger than the bytes
// left, a bool that is not 0 or 1, an exception from a load function).
template <class R>
std::string decode_result(const void* data, size_t len, R& out) noexcept {
    try {
        if constexpr (is_raw_result_v<R>) {
            if (len != sizeof(R))
                return "a result of " + std::to_string(len) + " bytes, expected " +
                       std::to_string(sizeof(R));
            std::memcpy(static_cast<void*>(std::addressof(out)), data, sizeof(R));
        } else if constexpr (is_encodable_result_v<R>) {
            // Not cereal::BinaryInputArchive: it trusts the size prefixes
            // in bytes that come from a worker (see result_archive.hpp).
            result_archive archive(data, len);
            load_value<result_side>(archive, out);
            if (archive.remaining() != 0)
                return std::to_string(archive.remaining()) + " of the result's " +
                       std::to_string(len) + " bytes left undecoded";
        }
        return std::string();
    } catch (const std::exception& e) {
        try {
            return e.what();
        } catch (...) {
            return "out of memory";
        }
    } catch (...) {
        return "a load function threw a non-standard exception";
    }
}

// ---------------------------------------------------------------------------
// Failures.

inline std::string demangle(const char* name) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> plain(
        abi::__cxa_demangle(name, nullptr, nullptr, &status), std::free);
    return status == 0 && plain ? std::string(plain.get()) : std::string(name);
}

struct exception_description {
    std::string type_name;
    std::string message;
};

// Describes the exception being handled; call only inside a catch block.
inline exception_description describe_current_exception() {
    exception_description d;
    const std::type_info* type = abi::__cxa_current_exception_type();
    d.type_name = type ? demangle(type->name()) : "unknown exception";
    try {
        throw;
    } catch (const std::exception& e) {
        d.message = e.what();
    } catch (...) {
    }
    return d;
}

// "<type>: <what>": the message of a failed item as the C API carries it.
// The first ": " separates: demangled names do not contain one, and one that
// did would be altered here rather than split wrongly later.
inline std::string failure_text(const exception_description& d) {
    std::string type = d.type_name;
    for (size_t at = type.find(": "); at != std::string::npos; at = type.find(": ", at))
        type.erase(at + 1, 1);
    return type + ": " + d.message;
}

inline exception_description parse_failure_text(const std::string& text) {
    const size_t colon = text.find(": ");
    if (colon == std::string::npos)
        return {std::string(), text};
    return {text.substr(0, colon), text.substr(colon + 2)};
}

}  // namespace pm::detail

#endif
