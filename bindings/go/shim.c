#include "shim.h"

#include <stdlib.h>
#include <string.h>

#include "_cgo_export.h"

/* Copies pm_last_error() into err: called in the same C call as the pm_
 * function that failed, on the same thread, before anything else can fail. */
static int keep_error(int rc, char *err)
{
    if (rc < 0 && rc != PM_EAGAIN && err) {
        const char *m = pm_last_error();
        size_t n = strlen(m);
        if (n > PMGO_ERR_LEN - 1)
            n = PMGO_ERR_LEN - 1;
        memcpy(err, m, n);
        err[n] = '\0';
    }
    return rc;
}

int pmgo_options_build(pm_options **out, const pmgo_opts *o, char *err)
{
    pm_options *opts = NULL;
    int rc;

    *out = NULL;
    err[0] = '\0';
    rc = pm_options_create(&opts);
    if (rc != PM_OK)
        return keep_error(rc, err);
/* Each setter names itself in its message already. */
#define SET(call)                                                                          \
    do {                                                                                   \
        rc = (call);                                                                       \
        if (rc != PM_OK) {                                                                 \
            keep_error(rc, err);                                                     \
            pm_options_destroy(opts);                                                      \
            return rc;                                                                     \
        }                                                                                  \
    } while (0)
    SET(pm_options_set_processes(opts, o->processes));
    SET(pm_options_set_threads(opts, o->threads));
    SET(pm_options_set_chunk_size(opts, o->chunk_size));
    SET(pm_options_set_ordered(opts, o->ordered));
    SET(pm_options_set_total(opts, o->total));
    SET(pm_options_set_error_mode(opts, o->error_mode));
    SET(pm_options_set_max_in_flight(opts, o->max_in_flight));
    SET(pm_options_set_item_timeout(opts, o->item_timeout_ms));
    SET(pm_options_set_retries(opts, o->retries));
    SET(pm_options_set_max_items_per_worker(opts, o->max_items_per_worker));
    SET(pm_options_set_max_worker_rss(opts, o->max_worker_rss));
    if (o->progress_bar)
        SET(pm_options_set_progress_bar(opts, 1, o->progress_label));
    /* Go's runtime handles SIGSEGV and friends and exits with status 2: a
     * crash in a C work function must be seen as its signal. Not for a Go
     * work function, whose nil dereference must stay a Go panic. */
    if (o->reset_crash_signals)
        SET(pm_options_set_reset_crash_signals(opts, 1));
    if (o->start_method >= 0)
        SET(pm_options_set_start_method(opts, o->start_method));
    SET(pm_options_set_error_buffer(opts, err, PMGO_ERR_LEN));
#undef SET
    *out = opts;
    return PM_OK;
}

int pmgo_input_packed(pm_input **out, const void *data, const size_t *lens, size_t count,
                      char *err)
{
    const void **items = NULL;
    const char *p = data;
    size_t i;
    int rc;

    if (count) {
        items = malloc(count * sizeof *items);
        if (!items) {
            strcpy(err, "parmapper: out of memory for the item table");
            return PM_ENOMEM;
        }
    }
    for (i = 0; i < count; i++) {
        items[i] = p;
        p += lens[i];
    }
    /* The two tables are copied by the call; the bytes stay where they are. */
    rc = pm_input_create_records(out, items, lens, count);
    keep_error(rc, err);
    free(items);
    return rc;
}

int pmgo_input_array(pm_input **out, const void *data, size_t record_size, size_t count,
                     char *err)
{
    return keep_error(pm_input_create_array(out, data, record_size, count), err);
}

static int pull_trampoline(pm_feed *feed, void *user_data)
{
    return pmgoPull((uintptr_t)user_data, feed);
}

static void pull_release(void *user_data)
{
    pmgoRelease((uintptr_t)user_data);
}

int pmgo_input_pull(pm_input **out, uintptr_t handle, char *err)
{
    return keep_error(pm_input_create_pull(out, pull_trampoline, (void *)handle, pull_release),
                      err);
}

int pmgo_register_c(const char *name, void *fn, int chunked, void *user_data, char *err)
{
    if (chunked)
        return keep_error(pm_register_chunk_work(name, (pm_chunk_fn)fn, user_data), err);
    return keep_error(pm_register_work(name, (pm_work_fn)fn, user_data), err);
}

/* The one C work function behind every Go work function: user_data is the
 * Go function's number in the binding's table of this very run (a worker's
 * own init() registered it, and the library gives a worker the user_data of
 * its own registration). */
static int go_work(const void *item, size_t len, uint64_t index, pm_sink *out, void *user_data)
{
    return pmgoWork((uintptr_t)user_data, (void *)item, len, index, out);
}

int pmgo_register_go(const char *name, uintptr_t id, char *err)
{
    return keep_error(pm_register_work(name, go_work, (void *)id), err);
}

int pmgo_worker_serve(int argc, char **argv, const char *role)
{
    if (role && setenv("PARMAPPER_WORKER", role, 1) != 0)
        return PM_ENOMEM;
    return pm_worker_serve(argc, argv);
}

int pmgo_map_next_batch(pm_map *map, size_t max, int timeout_ms, uint64_t *indices,
                        int *statuses, const void **data, size_t *lens, size_t *count,
                        char *err)
{
    int rc = pm_map_next_batch(map, max, timeout_ms, indices, statuses, data, lens, count);
    if (rc < 0 && rc != PM_EAGAIN && *count == 0)
        keep_error(rc, err);
    return rc;
}

int pmgo_feed_push_packed(pm_feed *feed, const void *data, const size_t *lens, size_t count,
                          char *err)
{
    return keep_error(pm_feed_push_packed(feed, data, lens, count), err);
}
