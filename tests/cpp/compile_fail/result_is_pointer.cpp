// expect: pm: the function returns a pointer
// max-errors: 1
// A string literal returned from the work function is a const char*: a
// pointer into the worker, meaningless here. The message says to return
// std::string.
#include <parmapper.hpp>

#include <vector>

int main() {
    std::vector<int> items{1, 2, 3};
    for (auto& r : pm::map([](int x) { return x % 2 ? "odd" : "even"; }, items)) (void)r;
}
