// expect: pm: a member of the result (in a std::pair, std::tuple or std::optional) is neither trivially copyable nor serializable with cereal
// expect-gcc: [with Member = opaque]
// expect-clang: check_result_member<opaque>
// max-errors: 1
// A tuple result with a member that needs a serialize() it does not have.
#include <parmapper.hpp>

#include <string>
#include <tuple>
#include <vector>

struct opaque {
    std::string text;
};

int main() {
    std::vector<int> items{1, 2, 3};
    for (auto& r : pm::map([](int x) { return std::make_tuple(x, opaque{std::to_string(x)}); },
                           items))
        (void)r;
}
