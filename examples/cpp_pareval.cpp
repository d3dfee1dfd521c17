// cpp_pareval: the Python tool's ParEval in C++. A function of the rows of
// an array (points of 3 coordinates -> their distance from the origin, and
// two truncated Fourier series of their coordinates, about 200 sines and
// cosines a row) is evaluated over chunks of rows in parallel, and the
// output rows come back in order, equal to one serial call. A double array
// goes through the C library's pm_pareval(); a float array through pm::map
// of row chunks.
//
//     parfun = ParEval(fun, n_chunks=None, n_eval=None, n_min=None)
//     results = parfun(X)
//
// Usage: cpp_pareval [rows [processes]]   (defaults: 1000000, 0 = online CPUs)
#include <parmapper.hpp>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

template <class T>
static void features(pm::rows_view<const T> x, pm::rows_view<T> y) {
    for (size_t r = 0; r < x.rows(); ++r) {
        y(r, 0) = std::sqrt(x(r, 0) * x(r, 0) + x(r, 1) * x(r, 1) + x(r, 2) * x(r, 2));
        T square_wave = 0, sawtooth = 0;
        for (int k = 1; k <= 100; ++k) {
            square_wave += std::sin(T(2 * k - 1) * x(r, 0)) / T(2 * k - 1);
            sawtooth += std::sin(T(k) * x(r, 1)) / T(k);
        }
        y(r, 1) = square_wave;
        y(r, 2) = sawtooth;
    }
}

template <class T>
static void run(const char* name, size_t n, unsigned processes) {
    std::vector<T> x(n * 3);
    for (size_t i = 0; i < x.size(); ++i) x[i] = T((i * 7919) % 2001) / 1000 - 1;

    const auto t0 = std::chrono::steady_clock::now();
    std::vector<T> serial(n * 3);
    features<T>(pm::rows_view<const T>(x.data(), n, 3), pm::rows_view<T>(serial.data(), n, 3));
    const auto t1 = std::chrono::steady_clock::now();
    const std::vector<T> parallel =
        pm::pareval(features<T>, x, 3, 3, {}, pm::options{}.processes(processes));
    const auto t2 = std::chrono::steady_clock::now();

    const double serial_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
    const double parallel_ms = std::chrono::duration<double, std::milli>(t2 - t1).count();
    std::printf("%-6s %zu rows: serial %.1f ms, pareval %.1f ms, results %s\n", name, n,
                serial_ms, parallel_ms, parallel == serial ? "identical" : "DIFFERENT");
}

int main(int argc, char** argv) {
    const size_t n = argc > 1 ? size_t(std::atol(argv[1])) : 1000000;
    const unsigned processes = argc > 2 ? unsigned(std::atoi(argv[2])) : 0;
    run<double>("double", n, processes);
    run<float>("float", n, processes);

    // The split, as Python's n_chunks / n_eval / n_min: here chunks of at
    // most 1000 rows.
    std::vector<double> x(10000 * 3, 1.0);
    const auto y = pm::pareval(features<double>, x, 3, 3, {0, 1000, 0},
                               pm::options{}.processes(processes));
    std::printf("n_eval=1000 over 10000 rows: first length %.4f (sqrt 3)\n", y[0]);
    return 0;
}
