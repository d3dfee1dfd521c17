/*
 * trivial_items: items per second for items whose work costs nothing, so the
 * figure is the library's own overhead (chunking, pipes, sort buffer, result
 * delivery). Each item is a uint64_t x and its result is x * 2 + 1, with the
 * automatic chunk size. Four ways: array or pull (generator) input, ordered
 * or unordered results; next to them, a serial loop of the same work in the
 * same run. A fifth way repeats "array, ordered" with the built-in progress
 * bar on (its lines go to stderr), to show what the bar costs. Each figure is the median of several runs; every run's results
 * are checked.
 *
 * Usage: trivial_items [items [processes [runs]]]
 *        (defaults: 1000000 items, 0 = online CPUs, 5 runs)
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

#define MAX_RUNS 101

static int work(const void *item, size_t len, uint64_t index, pm_sink *out,
                void *user_data)
{
    uint64_t x;

    (void)len;
    (void)index;
    (void)user_data;
    memcpy(&x, item, sizeof x);
    x = x * 2 + 1;
    return pm_sink_write(out, &x, sizeof x) != PM_OK;
}

/* A generator over the same array, one item per call, as a caller that
 * produces items one by one would write it. */
struct cursor {
    const uint64_t *items;
    size_t count, next;
};

static int pull(pm_feed *feed, void *user_data)
{
    struct cursor *c = user_data;

    if (c->next == c->count)
        return PM_DONE;
    return pm_feed_push(feed, &c->items[c->next++], sizeof(uint64_t));
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* sum of x * 2 + 1 for x in [0, n): n * n, modulo 2^64. */
static int check(const uint64_t *results, size_t n, const char *what)
{
    uint64_t sum = 0;
    size_t i;

    for (i = 0; i < n; i++)
        sum += results[i];
    if (sum != (uint64_t)n * n) {
        fprintf(stderr, "trivial_items: %s: wrong results\n", what);
        return -1;
    }
    return 0;
}

/* One timed map. Returns its wall time in seconds, or a negative value after
 * printing why it failed. */
static double run_map(const uint64_t *items, uint64_t *results, size_t count,
                      uint32_t processes, int pull_input, int ordered, int bar)
{
    pm_options *opts = NULL;
    pm_input *in = NULL;
    pm_map *map = NULL;
    struct cursor *cur;
    uint64_t index, expected = 0;
    const void *data;
    size_t len;
    double t0 = now();
    int rc;

    rc = pm_options_create(&opts);
    if (rc == PM_OK)
        rc = pm_options_set_processes(opts, processes);
    if (rc == PM_OK)
        rc = pm_options_set_ordered(opts, ordered);
    if (rc == PM_OK && bar)
        rc = pm_options_set_progress_bar(opts, 1, "trivial_items");
    if (rc == PM_OK) {
        if (pull_input) {
            cur = malloc(sizeof *cur);
            if (!cur) {
                rc = PM_ENOMEM;
            } else {
                cur->items = items;
                cur->count = count;
                cur->next = 0;
                rc = pm_input_create_pull(&in, pull, cur, free);
            }
        } else {
            rc = pm_input_create_array(&in, items, sizeof items[0], count);
        }
    }
    if (rc == PM_OK)
        rc = pm_map_create(&map, opts, in, work, NULL, NULL);
    pm_options_destroy(opts);
    if (rc != PM_OK) {
        fprintf(stderr, "trivial_items: %s: %s\n", pm_status_str(rc), pm_last_error());
        return -1;
    }
    while ((rc = pm_map_next(map, &index, &data, &len)) == PM_OK) {
        if (len != sizeof results[0] || index >= count ||
            (ordered && index != expected)) {
            fprintf(stderr, "trivial_items: bad result for item %" PRIu64 "\n", index);
            pm_map_destroy(map);
            return -1;
        }
        memcpy(&results[index], data, sizeof results[0]);
        expected++;
    }
    if (rc != PM_DONE || expected != count) {
        fprintf(stderr, "trivial_items: map failed: %s: %s\n", pm_status_str(rc),
                pm_map_error(map));
        pm_map_destroy(map);
        return -1;
    }
    pm_map_destroy(map);
    return now() - t0;
}

static double run_serial(const uint64_t *items, uint64_t *results, size_t count)
{
    double t0 = now();
    size_t i;

    for (i = 0; i < count; i++)
        results[i] = items[i] * 2 + 1;
    return now() - t0;
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

int main(int argc, char **argv)
{
    static const struct {
        const char *name;
        int pull, ordered, bar;
    } modes[] = {
        {"array, ordered", 0, 1, 0},
        {"array, unordered", 0, 0, 0},
        {"pull, ordered", 1, 1, 0},
        {"pull, unordered", 1, 0, 0},
        {"array, ordered, bar", 0, 1, 1},
    };
    unsigned long count = 1000000, processes = 0, runs = 5;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double times[MAX_RUNS], serial, t;
    uint64_t *items, *results;
    size_t i, m, r;

    if (argc > 4 || (argc > 1 && parse_count(argv[1], 100000000ul, &count)) ||
        (argc > 2 && parse_count(argv[2], PM_MAX_PROCESSES, &processes)) ||
        (argc > 3 && (parse_count(argv[3], MAX_RUNS, &runs) || runs == 0)) ||
        count == 0) {
        fprintf(stderr, "usage: %s [items [processes [runs]]]  (processes 0 = online CPUs)\n",
                argv[0]);
        return 2;
    }
    if (processes == 0)
        processes = cpus > 0 ? (unsigned long)cpus : 1;

    items = malloc(count * sizeof *items);
    results = malloc(count * sizeof *results);
    if (!items || !results) {
        fprintf(stderr, "trivial_items: out of memory\n");
        return 1;
    }
    for (i = 0; i < count; i++)
        items[i] = i;

    for (r = 0; r < runs; r++) {
        times[r] = run_serial(items, results, count);
        if (check(results, count, "serial loop") != 0)
            return 1;
    }
    serial = median(times, runs);

    printf("libparmapper %s, trivial items: %lu uint64 items, work x*2+1, chunk size auto\n"
           "processes: %lu, online CPUs: %ld, median of %lu runs\n\n",
           pm_version_string(), count, processes, cpus, runs);
    printf("%-20s %14s %12s %16s\n", "", "M items/s", "seconds", "speed vs serial");
    printf("%-20s %14.2f %12.6f %16s\n", "serial loop", (double)count / serial / 1e6, serial,
           "1");
    fflush(stdout);

    for (m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        for (r = 0; r < runs; r++) {
            memset(results, 0, count * sizeof *results);
            t = run_map(items, results, count, (uint32_t)processes, modes[m].pull,
                        modes[m].ordered, modes[m].bar);
            if (t < 0 || check(results, count, modes[m].name) != 0)
                return 1;
            times[r] = t;
        }
        t = median(times, runs);
        printf("%-20s %14.2f %12.6f %16.4f\n", modes[m].name, (double)count / t / 1e6, t,
               serial / t);
        fflush(stdout);
    }

    free(items);
    free(results);
    return 0;
}
