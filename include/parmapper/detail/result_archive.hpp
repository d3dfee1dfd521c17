// Internal: the cereal archive that decodes results.
//
// Result bytes come from a worker process, which runs user code and may send
// anything. cereal's BinaryInputArchive trusts the size written before a
// string or container and resizes to it before reading the elements, so
// eight bytes claiming 2^40 elements make the caller allocate terabytes (or
// die trying). This archive reads the same format (results are written with
// cereal::BinaryOutputArchive) from a byte span and refuses:
// - a size larger than the bytes left: every element takes at least one
//   byte, except an element of an empty class (which cereal writes as
//   nothing), so a container of more than that many empty objects is
//   refused too;
// - a bool byte other than 0 or 1 (loading it into a bool would be undefined
//   behaviour);
// - a read past the end.
// So what decoding allocates stays within sizeof(element) times the bytes
// received, plus what load functions of user types allocate themselves.
#ifndef PARMAPPER_DETAIL_RESULT_ARCHIVE_HPP
#define PARMAPPER_DETAIL_RESULT_ARCHIVE_HPP

#include <cstddef>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>

#include <cereal/archives/binary.hpp>
#include <cereal/cereal.hpp>

namespace pm::detail {

class result_archive
    : public cereal::InputArchive<result_archive, cereal::AllowEmptyClassElision> {
public:
    result_archive(const void* data, std::size_t len)
        : cereal::InputArchive<result_archive, cereal::AllowEmptyClassElision>(this),
          next_(static_cast<const char*>(data)),
          left_(len) {}

    void loadBinary(void* out, std::size_t n) {
        if (n > left_)
            throw cereal::Exception("Failed to read " + std::to_string(n) +
                                    " bytes: the result has " + std::to_string(left_) +
                                    " left");
        if (n)
            std::memcpy(out, next_, n);
        next_ += n;
        left_ -= n;
    }
    std::size_t remaining() const noexcept { return left_; }

private:
    const char* next_;
    std::size_t left_;
};

// What cereal asks of an archive, found by argument-dependent lookup.

template <class T>
std::enable_if_t<std::is_arithmetic_v<T>> CEREAL_LOAD_FUNCTION_NAME(result_archive& ar, T& t) {
    if constexpr (std::is_same_v<T, bool>) {
        unsigned char byte = 0;
        ar.loadBinary(&byte, 1);
        if (byte > 1)
            throw cereal::Exception("a bool stored as " + std::to_string(byte));
        t = byte != 0;
    } else {
        ar.loadBinary(std::addressof(t), sizeof t);
    }
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(result_archive& ar, cereal::NameValuePair<T>& t) {
    ar(t.value);
}

template <class T>
void CEREAL_SERIALIZE_FUNCTION_NAME(result_archive& ar, cereal::SizeTag<T>& t) {
    ar(t.size);
    if (t.size > ar.remaining())
        throw cereal::Exception("a size of " + std::to_string(t.size) + " where " +
                                std::to_string(ar.remaining()) + " bytes are left");
}

template <class T>
void CEREAL_LOAD_FUNCTION_NAME(result_archive& ar, cereal::BinaryData<T>& bd) {
    ar.loadBinary(bd.data, static_cast<std::size_t>(bd.size));
}

}  // namespace pm::detail

// load_minimal support: cereal finds the output archive an input archive
// pairs with through this trait.
namespace cereal::traits::detail {
template <>
struct get_output_from_input<pm::detail::result_archive> {
    using type = cereal::BinaryOutputArchive;
};
}  // namespace cereal::traits::detail

#endif
