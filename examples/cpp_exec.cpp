// cpp_exec: workers that start by exec. A program whose runtime runs threads
// of its own cannot trust fork(); with pm::start::exec each worker is a fresh
// run of this program instead. The work is registered by name in every run
// (here at namespace scope), main calls pm::serve() first (where a worker
// serves its items and never returns), and the map names the registration.
//
// Usage: cpp_exec [processes]   (default 2)
#include <parmapper.hpp>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

// Built by every run before main: a worker computes with its own copy.
const std::vector<std::string> kNames{"zero", "one", "two", "three", "four"};

const auto describe = pm::register_work("describe", [](int x) {
    if (x < 0)
        throw std::invalid_argument("negative: " + std::to_string(x));
    std::string name = x < int(kNames.size()) ? kNames[size_t(x)] : "many";
    return std::make_pair(x * x, name);
});

}  // namespace

int main(int argc, char** argv) {
    pm::serve(argc, argv);  // first: in a worker this never returns

    const unsigned processes = argc > 1 ? unsigned(std::atoi(argv[1])) : 2;
    const auto opts = pm::options{}.processes(processes).start(pm::start::exec);

    const std::vector<int> items{0, 1, 2, 3, 4, 5, 6};
    long total = 0;
    for (const auto& [square, name] : pm::map(describe, items, opts)) {
        std::printf("%-5s squared is %d\n", name.c_str(), square);
        total += square;
    }

    // A failure in a worker comes back as in fork mode.
    int failed = 0;
    for (auto& r : pm::map(describe, std::vector<int>{2, -1, 3},
                           opts.errors(pm::errors::return_)))
        if (!r) {
            std::printf("failed: %s\n", r.error().what());
            ++failed;
        }

    // A plain lambda cannot reach an exec worker: refused at once.
    bool refused = false;
    try {
        pm::map([](int x) { return x; }, items, opts);
    } catch (const pm::error& e) {
        refused = true;
        std::printf("refused: %.60s...\n", e.what());
    }

    const bool ok = total == 91 && failed == 1 && refused;
    std::printf("exec-mode workers: %s\n",
                ok ? "every square, the one failure and the refusal as expected" : "WRONG");
    return ok ? 0 : 1;
}
