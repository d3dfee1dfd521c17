/* The C side of the Go binding: small functions that make one cgo call of
 * what would otherwise be several, and that read every error message inside
 * the C call that failed. pm_last_error() is per OS thread, and a goroutine
 * may move to another thread between two cgo calls, so a message read in a
 * later call may be another goroutine's. Not part of libparmapper. */
#ifndef PARMAPPER_GO_SHIM_H
#define PARMAPPER_GO_SHIM_H

#include <parmapper.h>
#include <stddef.h>
#include <stdint.h>

/* Room for one error message; longer ones are cut. */
#define PMGO_ERR_LEN 1024

/* The options the binding sets, in one struct so that building a pm_options
 * is one cgo call. Layout private to the binding. */
typedef struct pmgo_opts {
    uint32_t processes;
    uint32_t threads;
    size_t chunk_size;
    int ordered;
    uint64_t total;
    int error_mode;
    size_t max_in_flight;
    uint64_t item_timeout_ms;
    uint32_t retries;
    uint64_t max_items_per_worker;
    uint64_t max_worker_rss;
    int progress_bar;
    const char *progress_label; /* C memory or NULL */
} pmgo_opts;

/* Makes *out from o, with err (PMGO_ERR_LEN bytes of C memory, which must
 * outlive every creating call that uses *out) as its error buffer, and the
 * crash signals reset in workers. On failure *out is NULL and err holds the
 * message. */
int pmgo_options_build(pm_options **out, const pmgo_opts *o, char *err);

/* A records input over one malloc'd copy of the items: data is C memory the
 * caller allocated and filled (the items back to back, lens[i] bytes each),
 * and must free once the map is destroyed (also when this fails). */
int pmgo_input_packed(pm_input **out, const void *data, const size_t *lens, size_t count,
                      char *err);
/* A fixed-size records input over data (C memory, as above). */
int pmgo_input_array(pm_input **out, const void *data, size_t record_size, size_t count,
                     char *err);
/* A pull input whose callback is the Go function pmgoPull, with handle (a
 * runtime/cgo.Handle) as its user data; pmgoRelease(handle) runs once when
 * the input is freed, also when this fails. */
int pmgo_input_pull(pm_input **out, uintptr_t handle, char *err);

/* pm_map_create() or pm_map_create_chunked() with fn, a C function pointer of
 * the kind chunked says. The message of a failure goes to the options' error
 * buffer. */
int pmgo_map_create(pm_map **out, const pm_options *opts, pm_input *input, void *fn,
                    int chunked, void *user_data);
/* pm_pool_create() or pm_pool_create_chunked(), likewise. */
int pmgo_pool_create(pm_pool **out, const pm_options *opts, void *fn, int chunked,
                     void *user_data);

/* pm_map_next_batch(); when it fails without entries (PM_EINVAL, PM_ESTATE),
 * the message is copied to err in this same call. */
int pmgo_map_next_batch(pm_map *map, size_t max, int timeout_ms, uint64_t *indices,
                        int *statuses, const void **data, size_t *lens, size_t *count,
                        char *err);

/* Inside the pull callback: push count items packed in data (Go memory, only
 * read during the call); on failure err gets the message. */
int pmgo_feed_push_packed(pm_feed *feed, const void *data, const size_t *lens, size_t count,
                          char *err);

#endif
