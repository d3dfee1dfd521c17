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
    int start_method;           /* PM_START_FORK, PM_START_EXEC, or -1: the library's choice */
    int reset_crash_signals;    /* only for C work functions: Go needs its SIGSEGV handler */
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

/* pm_register_work() or pm_register_chunk_work() of the C function fn, of the
 * kind chunked says; on failure err gets the message. */
int pmgo_register_c(const char *name, void *fn, int chunked, void *user_data, char *err);
/* pm_register_work() of the trampoline that calls the Go work function
 * number id (pmgoWork); on failure err gets the message. */
int pmgo_register_go(const char *name, uintptr_t id, char *err);

/* pm_worker_serve() with the C environment's PARMAPPER_WORKER set to role
 * (when not NULL) first: Go keeps its own copy of the environment, from
 * which the binding removes the role so that processes a work function
 * starts do not take it. */
int pmgo_worker_serve(int argc, char **argv, const char *role);

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
