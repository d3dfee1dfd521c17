// The C++ layer's rows (see child.h): the same work and checks as the C API
// rows, written as a C++ user would write them with <parmapper.hpp>.
#include <parmapper.hpp>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <unistd.h>
#include <vector>

#include "child.h"
#include "work.h"

namespace {

unsigned online_cpus() {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? unsigned(n) : 1;
}

int wrong(const char* what, uint64_t index) {
    std::fprintf(stderr, "pmbench: C++ %s: wrong result for item %" PRIu64 "\n", what, index);
    return 1;
}

uint64_t trivial(uint64_t x) {
    uint64_t r = pmb_trivial(x);
    return x == child_params.wrong ? r ^ 1 : r;
}

pm::options base_options(const bench_args* a) {
    pm::options o;
    o.processes(uint32_t(bench_arg_u64(a, "p", online_cpus())));
    return o;
}

// Workload 1: an array (std::vector, handed over in place) or a generator.
int trivial_rows(const bench_args* a, bench_res* res) {
    const uint64_t n = bench_arg_u64(a, "n", 1000000);
    const bool ordered = bench_arg_u64(a, "ordered", 1) != 0;
    const bool pull = std::strcmp(bench_arg_str(a, "input", "array"), "pull") == 0;
    pm::options opts = base_options(a);
    opts.chunksize(size_t(bench_arg_u64(a, "chunk", PM_CHUNK_AUTO))).ordered(ordered);
    std::vector<uint64_t> items(n), results(n);
    for (uint64_t i = 0; i < n; i++) items[i] = i;
    uint64_t delivered = 0;
    bool bad = false;
    auto take = [&](const pm::indexed<uint64_t>& r) {
        if (r.index >= n || (ordered && r.index != delivered)) bad = true;
        else results[r.index] = r.value;
        delivered++;
    };

    res->rss_start = double(bench_rss_kib());
    const double t0 = bench_now();
    if (pull) {
        uint64_t next = 0;
        auto gen = pm::generate([&]() -> std::optional<uint64_t> {
            if (next == n) return std::nullopt;
            return items[next++];
        });
        for (const auto& r : pm::map(trivial, gen, opts, pm::with_index)) {
            take(r);
            if (bad) break;
        }
    } else {
        for (const auto& r : pm::map(trivial, items, opts, pm::with_index)) {
            take(r);
            if (bad) break;
        }
    }
    res->seconds = bench_now() - t0;
    res->rss_peak = double(bench_peak_rss_kib());
    if (bad || delivered != n) return wrong("trivial: order or count", delivered);
    for (uint64_t i = 0; i < n; i++)
        if (results[i] != pmb_trivial(i)) return wrong("trivial", i);
    res->items = double(n);
    return 0;
}

// Workload 2: CPU-bound items.
int cpu_rows(const bench_args* a, bench_res* res) {
    const uint64_t n = bench_arg_u64(a, "n", 4000);
    std::vector<uint64_t> items(n);
    for (uint64_t i = 0; i < n; i++) items[i] = i;
    auto f = [](uint64_t x) {
        uint64_t r = pmb_cpu_fn(x, child_params.span);
        return x == child_params.wrong ? r ^ 1 : r;
    };
    uint64_t h = PMB_DIGEST_INIT, delivered = 0;
    const double t0 = bench_now();
    for (uint64_t r : pm::map(f, items, base_options(a))) {
        h = pmb_digest(h, r);
        delivered++;
    }
    res->seconds = bench_now() - t0;
    if (delivered != n) return wrong("cpu: count", delivered);
    res->digest = h;
    res->items = double(n);
    return 0;
}

// Workload 3: 1 MiB results as std::vector<unsigned char>, default options
// but for an explicit process count.
int big_rows(const bench_args* a, bench_res* res) {
    const uint64_t n = bench_arg_u64(a, "n", 1024);
    const size_t rsize = child_params.rsize;
    std::vector<uint64_t> items(n);
    for (uint64_t i = 0; i < n; i++) items[i] = i;
    auto f = [rsize](uint64_t i) {
        std::vector<unsigned char> v(rsize);
        pmb_big_fill(v.data(), rsize, i);
        if (i == child_params.wrong) v[0] ^= 1;
        return v;
    };
    pm::options opts;
    if (bench_arg_str(a, "p", nullptr)) opts = base_options(a);
    uint64_t delivered = 0;
    res->rss_start = double(bench_rss_kib());
    const double t0 = bench_now();
    for (const auto& r : pm::map(f, items, opts, pm::with_index)) {
        if (r.index != delivered || r.value.size() != rsize ||
            pmb_big_check(r.value.data(), rsize, r.index) != 0)
            return wrong("1 MiB result", r.index);
        delivered++;
    }
    res->seconds = bench_now() - t0;
    res->rss_peak = double(bench_peak_rss_kib());
    if (delivered != n) return wrong("big: count", delivered);
    res->items = double(n);
    res->bytes = double(n) * double(rsize);
    return 0;
}

// Workload 4: a pool made and destroyed.
int start_rows(const bench_args* a, bench_res* res) {
    const unsigned n = unsigned(bench_arg_u64(a, "p", 2));
    unsigned cycles = unsigned(bench_arg_u64(a, "cycles", 3));
    const uint64_t mib = bench_arg_u64(a, "mib", 0);
    if (cycles == 0 || cycles > 64) cycles = 3;
    std::vector<unsigned char> big(size_t(mib) << 20, 1);  // every page written
    double start[65], stop[65], total[65];
    for (unsigned c = 0; c <= cycles; c++) {  // cycle 0 warms up, not counted
        const double t0 = bench_now();
        double t1;
        {
            auto pool = pm::make_pool<uint64_t>([](uint64_t x) { return x; },
                                                pm::options{}.processes(n));
            t1 = bench_now();
        }
        start[c] = t1 - t0;
        stop[c] = bench_now() - t1;
        total[c] = start[c] + stop[c];
    }
    res->start = bench_median(start + 1, cycles);
    res->stop = bench_median(stop + 1, cycles);
    res->seconds = bench_median(total + 1, cycles);
    res->rss_peak = double(bench_peak_rss_kib());
    return mib && big.back() != 1;
}

// Workload 5: a generator, ordered, of n items or endless (stopped).
int memory_rows(const bench_args* a, bench_res* res) {
    const uint64_t n = bench_arg_u64(a, "n", 0);
    const uint64_t stop = n ? n : bench_arg_u64(a, "stop", 30000000);
    uint64_t next = 0, delivered = 0;
    auto gen = pm::generate([&]() -> std::optional<uint64_t> {
        if (n && next == n) return std::nullopt;
        return next++;
    });
    res->rss_start = double(bench_rss_kib());
    const double t0 = bench_now();
    for (uint64_t r : pm::map(trivial, gen, base_options(a))) {
        if (r != pmb_trivial(delivered)) return wrong("memory", delivered);
        delivered++;
        if (!n && delivered == stop / 10) res->rss_early = double(bench_peak_rss_kib());
        if (delivered == stop) break;  // leaving the loop destroys the map
    }
    res->seconds = bench_now() - t0;
    res->rss_peak = double(bench_peak_rss_kib());
    if (delivered != stop) return wrong("memory: count", delivered);
    res->items = double(delivered);
    return 0;
}

}  // namespace

extern "C" int cpp_child(const char* workload, const bench_args* args, bench_res* res) {
    try {
        const std::string w = workload;
        if (w == "trivial") return trivial_rows(args, res);
        if (w == "cpu") return cpu_rows(args, res);
        if (w == "big") return big_rows(args, res);
        if (w == "start") return start_rows(args, res);
        if (w == "memory") return memory_rows(args, res);
        std::fprintf(stderr, "pmbench: the C++ layer has no row for workload %s\n", workload);
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "pmbench: C++ layer: %s\n", e.what());
        return 1;
    }
}
