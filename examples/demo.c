/*
 * demo: CPU-bound work over thousands of items, run once as a plain serial
 * loop and once through libparmapper, with the same results.
 *
 * Item i stands for the SPAN integers after i * SPAN; its result is the sum
 * of their Collatz stopping times (steps of n -> n/2 or 3n+1 until 1), about
 * a millisecond of arithmetic. Results are collected in input order and
 * folded into a checksum that depends on that order.
 *
 * Usage: demo [items [processes]]   (defaults: 4000 items, 0 = online CPUs)
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <parmapper.h>

#define SPAN 5000u

static uint64_t collatz_steps(uint64_t item)
{
    uint64_t total = 0;
    uint64_t first = item * SPAN + 1;
    uint64_t n;

    for (n = first; n < first + SPAN; n++) {
        uint64_t x = n;
        while (x != 1) {
            x = (x & 1) ? 3 * x + 1 : x / 2;
            total++;
        }
    }
    return total;
}

/* The serial loop and the work function both call through this pointer, so
 * both run the same machine code: inlined into two different loops, the
 * branchy inner loop can differ in speed by 20% from code layout alone. */
static uint64_t (*volatile compute)(uint64_t) = collatz_steps;

/* The work function: one uint64_t item in, one uint64_t result out. Item
 * bytes carry no alignment promise, hence memcpy. */
static int work(const void *item, size_t len, uint64_t index, pm_sink *out,
                void *user_data)
{
    uint64_t n, steps;

    (void)index;
    (void)user_data;
    if (len != sizeof n) {
        pm_sink_set_error(out, "item is not a uint64_t");
        return 1;
    }
    memcpy(&n, item, sizeof n);
    steps = compute(n);
    return pm_sink_write(out, &steps, sizeof steps) == PM_OK ? 0 : 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* FNV-1a over the results in order: a swapped pair changes it. */
static uint64_t checksum(const uint64_t *results, size_t count)
{
    uint64_t h = 14695981039346656037u;
    size_t i;
    int b;

    for (i = 0; i < count; i++)
        for (b = 0; b < 64; b += 8)
            h = (h ^ ((results[i] >> b) & 0xff)) * 1099511628211u;
    return h;
}

static int parse_count(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Runs the map; fills results[0..count). Returns 0 or 1 after printing why. */
static int run_parallel(const uint64_t *items, uint64_t *results,
                        size_t count, uint32_t processes)
{
    pm_options *opts = NULL;
    pm_input *in = NULL;
    pm_map *map = NULL;
    uint64_t index, expected = 0;
    const void *data;
    size_t len;
    int rc;

    rc = pm_options_create(&opts);
    if (rc == PM_OK)
        rc = pm_options_set_processes(opts, processes);
    if (rc == PM_OK)
        rc = pm_options_set_ordered(opts, 1); /* the default, said here */
    if (rc == PM_OK)
        rc = pm_input_create_array(&in, items, sizeof items[0], count);
    if (rc == PM_OK)
        rc = pm_map_create(&map, opts, in, work, NULL, NULL); /* forks */
    pm_options_destroy(opts);
    if (rc != PM_OK) {
        fprintf(stderr, "demo: cannot start the map: %s: %s\n",
                pm_status_str(rc), pm_last_error());
        return 1;
    }

    while ((rc = pm_map_next(map, &index, &data, &len)) == PM_OK) {
        if (index != expected || len != sizeof results[0]) {
            fprintf(stderr, "demo: item %" PRIu64 " (%zu bytes) out of order\n",
                    index, len);
            pm_map_destroy(map);
            return 1;
        }
        memcpy(&results[index], data, len);
        expected++;
    }
    if (rc != PM_DONE) {
        fprintf(stderr, "demo: the map failed: %s: %s\n", pm_status_str(rc),
                pm_map_error(map));
        pm_map_destroy(map);
        return 1;
    }
    pm_map_destroy(map);
    return 0;
}

int main(int argc, char **argv)
{
    unsigned long count = 4000, processes = 0;
    uint64_t *items, *serial, *parallel;
    uint64_t sum_serial, sum_parallel;
    double t0, t_serial, t_parallel;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t i;

    if (argc > 3 || (argc > 1 && parse_count(argv[1], 10000000ul, &count)) ||
        (argc > 2 && parse_count(argv[2], PM_MAX_PROCESSES, &processes))) {
        fprintf(stderr, "usage: %s [items [processes]]  (processes 0 = one per online CPU)\n",
                argv[0]);
        return 2;
    }

    /* + 1: malloc(0) may return NULL, and 0 items is a valid run. */
    items = malloc(count * sizeof *items + 1);
    serial = malloc(count * sizeof *serial + 1);
    parallel = malloc(count * sizeof *parallel + 1);
    if (!items || !serial || !parallel) {
        fprintf(stderr, "demo: out of memory\n");
        return 1;
    }
    for (i = 0; i < count; i++)
        items[i] = i;

    printf("libparmapper %s demo: %lu items, each the Collatz steps of %u integers\n",
           pm_version_string(), count, SPAN);

    t0 = now();
    for (i = 0; i < count; i++)
        serial[i] = compute(items[i]);
    t_serial = now() - t0;
    sum_serial = checksum(serial, count);
    printf("  serial loop  %8.3f s   checksum %016" PRIx64 "\n", t_serial, sum_serial);
    fflush(stdout);

    t0 = now();
    if (run_parallel(items, parallel, count, (uint32_t)processes) != 0)
        return 1;
    t_parallel = now() - t0;
    sum_parallel = checksum(parallel, count);
    printf("  parmapper    %8.3f s   checksum %016" PRIx64 "   (processes: %lu)\n",
           t_parallel, sum_parallel,
           processes ? processes : (unsigned long)(cpus > 0 ? cpus : 1));

    if (sum_serial != sum_parallel) {
        printf("  checksums DIFFER: the parallel results are wrong\n");
        return 1;
    }
    printf("  speed-up     %8.2fx  on %ld online CPUs; checksums match\n",
           t_parallel > 0 ? t_serial / t_parallel : 0.0, cpus);

    free(items);
    free(serial);
    free(parallel);
    return 0;
}
