// expect: (compiles)
// The control case: the same harness compiles a correct program, so the
// failures above are the layer's checks and not a broken command line.
#include <parmapper.hpp>

#include <string>
#include <utility>
#include <vector>

struct opaque {
    std::string text;
    template <class Archive>
    void serialize(Archive& ar) {
        ar(text);
    }
};

int main() {
    std::vector<std::pair<int, int>> items{{1, 2}};
    for (auto& r : pm::map([](int a, int b) { return opaque{std::to_string(a + b)}; }, items,
                           pm::star))
        (void)r;
}
