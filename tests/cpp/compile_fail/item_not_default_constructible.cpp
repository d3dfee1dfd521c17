// expect: pm: the item type must be default-constructible to be decoded
// expect-gcc: [with Item = reading]
// expect-clang: check_item_type<reading>
// max-errors: 1
// A serializable item without a default constructor: decoding needs one,
// and the message says so rather than calling the type unserializable.
#include <parmapper.hpp>

#include <string>
#include <vector>

struct reading {
    explicit reading(std::string s) : text(std::move(s)) {}
    std::string text;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(text);
    }
};

int main() {
    std::vector<reading> items{reading("a")};
    for (auto& r : pm::map([](const reading& x) { return x.text.size(); }, items)) (void)r;
}
