/*
 * pool: fork the workers once, then run several maps on them.
 *
 * A one-shot map (pm_map_create) forks its workers at every call. A pool
 * forks them at pm_pool_create() and keeps them for each pm_pool_map(): the
 * work function is fixed for the pool's life, and its workers see memory as
 * it was when the pool was created. Anything a map needs beyond that must
 * travel in the items, as the scale factor does here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <parmapper.h>

struct item {
    int64_t value;
    int64_t scale;
};

static int scale(const void *data, size_t len, uint64_t index, pm_sink *out,
                 void *user_data)
{
    struct item it;
    int64_t result;

    (void)index;
    (void)user_data;
    if (len != sizeof it)
        return 1; /* fails the item with a generic message */
    memcpy(&it, data, sizeof it);
    result = it.value * it.scale;
    return pm_sink_write(out, &result, sizeof result) == PM_OK ? 0 : 1;
}

/* One map on the pool; prints "[index] result" in the order they come. */
static int run(pm_pool *pool, const pm_options *opts, const char *label,
               const struct item *items, size_t count)
{
    pm_input *in;
    pm_map *map;
    uint64_t index;
    const void *data;
    size_t len;
    int64_t result;
    int rc;

    rc = pm_input_create_array(&in, items, sizeof items[0], count);
    if (rc == PM_OK)
        rc = pm_pool_map(&map, pool, opts, in); /* consumes in; no fork */
    if (rc != PM_OK) {
        fprintf(stderr, "%s: %s: %s\n", label, pm_status_str(rc), pm_last_error());
        return 1;
    }
    printf("%-10s", label);
    while ((rc = pm_map_next(map, &index, &data, &len)) == PM_OK) {
        memcpy(&result, data, sizeof result);
        printf(" [%" PRIu64 "]=%" PRId64, index, result);
    }
    printf("\n");
    if (rc != PM_DONE)
        fprintf(stderr, "%s: %s: %s\n", label, pm_status_str(rc), pm_map_error(map));
    pm_map_destroy(map); /* the pool is free for the next map */
    return rc == PM_DONE ? 0 : 1;
}

int main(void)
{
    struct item items[8];
    pm_options *opts;
    pm_pool *pool;
    int i, failed = 0;

    if (pm_options_create(&opts) != PM_OK)
        return 1;
    pm_options_set_processes(opts, 2);
    pm_options_set_chunk_size(opts, 1);
    if (pm_pool_create(&pool, opts, scale, NULL, NULL) != PM_OK) { /* forks */
        fprintf(stderr, "pool: %s\n", pm_last_error());
        pm_options_destroy(opts);
        return 1;
    }
    printf("pool of %" PRIu32 " worker processes\n", pm_pool_processes(pool));

    for (i = 0; i < 8; i++) {
        items[i].value = i;
        items[i].scale = 10;
    }
    failed |= run(pool, NULL, "x10", items, 8); /* NULL: the pool's options */

    for (i = 0; i < 8; i++)
        items[i].scale = -1;
    failed |= run(pool, NULL, "x-1", items, 8);

    /* Per-map options: results as they finish, not in input order. */
    pm_options_set_ordered(opts, 0);
    failed |= run(pool, opts, "unordered", items, 8);

    pm_options_destroy(opts);
    pm_pool_destroy(pool); /* workers exit and are reaped */
    return failed;
}
