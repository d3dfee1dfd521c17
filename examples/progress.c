/*
 * progress: the built-in progress bar, and a progress callback next to it.
 *
 * The map counts the primes below each of 400 limits (slow enough to watch).
 * pm_options_set_progress_bar() draws a bar on stderr: one line redrawn in
 * place on a terminal, a plain line per tenth of the work (at most one a
 * second) when stderr is a file or pipe. The callback set with
 * pm_options_set_progress() runs on the same thread and here remembers the
 * largest "done" it was told, to show that both see every result.
 *
 * Usage: progress [items]   (default 400)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <parmapper.h>

/* Runs in a worker: the number of primes below the item's limit. */
static int count_primes(const void *item, size_t len, uint64_t index,
                        pm_sink *out, void *user_data)
{
    uint64_t limit, n, d, count = 0;

    (void)len;
    (void)index;
    (void)user_data;
    memcpy(&limit, item, sizeof limit);
    for (n = 2; n < limit; n++) {
        for (d = 2; d * d <= n && n % d != 0; d++)
            ;
        count += d * d > n;
    }
    return pm_sink_write(out, &count, sizeof count) != PM_OK;
}

/* Runs on the thread calling pm_map_next(), after each result. */
static void remember(uint64_t done, uint64_t total, void *user_data)
{
    (void)total;
    *(uint64_t *)user_data = done;
}

int main(int argc, char **argv)
{
    size_t count = argc > 1 ? strtoul(argv[1], NULL, 10) : 400, i;
    uint64_t *limits, index, primes, sum = 0, seen = 0;
    pm_options *opts = NULL;
    pm_input *in = NULL;
    pm_map *map = NULL;
    const void *data;
    size_t len;
    int rc;

    limits = malloc((count ? count : 1) * sizeof *limits);
    if (!limits)
        return 1;
    for (i = 0; i < count; i++)
        limits[i] = 50000 + 250 * (uint64_t)i;

    rc = pm_options_create(&opts);
    if (rc == PM_OK)
        rc = pm_options_set_chunk_size(opts, 4);
    if (rc == PM_OK)
        rc = pm_options_set_progress_bar(opts, 1, "primes"); /* label is copied */
    if (rc == PM_OK)
        rc = pm_options_set_progress(opts, remember, &seen);
    if (rc == PM_OK)
        rc = pm_input_create_array(&in, limits, sizeof limits[0], count);
    if (rc == PM_OK)
        rc = pm_map_create(&map, opts, in, count_primes, NULL, NULL); /* forks */
    pm_options_destroy(opts);
    if (rc != PM_OK) {
        fprintf(stderr, "progress: %s: %s\n", pm_status_str(rc), pm_last_error());
        free(limits);
        return 1;
    }
    while ((rc = pm_map_next(map, &index, &data, &len)) == PM_OK) {
        memcpy(&primes, data, sizeof primes);
        sum += primes;
    }
    if (rc != PM_DONE)
        fprintf(stderr, "progress: %s: %s\n", pm_status_str(rc), pm_map_error(map));
    pm_map_destroy(map); /* the bar's last line was drawn at PM_DONE */

    printf("%" PRIu64 " of %lu results seen by the callback; primes counted: %" PRIu64 "\n",
           seen, (unsigned long)count, sum);
    free(limits);
    return rc == PM_DONE ? 0 : 1;
}
