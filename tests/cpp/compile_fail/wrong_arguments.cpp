// expect: the function cannot be called with the arguments its argument mode gives
// max-errors: 1
// pm::star with a function of the wrong arity is rejected with a message that
// explains the argument mode.
#include <parmapper.hpp>

#include <utility>
#include <vector>

int main() {
    std::vector<std::pair<int, int>> items{{1, 2}};
    for (auto& r : pm::map([](int a) { return a; }, items, pm::star)) (void)r;
}
