// expect: pm::kwstar needs pm::kwargs(defaults)
// max-errors: 1
// kwstar merges overrides into the kwargs struct, which must be given.
#include <parmapper.hpp>

#include <utility>
#include <vector>

struct knobs {
    int k = 0;
};

int main() {
    std::vector<std::pair<int, int>> items{{1, 2}};
    auto merge = [](knobs& k, int o) { k.k = o; };
    for (auto& r : pm::map([](int a, const knobs& k) { return a + k.k; }, items, pm::kwstar(merge)))
        (void)r;
}
