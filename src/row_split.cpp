#include "row_split.hpp"

#include <algorithm>

namespace pm::core {

size_t row_chunk_count(size_t n, size_t n_chunks, size_t n_eval, size_t n_min,
                       size_t default_chunks) noexcept {
    if (n == 0)
        return 0;
    size_t k = n_chunks ? n_chunks : n_eval ? n / n_eval + (n % n_eval != 0) : default_chunks;
    // n_min wins over the rest: no chunk smaller than n_min rows unless all
    // the rows together are fewer.
    if (n_min)
        k = std::min(k, std::max<size_t>(1, n / n_min));
    return std::clamp<size_t>(k, 1, n);
}

std::vector<row_chunk> split_rows(size_t n, size_t n_chunks, size_t n_eval, size_t n_min,
                                  size_t default_chunks) {
    const size_t k = row_chunk_count(n, n_chunks, n_eval, n_min, default_chunks);
    std::vector<row_chunk> chunks;
    chunks.reserve(k);
    uint64_t first = 0;
    for (size_t i = 0; i < k; ++i) {
        const uint64_t rows = n / k + (i < n % k ? 1 : 0);
        chunks.push_back({first, rows});
        first += rows;
    }
    return chunks;
}

}  // namespace pm::core
