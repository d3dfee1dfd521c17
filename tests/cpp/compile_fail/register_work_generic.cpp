// expect: the item type cannot be deduced from the function
// max-errors: 1
// pm::register_work with a generic lambda cannot know the item type the
// workers decode: the message says to give it.
#include <parmapper.hpp>

int main() {
    static const auto twice = pm::register_work("twice", [](auto x) { return x * 2; });
    (void)twice;
}
