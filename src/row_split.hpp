// How pm_pareval splits the rows of an array into chunks: the chunk count
// from n_chunks, n_eval or the default, bounded by n_min, then sizes that
// differ by at most one (larger first), like numpy.array_split.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pm::core {

struct row_chunk {
    uint64_t first;  // index of the chunk's first row
    uint64_t rows;
};

// Number of chunks for n rows. 0 means unset for n_chunks, n_eval and n_min;
// n_chunks and n_eval are not both set (the caller checks). default_chunks
// applies when neither is set. 0 only for n = 0.
size_t row_chunk_count(size_t n, size_t n_chunks, size_t n_eval, size_t n_min,
                       size_t default_chunks) noexcept;

// The chunks themselves: consecutive, covering rows 0..n-1.
std::vector<row_chunk> split_rows(size_t n, size_t n_chunks, size_t n_eval, size_t n_min,
                                  size_t default_chunks);

}  // namespace pm::core
