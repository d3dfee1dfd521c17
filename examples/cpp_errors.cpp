// cpp_errors: the three error modes of the Python parmapper (its
// `exception` keyword) in C++, with an exception type of our own.
// - raise:   the first failure stops the map; pm::worker_error says which
//            item, what was thrown (its dynamic type) and its message.
// - return_: every item yields a pm::result, failed or not.
// - inline_: in this process; the exception itself comes out, unchanged.
// - runtime(m): the mode chosen from the command line (--keep-going).
// And a worker that dies, which is an error like any other.
//
// Usage: cpp_errors [--keep-going]
#include <parmapper.hpp>

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace inventory {
struct missing_part : std::runtime_error {
    explicit missing_part(int id)
        : std::runtime_error("no part " + std::to_string(id)), id(id) {}
    int id;
};
}  // namespace inventory

static int price(int id) {
    if (id % 5 == 3) throw inventory::missing_part(id);
    return id * 10;
}

int main(int argc, char** argv) {
    const bool keep_going = argc > 1 && std::strcmp(argv[1], "--keep-going") == 0;
    const std::vector<int> ids{1, 2, 3, 4, 5, 6, 7, 8};
    const auto opts = pm::options{}.processes(2);

    std::printf("raise (the default, with any number of processes):\n  ");
    try {
        for (int p : pm::map(price, ids, opts)) std::printf("%d ", p);
    } catch (const pm::worker_error& e) {
        // The workers are already stopped and reaped here.
        std::printf("\n  caught pm::worker_error: item %llu threw %s: %s\n",
                    (unsigned long long)e.index(), e.type_name().c_str(), e.message().c_str());
    }

    std::printf("return_:\n");
    for (const pm::result<int>& r : pm::map(price, ids, opts.errors(pm::errors::return_))) {
        if (r)
            std::printf("  %d\n", *r);
        else
            std::printf("  failed: %s\n", r.error().what());
    }

    std::printf("inline_ (in this process, for debugging):\n  ");
    try {
        for (int p : pm::map(price, ids, opts.errors(pm::errors::inline_))) std::printf("%d ", p);
    } catch (const inventory::missing_part& e) {
        std::printf("\n  caught inventory::missing_part itself, id %d\n", e.id);
    }

    std::printf("runtime (%s):\n", keep_going ? "--keep-going: return_" : "raise");
    const pm::runtime_options chosen = opts.errors(pm::errors::runtime(
        keep_going ? pm::errors::mode::return_ : pm::errors::mode::raise));
    try {
        for (const pm::result<int>& r : pm::map(price, ids, chosen)) {
            if (r)
                std::printf("  %d\n", *r);
            else
                std::printf("  failed: %s\n", r.error().what());
        }
    } catch (const pm::worker_error& e) {
        std::printf("  stopped: %s\n", e.what());
    }

    std::printf("a worker that dies:\n  ");
    try {
        auto fragile = [](int id) {
            if (id == 6) kill(getpid(), SIGKILL);
            return id;
        };
        for (int v : pm::map(fragile, ids, pm::options{}.processes(2).chunksize(1)))
            std::printf("%d ", v);
    } catch (const pm::worker_error& e) {
        std::printf("\n  caught: %s\n", e.what());
    }
    return 0;
}
