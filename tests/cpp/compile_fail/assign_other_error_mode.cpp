// expect: pm::options: the error mode is part of the options' type
// expect: pm::errors::runtime(mode)
// max-errors: 1
// Options of another error mode cannot be assigned (what the loop yields
// depends on the mode); the message points at the run-time form.
#include <parmapper.hpp>

int main(int argc, char**) {
    const bool keep_going = argc > 1;
    auto opts = pm::options{}.processes(2);
    if (keep_going) opts = opts.errors(pm::errors::return_);
}
