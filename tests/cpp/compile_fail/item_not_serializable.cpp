// expect: the item type is neither trivially copyable nor serializable with cereal
// expect-gcc: [with Item = record]
// expect-clang: check_item_type<record>
// max-errors: 1
// Items that are neither trivially copyable nor serializable are rejected.
#include <parmapper.hpp>

#include <string>
#include <vector>

struct record {
    std::string name;
};

int main() {
    std::vector<record> items{{"a"}, {"b"}};
    for (auto& r : pm::map([](const record& x) { return x.name.size(); }, items)) (void)r;
}
