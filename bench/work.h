/*
 * The work of the benchmark's workloads, shared by every way of running it:
 * the serial loop, the hand-written pool (ceiling.c), libparmapper through
 * the C API and the C++ layer (pmbench.c, cpp_rows.cpp), and Python, which
 * loads these same functions from libpmbench_work.so with ctypes where its
 * own arithmetic would not be the same work (the CPU-bound items, filling a
 * 1 MiB result, summing a large item). Plain C99, no library code.
 */
#ifndef PMBENCH_WORK_H
#define PMBENCH_WORK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Workload 1 and 5: the trivial item x -> x * 2 + 1 (8 bytes in, 8 out). */
static inline uint64_t pmb_trivial(uint64_t x) { return x * 2 + 1; }

/* Workload 2: about a millisecond of arithmetic for item i: the sum of the
 * Collatz stopping times of the PMB_CPU_SPAN integers after i * span. */
#define PMB_CPU_SPAN 6000u
uint64_t pmb_cpu(uint64_t item, uint32_t span);

/* Every caller goes through this pointer, so that the serial loop and the
 * workers run the same machine code: inlined into two different loops, the
 * branchy inner loop can differ in speed by 20 % from code layout alone. */
extern uint64_t (*volatile pmb_cpu_fn)(uint64_t item, uint32_t span);

/* Workload 3: fill a result of len bytes for item index: every byte is
 * (uint8_t)index, and the first 8 bytes of every 4 KiB page hold index + the
 * page number, so a swapped, stale or truncated result is caught by
 * pmb_big_check(), which reads those words and one byte per page (so that
 * checking does not dominate the figure). len is a multiple of 8. */
void pmb_big_fill(void *buf, size_t len, uint64_t index);
/* 0 if buf looks like pmb_big_fill(buf, len, index) left it, else -1. */
int pmb_big_check(const void *buf, size_t len, uint64_t index);

/* Workload 6: item index of len bytes (a multiple of 8) is the words
 * index * PMB_ITEM_MUL + k, k = 0 .. len / 8 - 1; its result is the sum of
 * its words (so the work reads every byte of the item). */
#define PMB_ITEM_MUL UINT64_C(0x9e3779b97f4a7c15)
void pmb_item_fill(void *buf, size_t len, uint64_t index);
/* Items 0 .. n - 1, back to back at buf (n * len bytes). */
void pmb_items_fill(void *buf, size_t len, uint64_t n);
uint64_t pmb_item_sum(const void *buf, size_t len);
/* What pmb_item_sum() of item index must give, in closed form. */
uint64_t pmb_item_expected(size_t len, uint64_t index);

/* Order-sensitive digest of 8-byte results in index order (FNV-1a over
 * words): start at PMB_DIGEST_INIT, fold each result with pmb_digest(). */
#define PMB_DIGEST_INIT UINT64_C(0xcbf29ce484222325)
static inline uint64_t pmb_digest(uint64_t h, uint64_t r)
{
    return (h ^ r) * UINT64_C(0x100000001b3);
}

#ifdef __cplusplus
}
#endif

#endif /* PMBENCH_WORK_H */
