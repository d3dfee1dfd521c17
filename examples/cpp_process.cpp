// cpp_process: the Python tool's ReturnProcess in C++. Two slow functions run
// at once in background processes; join() returns each one's value, or
// throws the error it ended with. A process that is never joined is killed
// and reaped when its handle goes.
//
//     p1 = ReturnProcess(slow, args=(arg1,), kwargs={'kw': arg2}).start()
//     p2 = ReturnProcess(slower, args=(arg3,), kwargs={'kw': arg4}).start()
//     res1, res2 = p1.join(), p2.join()
//
// Usage: cpp_process
#include <parmapper.hpp>

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

// Keyword arguments of the slow functions (Python's kw=...).
struct limit_kw {
    uint64_t below = 100000;
};

// The primes below a limit (slow on purpose: trial division).
static std::vector<uint64_t> primes(uint64_t from, const limit_kw& kw) {
    std::vector<uint64_t> out;
    for (uint64_t n = from < 2 ? 2 : from; n < kw.below; ++n) {
        bool prime = true;
        for (uint64_t d = 2; d * d <= n && prime; ++d) prime = n % d != 0;
        if (prime) out.push_back(n);
    }
    return out;
}

// The longest Collatz chain below a limit: (start, steps).
static std::pair<uint64_t, int> longest_chain(const limit_kw& kw) {
    std::pair<uint64_t, int> best{1, 0};
    for (uint64_t n = 1; n < kw.below; ++n) {
        int steps = 0;
        for (uint64_t x = n; x != 1; x = x % 2 ? 3 * x + 1 : x / 2) ++steps;
        if (steps > best.second) best = {n, steps};
    }
    return best;
}

int main() {
    // Both start now, each in its own process; this one goes on meanwhile.
    auto p1 = pm::process(primes, uint64_t{1000}, limit_kw{300000});
    auto p2 = pm::process(longest_chain, limit_kw{1000000});
    auto p3 = pm::process([](int x) -> int { throw std::out_of_range("no value for " + std::to_string(x)); }, 7);
    auto forgotten = pm::process([] {
        sleep(3600);
        return 0;
    });

    const std::vector<uint64_t> ps = p1.join();
    const auto chain = p2.join();
    std::printf("%zu primes in [1000, 300000), the last %llu\n", ps.size(),
                (unsigned long long)ps.back());
    std::printf("longest Collatz chain below 10^6 starts at %llu: %d steps\n",
                (unsigned long long)chain.first, chain.second);
    try {
        p3.join();
    } catch (const pm::worker_error& e) {
        std::printf("p3 failed: %s (type %s)\n", e.message().c_str(), e.type_name().c_str());
    }
    // `forgotten` is never joined: leaving main kills and reaps it.
    return 0;
}
