// expect: pm::options: the error mode is part of the options' type
// max-errors: 1
// The same slip as a copy-initialization.
#include <parmapper.hpp>

int main() {
    const pm::options opts = pm::options{}.processes(2).errors(pm::errors::return_);
    (void)opts;
}
