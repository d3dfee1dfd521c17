/* A plain C99 consumer of the public header: maps items end to end through
 * array, records and pull inputs and checks every result. Built with
 * -std=c99 -pedantic -Wall -Wextra -Werror. Exits nonzero on any mismatch. */
#include <parmapper.h>

#include <stdio.h>
#include <string.h>

#if !PM_VERSION_AT_LEAST(0, 1, 0)
#error "PM_VERSION_AT_LEAST is broken"
#endif

static int failures = 0;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s (last error: %s)\n",  \
                    __FILE__, __LINE__, #cond, pm_last_error());           \
            ++failures;                                                    \
        }                                                                  \
    } while (0)

/* Result: the item (a uint32_t) squared, as a uint64_t, plus the index. */
static int square_work(const void *item, size_t len, uint64_t index,
                       pm_sink *out, void *user_data)
{
    uint32_t v;
    uint64_t r[2];
    (void)user_data;
    if (len != sizeof v) {
        pm_sink_set_error(out, "wrong item size");
        return 1;
    }
    memcpy(&v, item, sizeof v);
    r[0] = (uint64_t)v * v;
    r[1] = index;
    return pm_sink_write(out, r, sizeof r) == PM_OK ? 0 : 1;
}

/* Result: the item's length and bytes, reversed in place via reserve. */
static int reverse_work(const void *item, size_t len, uint64_t index,
                        pm_sink *out, void *user_data)
{
    const unsigned char *src = (const unsigned char *)item;
    unsigned char *dst;
    void *buf = NULL;
    uint64_t len64 = len;
    size_t i;
    (void)index;
    (void)user_data;
    if (pm_sink_write(out, &len64, sizeof len64) != PM_OK)
        return 1;
    if (pm_sink_reserve(out, len, &buf) != PM_OK)
        return 1;
    dst = (unsigned char *)buf;
    for (i = 0; i < len; ++i)
        dst[i] = src[len - 1 - i];
    return 0;
}

struct gen {
    uint32_t next;
    uint32_t count;
    int destroyed;
};

static int gen_fn(pm_feed *feed, void *user_data)
{
    struct gen *g = (struct gen *)user_data;
    uint32_t v;
    if (g->next == g->count)
        return PM_DONE;
    v = g->next * 3u + 1u;
    if (pm_feed_push(feed, &v, sizeof v) != PM_OK)
        return -1;
    ++g->next;
    return PM_OK;
}

static void gen_destroy(void *user_data)
{
    ((struct gen *)user_data)->destroyed++;
}

static int destroyed_maps = 0;
static void map_destroy(void *user_data)
{
    (void)user_data;
    destroyed_maps++;
}

/* Since 0.2: a background process's function; the result is the sum of
 * the uint32_t values user_data points at (its fork-time copy). */
static int sum_process(pm_sink *out, void *user_data)
{
    const uint32_t *v = (const uint32_t *)user_data;
    uint64_t sum = 0;
    uint32_t i;
    for (i = 0; i < 100; ++i)
        sum += v[i];
    return pm_sink_write(out, &sum, sizeof sum) == PM_OK ? 0 : 1;
}

static int failing_process(pm_sink *out, void *user_data)
{
    (void)user_data;
    pm_sink_set_error(out, "c99 failure");
    return 1;
}

/* Since 0.2: a row function for pm_pareval: out = (x0 + x1, x0 * x1, rows). */
static int rows_fn(const double *x, size_t rows, size_t ndim, double *y,
                   size_t out_width, void *user_data)
{
    size_t r;
    (void)user_data;
    if (ndim != 2 || out_width != 3)
        return 1;
    for (r = 0; r < rows; ++r) {
        y[r * 3] = x[r * 2] + x[r * 2 + 1];
        y[r * 3 + 1] = x[r * 2] * x[r * 2 + 1];
        y[r * 3 + 2] = (double)rows;
    }
    return 0;
}

/* Steps an ordered map of square_work; value(i) gives item i's value. */
static void check_square_map(pm_map *map, uint32_t count, uint32_t mul,
                             uint32_t add)
{
    uint64_t index = 0, r[2];
    const void *data = NULL;
    size_t len = 0;
    uint32_t i;
    int rc;
    for (i = 0; i < count; ++i) {
        uint64_t v = (uint64_t)i * mul + add;
        rc = pm_map_next(map, &index, &data, &len);
        CHECK(rc == PM_OK);
        if (rc != PM_OK)
            return;
        CHECK(index == i);
        CHECK(len == sizeof r);
        if (len != sizeof r)
            return;
        memcpy(r, data, sizeof r);
        CHECK(r[0] == v * v);
        CHECK(r[1] == i);
    }
    CHECK(pm_map_next(map, NULL, NULL, NULL) == PM_DONE);
    CHECK(strcmp(pm_map_error(map), "") == 0);
    CHECK(pm_map_next(map, NULL, NULL, NULL) == PM_ESTATE);
}

int main(void)
{
    enum { N = 10000 };
    static uint32_t values[N];
    pm_options *opts = NULL;
    pm_input *in = NULL;
    pm_map *map = NULL;
    pm_pool *pool = NULL;
    struct gen g = {0, 2000, 0};
    uint32_t i;

    CHECK(strcmp(pm_version_string(), PM_VERSION_STRING) == 0);
    CHECK(pm_version_number() == PM_VERSION_NUMBER);

    for (i = 0; i < N; ++i)
        values[i] = i * 7u + 5u;

    CHECK(pm_options_create(&opts) == PM_OK);
    CHECK(pm_options_set_processes(opts, 2) == PM_OK);
    CHECK(pm_options_set_threads(opts, 2) == PM_OK);
    CHECK(pm_options_set_chunk_size(opts, PM_CHUNK_AUTO) == PM_OK);
    CHECK(pm_options_set_ordered(opts, 1) == PM_OK);
    CHECK(pm_options_set_error_mode(opts, PM_ERRORS_RAISE) == PM_OK);
    CHECK(pm_options_set_threads(opts, 0) == PM_EINVAL);

    /* Array input. */
    CHECK(pm_input_create_array(&in, values, sizeof values[0], N) == PM_OK);
    if (pm_map_create(&map, opts, in, square_work, NULL, map_destroy) == PM_OK) {
        check_square_map(map, N, 7u, 5u);
        pm_map_destroy(map);
    } else {
        CHECK(!"pm_map_create (array)");
    }
    CHECK(destroyed_maps == 1);

    /* Pull input, with a total hint and a fixed chunk size. */
    CHECK(pm_options_set_total(opts, g.count) == PM_OK);
    CHECK(pm_options_set_chunk_size(opts, 16) == PM_OK);
    CHECK(pm_input_create_pull(&in, gen_fn, &g, gen_destroy) == PM_OK);
    if (pm_map_create(&map, opts, in, square_work, NULL, NULL) == PM_OK) {
        check_square_map(map, g.count, 3u, 1u);
        pm_map_destroy(map);
    } else {
        CHECK(!"pm_map_create (pull)");
    }
    CHECK(g.destroyed == 1);

    /* Variable-size records on a pool, twice. */
    {
        static const char *words[] = {"", "a", "parmapper", "", "C99 consumer"};
        const void *items[5];
        size_t lens[5];
        int round;
        for (i = 0; i < 5; ++i) {
            items[i] = words[i];
            lens[i] = strlen(words[i]);
        }
        CHECK(pm_pool_create(&pool, opts, reverse_work, NULL, NULL) == PM_OK);
        for (round = 0; pool && round < 2; ++round) {
            CHECK(pm_input_create_records(&in, items, lens, 5) == PM_OK);
            if (pm_pool_map(&map, pool, NULL, in) != PM_OK) {
                CHECK(!"pm_pool_map");
                break;
            }
            for (i = 0; i < 5; ++i) {
                uint64_t index = 99, len64;
                const void *data = NULL;
                size_t len = 0, j;
                int rc = pm_map_next(map, &index, &data, &len);
                CHECK(rc == PM_OK);
                CHECK(index == i);
                CHECK(len == sizeof len64 + lens[i]);
                if (rc != PM_OK || len != sizeof len64 + lens[i])
                    break;
                memcpy(&len64, data, sizeof len64);
                CHECK(len64 == lens[i]);
                for (j = 0; j < lens[i]; ++j)
                    CHECK(((const char *)data)[sizeof len64 + j] ==
                          words[i][lens[i] - 1 - j]);
            }
            CHECK(pm_map_next(map, NULL, NULL, NULL) == PM_DONE);
            pm_map_destroy(map);
        }
        pm_pool_destroy(pool);
    }

    /* Since 0.2: the progress bar (one line on stderr at the end). */
    CHECK(pm_options_set_progress_bar(opts, 1, "c99 consumer") == PM_OK);
    CHECK(pm_input_create_array(&in, values, sizeof values[0], 1000) == PM_OK);
    if (pm_map_create(&map, opts, in, square_work, NULL, NULL) == PM_OK) {
        check_square_map(map, 1000, 7u, 5u);
        pm_map_destroy(map);
    } else {
        CHECK(!"pm_map_create (progress bar)");
    }
    CHECK(pm_options_set_progress_bar(opts, 0, NULL) == PM_OK);
    CHECK(pm_options_set_progress_bar(NULL, 1, "x") == PM_EINVAL);

    /* Since 0.2: background processes. */
    {
        pm_process *p = NULL, *q = NULL;
        const void *data = NULL;
        size_t len = 0;
        uint64_t sum = 0, want = 0;
        for (i = 0; i < 100; ++i)
            want += values[i];
        CHECK(pm_process_start(&p, opts, sum_process, values, NULL) == PM_OK);
        CHECK(pm_process_start(&q, NULL, failing_process, NULL, NULL) == PM_OK);
        CHECK(pm_process_join(p, &data, &len) == PM_OK);
        CHECK(len == sizeof sum);
        if (len == sizeof sum) {
            memcpy(&sum, data, sizeof sum);
            CHECK(sum == want);
        }
        CHECK(strcmp(pm_process_error(p), "") == 0);
        CHECK(pm_process_join(q, NULL, NULL) == PM_EITEM);
        CHECK(strcmp(pm_process_error(q), "c99 failure") == 0);
        pm_process_destroy(p);
        pm_process_destroy(q);
        CHECK(pm_process_join(NULL, NULL, NULL) == PM_EINVAL);
        pm_process_destroy(NULL);
    }

    /* Since 0.2: pm_pareval over 101 rows in chunks of at most 10. */
    {
        static double x[101 * 2], y[101 * 3];
        size_t r;
        for (r = 0; r < 101; ++r) {
            x[r * 2] = (double)r;
            x[r * 2 + 1] = (double)r * 0.5;
        }
        CHECK(pm_pareval(opts, rows_fn, NULL, x, 101, 2, y, 3, 0, 10, 0) == PM_OK);
        for (r = 0; r < 101; ++r) {
            CHECK(y[r * 3] == x[r * 2] + x[r * 2 + 1]);
            CHECK(y[r * 3 + 1] == x[r * 2] * x[r * 2 + 1]);
            /* ceil(101 / 10) = 11 chunks: two of 10 rows, nine of 9. */
            CHECK(y[r * 3 + 2] == (r < 20 ? 10.0 : 9.0));
        }
        CHECK(pm_pareval(opts, rows_fn, NULL, x, 101, 2, y, 3, 4, 10, 0) == PM_EINVAL);
    }

    /* Bad arguments. */
    CHECK(pm_map_create(NULL, opts, NULL, NULL, NULL, NULL) == PM_EINVAL);
    CHECK(pm_map_next(NULL, NULL, NULL, NULL) == PM_EINVAL);
    CHECK(pm_status_str(PM_EINVAL) != NULL);
    pm_map_destroy(NULL);
    pm_pool_destroy(NULL);
    pm_input_destroy(NULL);

    pm_options_destroy(opts);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
