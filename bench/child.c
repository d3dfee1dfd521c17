/*
 * The measuring side of pmbench (see child.h): one row, one run. Every way
 * of a workload runs the same work (work.h) and hands its results to the
 * same consume(), which checks each of them; a wrong result fails the run.
 *
 * Ways: serial (a plain loop), ceil (the hand-written pool, ceiling.h), capi
 * (libparmapper's C API), cpp (the C++ layer, cpp_rows.cpp), and for some
 * workloads pipe, memcpy and forks (the plain costs beside them).
 */
#define _GNU_SOURCE

#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <parmapper.h>

#include "ceiling.h"
#include "work.h"

struct child_params child_params = {UINT64_MAX, PMB_CPU_SPAN, (size_t)1 << 20, 8};

enum { WL_TRIVIAL, WL_CPU, WL_BIG, WL_MEMORY, WL_SIZES };

/* Where results go, shared by every way of a workload. */
struct sink {
    int wl;
    int ordered;
    uint64_t n;          /* items expected (UINT64_MAX: endless) */
    uint64_t stop_after; /* endless: stop after this many results (0: never) */
    uint64_t delivered;
    uint64_t *results;   /* trivial, cpu: kept at their index */
    long rss_early;      /* memory: peak when a tenth of stop_after was reached */
};

static int wrong(const char *what, uint64_t index)
{
    fprintf(stderr, "pmbench: %s: wrong result for item %" PRIu64 "\n", what, index);
    return -1;
}

/* One result. 0: go on; 1: stop (endless input done); -1: wrong. */
static int consume(uint64_t index, const void *res, size_t len, void *ctx)
{
    struct sink *s = ctx;
    uint64_t v = 0;

    if (index >= s->n || (s->ordered && index != s->delivered))
        return wrong("out of order or out of range", index);
    if (s->wl != WL_BIG) {
        if (len != sizeof v)
            return wrong("length", index);
        memcpy(&v, res, sizeof v);
    }
    switch (s->wl) {
    case WL_TRIVIAL:
    case WL_CPU:
        s->results[index] = v;
        break;
    case WL_MEMORY:
        if (v != pmb_trivial(index))
            return wrong("x*2+1", index);
        break;
    case WL_BIG:
        if (len != child_params.rsize || pmb_big_check(res, len, index) != 0)
            return wrong("1 MiB result", index);
        break;
    case WL_SIZES:
        if (v != pmb_item_expected(child_params.size, index))
            return wrong("item sum", index);
        break;
    }
    s->delivered++;
    if (s->stop_after) {
        if (s->delivered == s->stop_after / 10)
            s->rss_early = bench_peak_rss_kib();
        if (s->delivered >= s->stop_after)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The work, as libparmapper's work functions. */

static int lib_trivial(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    uint64_t x;

    (void)len;
    (void)ud;
    memcpy(&x, item, sizeof x);
    x = pmb_trivial(x);
    if (index == child_params.wrong)
        x ^= 1;
    return pm_sink_write(out, &x, sizeof x) != PM_OK;
}

static int lib_cpu(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    uint64_t x;

    (void)len;
    (void)ud;
    memcpy(&x, item, sizeof x);
    x = pmb_cpu_fn(x, child_params.span);
    if (index == child_params.wrong)
        x ^= 1;
    return pm_sink_write(out, &x, sizeof x) != PM_OK;
}

static int lib_big(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    void *buf;

    (void)item;
    (void)len;
    (void)ud;
    if (pm_sink_reserve(out, child_params.rsize, &buf) != PM_OK)
        return 1;
    pmb_big_fill(buf, child_params.rsize, index);
    if (index == child_params.wrong)
        ((unsigned char *)buf)[0] ^= 1;
    return 0;
}

static int lib_sizes(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    uint64_t x;

    (void)ud;
    x = pmb_item_sum(item, len);
    if (index == child_params.wrong)
        x ^= 1;
    return pm_sink_write(out, &x, sizeof x) != PM_OK;
}

/* The same work for the hand-written pool. */

static size_t ceil_trivial(const void *item, size_t len, uint64_t index, void *out, void *ctx)
{
    uint64_t x;

    (void)len;
    (void)ctx;
    memcpy(&x, item, sizeof x);
    x = pmb_trivial(x);
    if (index == child_params.wrong)
        x ^= 1;
    memcpy(out, &x, sizeof x);
    return sizeof x;
}

static size_t ceil_cpu(const void *item, size_t len, uint64_t index, void *out, void *ctx)
{
    uint64_t x;

    (void)len;
    (void)ctx;
    memcpy(&x, item, sizeof x);
    x = pmb_cpu_fn(x, child_params.span);
    if (index == child_params.wrong)
        x ^= 1;
    memcpy(out, &x, sizeof x);
    return sizeof x;
}

static size_t ceil_big(const void *item, size_t len, uint64_t index, void *out, void *ctx)
{
    (void)item;
    (void)len;
    (void)ctx;
    pmb_big_fill(out, child_params.rsize, index);
    if (index == child_params.wrong)
        ((unsigned char *)out)[0] ^= 1;
    return child_params.rsize;
}

static size_t ceil_sizes(const void *item, size_t len, uint64_t index, void *out, void *ctx)
{
    uint64_t x = pmb_item_sum(item, len);

    (void)ctx;
    if (index == child_params.wrong)
        x ^= 1;
    memcpy(out, &x, sizeof x);
    return sizeof x;
}

/* ------------------------------------------------------------------------ */
/* Item sources. */

struct source {
    const unsigned char *base; /* an array of records, or NULL: generate uint64 i */
    size_t size;
    struct sink *sink;
};

static const void *ceil_items(uint64_t first, size_t count, void *scratch, void *ctx)
{
    struct source *src = ctx;
    size_t i;

    if (src->base)
        return src->base + first * src->size;
    for (i = 0; i < count; i++) {
        uint64_t v = first + i;
        memcpy((unsigned char *)scratch + i * sizeof v, &v, sizeof v);
    }
    return scratch;
}

static int ceil_consume(uint64_t index, const void *res, size_t len, void *ctx)
{
    return consume(index, res, len, ((struct source *)ctx)->sink);
}

/* A generator, one item per call, as a caller that produces items one by
 * one would write it: from an array, or counting. */
struct cursor {
    const unsigned char *base;
    size_t size;
    uint64_t next, n; /* n UINT64_MAX: endless */
};

static int lib_pull(pm_feed *feed, void *user_data)
{
    struct cursor *c = user_data;

    if (c->next == c->n)
        return PM_DONE;
    if (c->base) {
        const unsigned char *p = c->base + c->next * c->size;
        c->next++;
        return pm_feed_push(feed, p, c->size);
    }
    {
        uint64_t v = c->next++;
        return pm_feed_push(feed, &v, sizeof v);
    }
}

/* ------------------------------------------------------------------------ */
/* Runners. */

struct ceil_way {
    unsigned workers;
    uint64_t count;
    size_t item_size, max_result, chunk;
    unsigned depth;
    int send_bytes;
    ceil_work_fn work;
};

static int run_ceiling(const struct ceil_way *w, struct source *src)
{
    struct ceil_cfg cfg;

    memset(&cfg, 0, sizeof cfg);
    cfg.workers = w->workers;
    cfg.count = w->count;
    cfg.item_size = w->item_size;
    cfg.max_result = w->max_result;
    cfg.chunk = w->chunk;
    cfg.depth = w->depth;
    cfg.ordered = src->sink->ordered;
    cfg.send_bytes = w->send_bytes;
    cfg.items = ceil_items;
    cfg.work = w->work;
    cfg.consume = ceil_consume;
    cfg.ctx = src;
    return ceil_run(&cfg);
}

struct lib_way {
    uint32_t processes;   /* 0: the library's default */
    size_t chunk;         /* PM_CHUNK_AUTO */
    const char *input;    /* array, records, pull */
    int set_options;      /* 0: NULL options (all defaults) */
    pm_work_fn work;
    const void *const *recs;
    const size_t *lens;
    size_t batch;         /* 0: pm_map_next(); else pm_map_next_batch() of this many */
};

/* The results through pm_map_next_batch(): 1 if consume() stopped early,
 * 0 at the end, -1 on a failure. */
static int drain_batched(pm_map *map, size_t batch, struct sink *s)
{
    uint64_t indices[256];
    int statuses[256];
    const void *data[256];
    size_t lens[256], count, i;
    int rc;

    if (batch > 256)
        batch = 256;
    while ((rc = pm_map_next_batch(map, batch, -1, indices, statuses, data, lens, &count)) ==
               PM_OK ||
           (rc == PM_DONE && count > 0)) {
        for (i = 0; i < count; i++) {
            int c;
            if (statuses[i] != PM_OK) {
                fprintf(stderr, "pmbench: item %" PRIu64 " failed: %s\n", indices[i],
                        pm_map_entry_error(map, i));
                return -1;
            }
            c = consume(indices[i], data[i], lens[i], s);
            if (c != 0)
                return c;
        }
        if (rc == PM_DONE)
            return 0;
    }
    if (rc != PM_DONE) {
        fprintf(stderr, "pmbench: map failed: %s: %s\n", pm_status_str(rc), pm_map_error(map));
        return -1;
    }
    return 0;
}

static int run_capi(const struct lib_way *w, const unsigned char *base, size_t size, uint64_t n,
                    struct sink *s)
{
    pm_options *opts = NULL;
    pm_input *in = NULL;
    pm_map *map = NULL;
    uint64_t index;
    const void *data;
    size_t len;
    int rc = PM_OK, stopped = 0;

    if (w->set_options) {
        rc = pm_options_create(&opts);
        if (rc == PM_OK && w->processes)
            rc = pm_options_set_processes(opts, w->processes);
        if (rc == PM_OK)
            rc = pm_options_set_chunk_size(opts, w->chunk);
        if (rc == PM_OK)
            rc = pm_options_set_ordered(opts, s->ordered);
    }
    if (rc == PM_OK) {
        if (strcmp(w->input, "pull") == 0) {
            struct cursor *cur = malloc(sizeof *cur);
            if (!cur) {
                rc = PM_ENOMEM;
            } else {
                cur->base = base;
                cur->size = size;
                cur->next = 0;
                cur->n = n;
                rc = pm_input_create_pull(&in, lib_pull, cur, free);
            }
        } else if (strcmp(w->input, "records") == 0) {
            rc = pm_input_create_records(&in, w->recs, w->lens, (size_t)n);
        } else {
            rc = pm_input_create_array(&in, base, size, (size_t)n);
        }
    }
    if (rc == PM_OK)
        rc = pm_map_create(&map, opts, in, w->work, NULL, NULL);
    pm_options_destroy(opts);
    if (rc != PM_OK) {
        fprintf(stderr, "pmbench: %s: %s\n", pm_status_str(rc), pm_last_error());
        return -1;
    }
    if (w->batch) {
        int c = drain_batched(map, w->batch, s);
        pm_map_destroy(map);
        return c < 0 ? -1 : 0;
    }
    while ((rc = pm_map_next(map, &index, &data, &len)) == PM_OK) {
        int c = consume(index, data, len, s);
        if (c < 0) {
            pm_map_destroy(map);
            return -1;
        }
        if (c > 0) {
            stopped = 1;
            break;
        }
    }
    if (!stopped && rc != PM_DONE) {
        fprintf(stderr, "pmbench: map failed: %s: %s\n", pm_status_str(rc), pm_map_error(map));
        pm_map_destroy(map);
        return -1;
    }
    pm_map_destroy(map);
    return 0;
}

static unsigned online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (unsigned)n : 1;
}

static uint64_t *index_array(uint64_t n)
{
    uint64_t *items = malloc((size_t)(n ? n : 1) * sizeof *items);
    uint64_t i;

    if (!items) {
        fprintf(stderr, "pmbench: out of memory\n");
        exit(1);
    }
    for (i = 0; i < n; i++)
        items[i] = i;
    return items;
}

/* Room for n results, every page already written: a first touch costs a
 * page fault per 512 results, which the timed region should not count. */
static uint64_t *result_array(uint64_t n)
{
    uint64_t *results = malloc((size_t)(n ? n : 1) * sizeof *results);

    if (!results) {
        fprintf(stderr, "pmbench: out of memory\n");
        exit(1);
    }
    memset(results, 0xff, (size_t)(n ? n : 1) * sizeof *results);
    return results;
}

static int unknown_way(const char *workload, const char *way)
{
    fprintf(stderr, "pmbench: workload %s has no way %s\n", workload, way);
    return 1;
}

static int count_check(const struct sink *s, uint64_t n, const char *what)
{
    if (s->delivered != n) {
        fprintf(stderr, "pmbench: %s: %" PRIu64 " results of %" PRIu64 "\n", what, s->delivered,
                n);
        return -1;
    }
    return 0;
}

/* Workload 1 (and the shape of the others): trivial items from an array. */
static int child_trivial(const char *way, const struct bench_args *a, struct bench_res *res)
{
    uint64_t n = bench_arg_u64(a, "n", 1000000);
    unsigned p = (unsigned)bench_arg_u64(a, "p", online_cpus());
    uint64_t *items = index_array(n);
    uint64_t *results = result_array(n);
    struct sink s;
    struct source src;
    double t0;
    uint64_t i;
    int rc = 0;

    memset(&s, 0, sizeof s);
    s.wl = WL_TRIVIAL;
    s.ordered = (int)bench_arg_u64(a, "ordered", 1);
    s.n = n;
    s.results = results;
    src.base = (const unsigned char *)items;
    src.size = sizeof *items;
    src.sink = &s;
    res->rss_start = (double)bench_rss_kib();
    t0 = bench_now();
    if (strcmp(way, "serial") == 0) {
        for (i = 0; i < n; i++)
            results[i] = pmb_trivial(items[i]);
        s.delivered = n;
    } else if (strcmp(way, "ceil") == 0) {
        struct ceil_way w = {p, n, 8, 8, (size_t)bench_arg_u64(a, "chunk", 1000),
                             (unsigned)bench_arg_u64(a, "depth", 2),
                             (int)bench_arg_u64(a, "bytes", 0), ceil_trivial};
        rc = run_ceiling(&w, &src);
    } else if (strcmp(way, "capi") == 0) {
        struct lib_way w = {p, (size_t)bench_arg_u64(a, "chunk", PM_CHUNK_AUTO),
                            bench_arg_str(a, "input", "array"), 1, lib_trivial, NULL, NULL,
                            (size_t)bench_arg_u64(a, "batch", 0)};
        rc = run_capi(&w, src.base, src.size, n, &s);
    } else {
        return unknown_way("trivial", way);
    }
    res->seconds = bench_now() - t0;
    res->rss_peak = (double)bench_peak_rss_kib();
    if (rc != 0 || count_check(&s, n, way) != 0)
        return 1;
    for (i = 0; i < n; i++)
        if (results[i] != pmb_trivial(i)) {
            wrong(way, i);
            return 1;
        }
    res->items = (double)n;
    free(items);
    free(results);
    return 0;
}

/* Workload 2: CPU-bound items, about 1 ms each. */
static int child_cpu(const char *way, const struct bench_args *a, struct bench_res *res)
{
    uint64_t n = bench_arg_u64(a, "n", 4000);
    unsigned p = (unsigned)bench_arg_u64(a, "p", online_cpus());
    uint64_t *items = index_array(n);
    uint64_t *results = result_array(n);
    uint64_t i, h = PMB_DIGEST_INIT;
    struct sink s;
    struct source src;
    double t0;
    int rc = 0;

    memset(&s, 0, sizeof s);
    s.wl = WL_CPU;
    s.ordered = 1;
    s.n = n;
    s.results = results;
    src.base = (const unsigned char *)items;
    src.size = sizeof *items;
    src.sink = &s;
    t0 = bench_now();
    if (strcmp(way, "serial") == 0) {
        for (i = 0; i < n; i++)
            results[i] = pmb_cpu_fn(items[i], child_params.span);
        s.delivered = n;
    } else if (strcmp(way, "ceil") == 0) {
        struct ceil_way w = {p, n, 8, 8, (size_t)bench_arg_u64(a, "chunk", 1),
                             (unsigned)bench_arg_u64(a, "depth", 2), 0, ceil_cpu};
        rc = run_ceiling(&w, &src);
    } else if (strcmp(way, "capi") == 0) {
        struct lib_way w = {p, PM_CHUNK_AUTO, "array", 1, lib_cpu, NULL, NULL, 0};
        rc = run_capi(&w, src.base, src.size, n, &s);
    } else {
        return unknown_way("cpu", way);
    }
    res->seconds = bench_now() - t0;
    if (rc != 0 || count_check(&s, n, way) != 0)
        return 1;
    for (i = 0; i < n; i++)
        h = pmb_digest(h, results[i]);
    res->digest = h;
    res->items = (double)n;
    free(items);
    free(results);
    return 0;
}

/* Workload 3: large results (1 MiB each). */
static int child_big(const char *way, const struct bench_args *a, struct bench_res *res)
{
    uint64_t n = bench_arg_u64(a, "n", 1024);
    unsigned p = (unsigned)bench_arg_u64(a, "p", online_cpus());
    size_t rsize = child_params.rsize;
    uint64_t *items = index_array(n);
    struct sink s;
    struct source src;
    double t0;
    uint64_t i;
    int rc = 0;

    memset(&s, 0, sizeof s);
    s.wl = WL_BIG;
    s.ordered = 1;
    s.n = n;
    src.base = (const unsigned char *)items;
    src.size = sizeof *items;
    src.sink = &s;
    res->rss_start = (double)bench_rss_kib();
    if (strcmp(way, "pipe") == 0) {
        res->seconds = ceil_pipe_seconds((size_t)n * rsize, rsize, (size_t)1 << 20);
        rc = res->seconds < 0;
        s.delivered = n;
    } else if (strcmp(way, "memcpy") == 0) {
        res->seconds = ceil_memcpy_seconds((size_t)n * rsize, rsize);
        rc = res->seconds < 0;
        s.delivered = n;
    } else {
        t0 = bench_now();
        if (strcmp(way, "serial") == 0) {
            unsigned char *buf = malloc(rsize);
            if (!buf)
                return 1;
            for (i = 0; i < n && rc == 0; i++) {
                pmb_big_fill(buf, rsize, i);
                rc = consume(i, buf, rsize, &s) < 0;
            }
            free(buf);
        } else if (strcmp(way, "ceil") == 0) {
            struct ceil_way w = {p, n, 8, rsize, (size_t)bench_arg_u64(a, "chunk", 1),
                                 (unsigned)bench_arg_u64(a, "depth", 2), 0, ceil_big};
            rc = run_ceiling(&w, &src);
        } else if (strcmp(way, "capi") == 0) {
            /* The default options: NULL, unless a process count is asked for. */
            struct lib_way w = {p, PM_CHUNK_AUTO, "array", bench_arg_str(a, "p", NULL) != NULL,
                                lib_big, NULL, NULL, 0};
            rc = run_capi(&w, src.base, src.size, n, &s);
        } else {
            return unknown_way("big", way);
        }
        res->seconds = bench_now() - t0;
    }
    res->rss_peak = (double)bench_peak_rss_kib();
    if (rc != 0 || count_check(&s, n, way) != 0)
        return 1;
    res->items = (double)n;
    res->bytes = (double)n * (double)rsize;
    free(items);
    return 0;
}

static int noop_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    (void)item;
    (void)len;
    (void)index;
    (void)out;
    (void)ud;
    return 0;
}

/* mib MiB of this process's memory, every page written, as a big parent
 * has it. */
static unsigned char *touched(uint64_t mib)
{
    unsigned char *big;

    if (mib == 0)
        return NULL;
    big = malloc((size_t)mib << 20);
    if (!big) {
        fprintf(stderr, "pmbench: cannot allocate %" PRIu64 " MiB\n", mib);
        exit(1);
    }
    memset(big, 1, (size_t)mib << 20);
    return big;
}

/* Workload 4: pool start and stop. */
static int child_start(const char *way, const struct bench_args *a, struct bench_res *res)
{
    unsigned n = (unsigned)bench_arg_u64(a, "p", 2);
    unsigned cycles = (unsigned)bench_arg_u64(a, "cycles", 3), c;
    uint64_t mib = bench_arg_u64(a, "mib", 0);
    unsigned char *big = touched(mib);
    double start[65], stop[65], total[65];

    if (cycles == 0 || cycles > 64)
        cycles = 3;
    res->rss_start = (double)bench_rss_kib();
    /* Cycle 0 warms up and is not counted. */
    for (c = 0; c <= cycles; c++) {
        if (strcmp(way, "forks") == 0) {
            if (ceil_fork_cost(n, &start[c], &stop[c]) != 0)
                return 1;
        } else if (strcmp(way, "ceil") == 0) {
            if (ceil_pool_start_stop(n, &start[c], &stop[c]) != 0)
                return 1;
        } else if (strcmp(way, "capi") == 0) {
            pm_options *opts = NULL;
            pm_pool *pool = NULL;
            double t0 = bench_now(), t1;
            int rc = pm_options_create(&opts);
            if (rc == PM_OK)
                rc = pm_options_set_processes(opts, n);
            if (rc == PM_OK)
                rc = pm_pool_create(&pool, opts, noop_work, NULL, NULL);
            pm_options_destroy(opts);
            t1 = bench_now();
            if (rc != PM_OK) {
                fprintf(stderr, "pmbench: pm_pool_create: %s: %s\n", pm_status_str(rc),
                        pm_last_error());
                return 1;
            }
            if (pm_pool_processes(pool) != n) {
                fprintf(stderr, "pmbench: the pool has %u processes, not %u\n",
                        pm_pool_processes(pool), n);
                return 1;
            }
            pm_pool_destroy(pool);
            start[c] = t1 - t0;
            stop[c] = bench_now() - t1;
        } else {
            return unknown_way("start", way);
        }
        total[c] = start[c] + stop[c];
    }
    res->start = bench_median(start + 1, cycles);
    res->stop = bench_median(stop + 1, cycles);
    res->seconds = bench_median(total + 1, cycles);
    res->rss_peak = (double)bench_peak_rss_kib();
    if (big && big[((size_t)mib << 20) - 1] != 1)
        return 1;
    free(big);
    return 0;
}

/* Workload 5: the caller's peak memory over a long or endless input. */
static int child_memory(const char *way, const struct bench_args *a, struct bench_res *res)
{
    uint64_t n = bench_arg_u64(a, "n", 0); /* 0: endless */
    uint64_t stop = bench_arg_u64(a, "stop", 30000000);
    unsigned p = (unsigned)bench_arg_u64(a, "p", online_cpus());
    const char *input = bench_arg_str(a, "input", "pull");
    uint64_t *items = NULL;
    uint64_t count = n ? n : UINT64_MAX;
    struct sink s;
    struct source src;
    double t0;
    int rc = 0;

    memset(&s, 0, sizeof s);
    s.wl = WL_MEMORY;
    s.ordered = 1;
    s.n = count;
    s.stop_after = n ? 0 : stop;
    if (strcmp(input, "array") == 0) {
        if (!n)
            return 1;
        items = index_array(n);
    }
    src.base = (const unsigned char *)items;
    src.size = sizeof(uint64_t);
    src.sink = &s;
    res->rss_start = (double)bench_rss_kib();
    t0 = bench_now();
    if (strcmp(way, "serial") == 0) {
        uint64_t i;
        for (i = 0; i < count; i++) {
            uint64_t v = pmb_trivial(i);
            int c = consume(i, &v, sizeof v, &s);
            if (c < 0)
                return 1;
            if (c > 0)
                break;
        }
    } else if (strcmp(way, "ceil") == 0) {
        struct ceil_way w = {p, count, 8, 8, (size_t)bench_arg_u64(a, "chunk", 1000),
                             (unsigned)bench_arg_u64(a, "depth", 2), 1, ceil_trivial};
        rc = run_ceiling(&w, &src);
    } else if (strcmp(way, "capi") == 0) {
        struct lib_way w = {p, PM_CHUNK_AUTO, input, 1, lib_trivial, NULL, NULL, 0};
        rc = run_capi(&w, src.base, src.size, count, &s);
    } else {
        return unknown_way("memory", way);
    }
    res->seconds = bench_now() - t0;
    res->rss_peak = (double)bench_peak_rss_kib();
    if (s.rss_early)
        res->rss_early = (double)s.rss_early;
    if (rc != 0 || count_check(&s, n ? n : stop, way) != 0)
        return 1;
    res->items = (double)s.delivered;
    free(items);
    return 0;
}

/* Workload 6: item sizes from 8 bytes to 1 MiB. */
static int child_sizes(const char *way, const struct bench_args *a, struct bench_res *res)
{
    size_t size = child_params.size;
    uint64_t n = bench_arg_u64(a, "n", 1000);
    unsigned p = (unsigned)bench_arg_u64(a, "p", online_cpus());
    const char *input = bench_arg_str(a, "input", "array");
    unsigned char *items = malloc((size_t)n * size);
    const void **recs = NULL;
    size_t *lens = NULL;
    struct sink s;
    struct source src;
    double t0;
    uint64_t i;
    int rc = 0;

    if (!items || size % 8 != 0 || size == 0) {
        fprintf(stderr, "pmbench: sizes: bad size or out of memory\n");
        return 1;
    }
    pmb_items_fill(items, size, n);
    if (strcmp(input, "records") == 0) {
        recs = malloc((size_t)n * sizeof *recs);
        lens = malloc((size_t)n * sizeof *lens);
        if (!recs || !lens)
            return 1;
        for (i = 0; i < n; i++) {
            recs[i] = items + i * size;
            lens[i] = size;
        }
    }
    memset(&s, 0, sizeof s);
    s.wl = WL_SIZES;
    s.ordered = 1;
    s.n = n;
    src.base = items;
    src.size = size;
    src.sink = &s;
    res->rss_start = (double)bench_rss_kib();
    t0 = bench_now();
    if (strcmp(way, "serial") == 0) {
        for (i = 0; i < n; i++) {
            uint64_t v = pmb_item_sum(items + i * size, size);
            if (consume(i, &v, sizeof v, &s) != 0)
                return 1;
        }
    } else if (strcmp(way, "ceil") == 0) {
        struct ceil_way w = {p, n, size, 8, (size_t)bench_arg_u64(a, "chunk", 1),
                             (unsigned)bench_arg_u64(a, "depth", 2),
                             (int)bench_arg_u64(a, "bytes", 0), ceil_sizes};
        rc = run_ceiling(&w, &src);
    } else if (strcmp(way, "capi") == 0) {
        struct lib_way w = {p, PM_CHUNK_AUTO, input, 1, lib_sizes,
                            (const void *const *)recs, lens, 0};
        rc = run_capi(&w, items, size, n, &s);
    } else {
        return unknown_way("sizes", way);
    }
    res->seconds = bench_now() - t0;
    res->rss_peak = (double)bench_peak_rss_kib();
    if (rc != 0 || count_check(&s, n, way) != 0)
        return 1;
    res->items = (double)n;
    res->bytes = (double)n * (double)size;
    free(items);
    free(recs);
    free(lens);
    return 0;
}

#if !PMBENCH_HAVE_CPP
int cpp_child(const char *workload, const struct bench_args *args, struct bench_res *res)
{
    (void)args;
    (void)res;
    fprintf(stderr, "pmbench: %s: the C++ layer's rows are not built (no cereal)\n", workload);
    return 1;
}
#endif

/* Zero this process's peak resident size (VmHWM), so that the timed run's
 * peak is its own and not the warm-up's (Linux 4.0 and later). */
static void reset_peak_rss(void)
{
    int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

    if (fd >= 0) {
        if (write(fd, "5", 1) != 1)
            fprintf(stderr, "pmbench: cannot reset the peak RSS: %s\n", strerror(errno));
        close(fd);
    }
}

static int run_workload(const char *workload, const char *way, const struct bench_args *args,
                        struct bench_res *res)
{
    if (strcmp(way, "cpp") == 0)
        return cpp_child(workload, args, res);
    if (strcmp(workload, "trivial") == 0)
        return child_trivial(way, args, res);
    if (strcmp(workload, "cpu") == 0)
        return child_cpu(way, args, res);
    if (strcmp(workload, "big") == 0)
        return child_big(way, args, res);
    if (strcmp(workload, "start") == 0)
        return child_start(way, args, res);
    if (strcmp(workload, "memory") == 0)
        return child_memory(way, args, res);
    if (strcmp(workload, "sizes") == 0)
        return child_sizes(way, args, res);
    fprintf(stderr, "pmbench: unknown workload %s\n", workload);
    return 2;
}

/* The warm-up run's item count: a small map of the same kind, so that the
 * timed run does not pay what only a process's first map pays (lazy symbol
 * binding, the library's one-time set-up, first-touch of the allocator). */
static uint64_t warm_items(const char *workload, const struct bench_args *a)
{
    uint64_t n = bench_arg_u64(a, "n", 0);

    if (strcmp(workload, "memory") == 0 && n == 0)
        n = bench_arg_u64(a, "stop", 10000);
    if (strcmp(workload, "cpu") == 0 || strcmp(workload, "big") == 0)
        return n < 4 ? n : 4;
    if (strcmp(workload, "sizes") == 0)
        return n < 64 ? n : 64;
    return n < 10000 ? n : 10000;
}

int child_main(int argc, char **argv)
{
    struct bench_args args, warm;
    struct bench_res res;
    const char *workload, *way;
    char *warm_argv[64], warm_n[40];
    int rc, i;

    if (argc < 2 || argc > 60) {
        fprintf(stderr, "usage: pmbench --child WORKLOAD WAY [key=value...]\n");
        return 2;
    }
    workload = argv[0];
    way = argv[1];
    args.argc = argc - 2;
    args.argv = argv + 2;
    /* A worker that dies must fail the run, not kill it with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    child_params.wrong = bench_arg_u64(&args, "wrong", UINT64_MAX);
    child_params.span = (uint32_t)bench_arg_u64(&args, "span", PMB_CPU_SPAN);
    child_params.rsize = (size_t)bench_arg_u64(&args, "rsize", (size_t)1 << 20);
    child_params.size = (size_t)bench_arg_u64(&args, "size", 8);
    if (child_params.rsize % 8 != 0) {
        fprintf(stderr, "pmbench: rsize must be a multiple of 8\n");
        return 2;
    }

    /* exec=1: the library's maps and pools start their workers by exec
     * (set before any of them, while this process has one thread). */
    if (bench_arg_u64(&args, "exec", 0))
        setenv("PARMAPPER_START", "exec", 1);

    /* The warm-up: the same way over a few items (workload start warms up
     * itself: it times several cycles). Its results are checked too. The
     * smoke run skips it (warm=0). */
    if (strcmp(workload, "start") != 0 && bench_arg_u64(&args, "warm", 1)) {
        warm.argc = 0;
        warm.argv = warm_argv;
        for (i = 0; i < args.argc; i++)
            if (strncmp(args.argv[i], "n=", 2) != 0)
                warm_argv[warm.argc++] = args.argv[i];
        snprintf(warm_n, sizeof warm_n, "n=%" PRIu64, warm_items(workload, &args));
        warm_argv[warm.argc++] = warm_n;
        bench_res_init(&res);
        rc = run_workload(workload, way, &warm, &res);
        if (rc != 0)
            return rc;
        reset_peak_rss();
    }
    bench_res_init(&res);
    rc = run_workload(workload, way, &args, &res);
    if (rc == 0)
        bench_res_print(&res);
    return rc;
}
