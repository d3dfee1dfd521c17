/* The MPI backend beside a local pool, on the same machine, in the same run
 * (run by scripts/bench_mpi.sh under mpirun -np 2, 3 and 4). Two workloads:
 * trivial items (8 bytes in, 8 out: x*2+1) and CPU-bound items of about
 * 1 ms each. Rank 0 times a local pool of `local` processes and an MPI pool
 * of one process per worker rank (np - 1 ranks), medians of `runs` runs,
 * and prints one Markdown row per workload; every result is checked.
 *
 * Usage: mpirun -np N mpi_bench [--smoke] [--runs R] [--local P]
 *        (--smoke: tiny sizes, one run: a check that it works) */
#define _POSIX_C_SOURCE 200809L
#include <parmapper.h>
#include <parmapper_mpi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int trivial(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    (void)index;
    (void)ud;
    uint64_t x = 0;
    memcpy(&x, item, len < sizeof x ? len : sizeof x);
    x = x * 2 + 1;
    return pm_sink_write(out, &x, sizeof x) == PM_OK ? 0 : 1;
}

/* About 1 ms of CPU: spins on the clock, then answers like trivial. */
static int spin_1ms(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    const double until = now_s() + 0.001;
    while (now_s() < until) {
    }
    return trivial(item, len, index, out, ud);
}

static int cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Items/s of one map over n items (x = i) on pool, every result checked;
 * negative on a failure. */
static double one_map(pm_pool *pool, size_t n) {
    uint64_t *items = malloc(n * sizeof *items);
    if (!items) return -1;
    for (size_t i = 0; i < n; ++i) items[i] = i;
    pm_input *in = NULL;
    pm_map *map = NULL;
    double rate = -1;
    const double start = now_s();
    if (pm_input_create_array(&in, items, sizeof *items, n) == PM_OK &&
        pm_pool_map(&map, pool, NULL, in) == PM_OK) {
        size_t got = 0;
        int rc;
        uint64_t index;
        const void *data;
        size_t len;
        while ((rc = pm_map_next(map, &index, &data, &len)) == PM_OK) {
            uint64_t y;
            memcpy(&y, data, sizeof y);
            if (len != sizeof y || y != items[index] * 2 + 1) break;
            ++got;
        }
        if (rc == PM_DONE && got == n) rate = (double)n / (now_s() - start);
        else fprintf(stderr, "mpi_bench: map failed: %s\n", pm_map_error(map));
    }
    pm_map_destroy(map);
    free(items);
    return rate;
}

static double median_rate(pm_pool *pool, size_t n, int runs) {
    double r[32];
    if (runs > 32) runs = 32;
    for (int i = 0; i < runs; ++i) {
        r[i] = one_map(pool, n);
        if (r[i] < 0) return -1;
    }
    qsort(r, (size_t)runs, sizeof r[0], cmp_double);
    return r[runs / 2];
}

static void print_rate(double r) {
    if (r >= 1e6) printf(" %.2f M items/s |", r / 1e6);
    else if (r >= 1e3) printf(" %.1f k items/s |", r / 1e3);
    else printf(" %.0f items/s |", r);
}

int main(int argc, char **argv) {
    pm_register_work("trivial", trivial, NULL);
    pm_register_work("spin_1ms", spin_1ms, NULL);
    pm_worker_serve(argc, argv); /* ranks 1.. serve here */
    int smoke = 0, runs = 5;
    uint32_t local = 2;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "--smoke")) smoke = 1, runs = 1;
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--local") && i + 1 < argc) local = (uint32_t)atoi(argv[++i]);
    }
    if (runs < 1) runs = 1;
    if (pm_mpi_size() < 2) {
        fprintf(stderr, "mpi_bench: run it under mpirun -np N, N >= 2\n");
        return 2;
    }
    const int ranks = pm_mpi_size() - 1;
    struct {
        const char *name, *work;
        size_t n;
    } loads[] = {
        {"trivial items, automatic chunks", "trivial", smoke ? 2000 : 200000},
        {"CPU-bound items, about 1 ms", "spin_1ms", smoke ? 20 : 400},
    };
    int status = 0;
    for (size_t k = 0; k < sizeof loads / sizeof loads[0]; ++k) {
        pm_options *lo = NULL, *mo = NULL;
        pm_options_create(&lo);
        pm_options_set_processes(lo, local);
        pm_options_create(&mo);
        pm_options_set_processes(mo, 1); /* per rank */
        pm_pool *lp = NULL, *mp = NULL;
        double l = -1, m = -1;
        if (pm_pool_create_named(&lp, lo, loads[k].work) == PM_OK) {
            l = median_rate(lp, loads[k].n, runs);
            pm_pool_destroy(lp);
        }
        if (pm_mpi_pool_create(&mp, mo, loads[k].work) == PM_OK) {
            m = median_rate(mp, loads[k].n, runs);
            pm_pool_destroy(mp);
        } else {
            fprintf(stderr, "mpi_bench: %s\n", pm_mpi_last_error());
        }
        pm_options_destroy(lo);
        pm_options_destroy(mo);
        if (l < 0 || m < 0) {
            status = 1;
            continue;
        }
        printf("| %s, %zu items | -np %d | %u |", loads[k].name, loads[k].n, ranks + 1, local);
        print_rate(l);
        printf(" %d x 1 |", ranks);
        print_rate(m);
        printf(" %.2f |\n", m / l);
        fflush(stdout);
    }
    pm_mpi_finalize();
    return status;
}
