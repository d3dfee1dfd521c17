// expect: the argument mode of a registered function is fixed by pm::register_work
// max-errors: 1
// A registered function's argument mode is part of the registration (a
// worker constructs the call itself), so pm::map over it refuses one.
#include <parmapper.hpp>

#include <vector>

int plus(int x, int y) { return x + y; }

int main() {
    static const auto add = pm::register_work("add", plus, pm::args(1));
    std::vector<int> items{1, 2};
    for (int r : pm::map(add, items, pm::args(2))) (void)r;
}
