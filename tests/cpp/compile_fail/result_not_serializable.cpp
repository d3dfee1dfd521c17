// expect: the result type is neither trivially copyable nor serializable with cereal
// expect-gcc: [with R = opaque]
// expect-clang: check_result_type<opaque>
// max-errors: 1
// A result type without serialize() (and not a plain number) is rejected at
// compile time with the layer's own message.
#include <parmapper.hpp>

#include <string>
#include <vector>

struct opaque {
    std::string text;
};

int main() {
    std::vector<int> items{1, 2, 3};
    for (auto& r : pm::map([](int x) { return opaque{std::to_string(x)}; }, items)) (void)r;
}
