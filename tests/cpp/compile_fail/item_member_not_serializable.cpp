// expect: pm: a member of the item (in a std::pair, std::tuple or std::optional) is neither trivially copyable nor serializable with cereal
// expect-gcc: [with Member = record]
// expect-clang: check_item_member<record>
// max-errors: 1
// A pair item whose member needs a serialize() it does not have: the layer's
// message, naming the member's type, not cereal's error from inside its
// std::pair support.
#include <parmapper.hpp>

#include <string>
#include <utility>
#include <vector>

struct record {
    std::string name;
};

int main() {
    std::vector<std::pair<int, record>> items{{1, {"a"}}};
    for (auto& r : pm::map([](const std::pair<int, record>& p) { return p.first; }, items))
        (void)r;
}
