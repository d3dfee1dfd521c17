// Internal: how items and results become bytes and back.
// - Items that are trivially copyable travel as their own bytes (an array
//   input is handed to the C API in place, zero copy); other items go through
//   a cereal binary archive.
// - Results always go through a cereal binary archive; for arithmetic and
//   enum types that is just their bytes, which is written directly.
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
inline constexpr bool is_encodable_result_v =
    is_raw_bytes_v<T> ||
    (cereal_saveable_v<T> && result_loadable_v<T> && std::is_default_constructible_v<T>);

template <class T>
inline constexpr bool is_encodable_item_v =
    is_raw_item_v<T> ||
    (cereal_saveable_v<T> && cereal_loadable_v<T> && std::is_default_constructible_v<T>);

// Compile-time checks with messages a user can act on. Each returns whether
// the type is usable, so that callers instantiate nothing more (and print no
// further errors) when it is not.
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
    } else {
        constexpr bool serializable =
            is_raw_bytes_v<R> || (cereal_saveable_v<R> && result_loadable_v<R>);
        static_assert(serializable,
                      "pm: the result type cannot be serialized with cereal. Give it a "
                      "serialize(Archive&) member or free function (or save/load), exactly "
                      "one of them; for a library type include its <cereal/types/...> header");
        constexpr bool constructible = is_raw_bytes_v<R> || std::is_default_constructible_v<R>;
        static_assert(!serializable || constructible,
                      "pm: the result type must be default-constructible to be decoded");
        return serializable && constructible;
    }
}

template <class Item>
constexpr bool check_item_type() {
    if constexpr (std::is_same_v<Item, invalid_call>)
        return false;  // the range was rejected (pm::generate), with its own message
    constexpr bool transferable =
        is_raw_item_v<Item> || (cereal_saveable_v<Item> && cereal_loadable_v<Item>);
    static_assert(transferable,
                  "pm: the item type is neither trivially copyable nor serializable with "
                  "cereal. Give it a serialize(Archive&) member or free function (or "
                  "save/load); for a library type include its <cereal/types/...> header");
    constexpr bool constructible = std::is_default_constructible_v<Item>;
    static_assert(!transferable || constructible,
                  "pm: the item type must be default-constructible to be decoded");
    return transferable && constructible;
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
        archive(item);
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
        archive(item);
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
    if constexpr (is_raw_bytes_v<R>) {
        if (pm_sink_write(out, std::addressof(value), sizeof(R)) != PM_OK)
            throw std::runtime_error(std::string("pm_sink_write: ") + pm_last_error());
    } else if constexpr (is_encodable_result_v<R>) {
        sink_streambuf buf(out);
        stream_over<std::ostream> os(&buf);
        cereal::BinaryOutputArchive archive(os.get());
        archive(value);
    }
}

// Decodes a result into out. Never throws: returns "" on success, else what
// went wrong (a short or long buffer, a size prefix larger than the bytes
// left, a bool that is not 0 or 1, an exception from a load function).
template <class R>
std::string decode_result(const void* data, size_t len, R& out) noexcept {
    try {
        if constexpr (is_raw_bytes_v<R>) {
            if (len != sizeof(R))
                return "a result of " + std::to_string(len) + " bytes, expected " +
                       std::to_string(sizeof(R));
            std::memcpy(static_cast<void*>(std::addressof(out)), data, sizeof(R));
        } else if constexpr (is_encodable_result_v<R>) {
            // Not cereal::BinaryInputArchive: it trusts the size prefixes
            // in bytes that come from a worker (see result_archive.hpp).
            result_archive archive(data, len);
            archive(out);
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
