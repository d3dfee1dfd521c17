// cpp_pipeline: the Python README's "concurrency and parallelism together".
// A lazy input, a serial preprocessing step, a parallel map and a serial
// postprocessing step are chained without materializing anything: 10^7
// generated items stream through pm::map in bounded memory. Peak memory is
// printed at the end; it does not grow with the number of items.
//
//     data = data_load_generator()          pm::generate(...)
//     data = imap(preprocess, data)         pm::serial_map(preprocess, data)
//     data = parmap(expensive, data)        pm::map(expensive, data, options)
//     data = imap(postprocess, data)        pm::serial_map(postprocess, data)
//
// Usage: cpp_pipeline [items [processes]]   (defaults: 10000000, 0 = online CPUs)
#include <parmapper.hpp>

#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>

static long peak_rss_kib() {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

// The "expensive" step: a few rounds of a 64-bit mixer.
static uint64_t expensive(uint64_t x) {
    for (int round = 0; round < 16; ++round) {
        x ^= x >> 31;
        x *= 0x9e3779b97f4a7c15ull;
        x ^= x >> 29;
    }
    return x;
}

int main(int argc, char** argv) {
    const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 10'000'000;
    const unsigned processes = argc > 2 ? unsigned(std::atoi(argv[2])) : 0;
    const long rss_before = peak_rss_kib();
    const auto start = std::chrono::steady_clock::now();

    // A generator: one item at a time, only when the map asks for it.
    auto data = pm::generate([i = uint64_t{0}, n]() mutable -> std::optional<uint64_t> {
        if (i == n) return std::nullopt;
        return i++;
    });
    auto preprocessed = pm::serial_map([](uint64_t x) { return x * 2 + 1; }, data);
    auto computed = pm::map(expensive, preprocessed,
                            pm::options{}
                                .processes(processes)
                                .total(n)
                                .max_in_flight(1 << 16)
                                .progress("pipeline"));  // a bar on stderr
    auto postprocessed = pm::serial_map([](uint64_t y) { return unsigned(y % 10); }, computed);

    uint64_t histogram[10] = {};
    uint64_t count = 0;
    for (unsigned digit : postprocessed) {
        histogram[digit]++;
        count++;
    }

    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("%llu items in %.2f s (%.2f M items/s)\n", (unsigned long long)count, seconds,
                double(count) / seconds / 1e6);
    std::printf("last digits:");
    for (uint64_t h : histogram) std::printf(" %llu", (unsigned long long)h);
    std::printf("\npeak RSS: %ld KiB before the pipeline, %ld KiB after\n", rss_before,
                peak_rss_kib());
    return count == n ? 0 : 1;
}
