// expect: pm::generate: the generator must return std::optional<T>
// max-errors: 1
// A generator that returns the value itself: it cannot say where the input
// ends, and the message says what to write instead.
#include <parmapper.hpp>

int main() {
    int n = 0;
    for (auto& r : pm::map([](int x) { return x * 2; }, pm::generate([&] { return n++; })))
        (void)r;
}
