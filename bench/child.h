/*
 * One measurement in a fresh process: the driver runs
 * `pmbench --child WORKLOAD WAY key=value...` for each row and run, so that
 * no run inherits another's heap, and peak memory (VmHWM) is this process's
 * alone. The child prints one result line (bench.h) and exits 0, or prints
 * why it failed (a wrong result included) and exits 1.
 */
#ifndef PMBENCH_CHILD_H
#define PMBENCH_CHILD_H

#include "bench.h"

/* 1 when cpp_rows.cpp (the C++ layer's rows, which need cereal) is built. */
#ifndef PMBENCH_HAVE_CPP
#define PMBENCH_HAVE_CPP 0
#endif

#ifdef __cplusplus
extern "C" {
#endif

int child_main(int argc, char **argv);

/* The C++ layer's rows (cpp_rows.cpp): workload is one of trivial, cpu, big,
 * start, memory. Returns 0 with *res filled, or 1 after printing why. */
int cpp_child(const char *workload, const struct bench_args *args, struct bench_res *res);

/* What the child needs from its arguments, set before any fork so that the
 * workers inherit it. */
struct child_params {
    uint64_t wrong;     /* item whose result the library's work gets wrong, or UINT64_MAX */
    uint32_t span;      /* workload cpu */
    size_t rsize;       /* workload big: result bytes */
    size_t size;        /* workload sizes: item bytes */
};
extern struct child_params child_params;

#ifdef __cplusplus
}
#endif

#endif /* PMBENCH_CHILD_H */
