/*
 * The ceiling: a minimal hand-written fork+pipe worker pool in plain C, with
 * no library code, to measure libparmapper against what a careful C
 * programmer writes in an afternoon. N forked workers, one task pipe and one
 * result pipe each; the parent writes task messages (a header, and the
 * items' bytes unless the workers read them from their fork-time copy of the
 * input) without blocking, and reads result frames from every worker with
 * poll(). Several messages are in flight per worker (pipelined), and the
 * parent bounds the messages sent but not yet delivered, so memory stays
 * flat. Ordered delivery holds early frames until their turn (large frames
 * are handed over by pointer, not copied).
 *
 * Also here: the plain costs the benchmark puts beside the pools: raw pipe
 * bandwidth, memcpy bandwidth, and fork()+_exit()+waitpid() of N children.
 */
#ifndef PMBENCH_CEILING_H
#define PMBENCH_CEILING_H

#include <stddef.h>
#include <stdint.h>

#define CEIL_ENDLESS UINT64_MAX

/* The items of a chunk: count items of cfg->item_size bytes from index
 * first, contiguous. Return them in place (an array) or fill scratch, which
 * has room for a chunk, and return it (a generator). Runs in the parent, and
 * in a worker when the items' bytes are not sent (send_bytes 0): there it
 * reads the worker's fork-time copy of the input. */
typedef const void *(*ceil_items_fn)(uint64_t first, size_t count, void *scratch,
                                     void *ctx);
/* Work on one item, in a worker: write its result to out (room for
 * cfg->max_result bytes) and return the result's length. */
typedef size_t (*ceil_work_fn)(const void *item, size_t len, uint64_t index, void *out,
                               void *ctx);
/* One result, in the parent, in index order when ordered. Return 0 to go on,
 * 1 to stop early (the workers are then stopped), -1 for a wrong result. */
typedef int (*ceil_consume_fn)(uint64_t index, const void *res, size_t len, void *ctx);

struct ceil_cfg {
    unsigned workers;
    uint64_t count;      /* items, or CEIL_ENDLESS (stopped by consume) */
    size_t item_size;    /* bytes per item (all items alike) */
    size_t max_result;   /* bytes a result may take at most */
    size_t chunk;        /* items per task message: 1 = unbatched */
    unsigned depth;      /* task messages in flight per worker */
    int ordered;         /* deliver in index order */
    int send_bytes;      /* 1: items' bytes travel in the message; 0: indices only */
    ceil_items_fn items;
    ceil_work_fn work;
    ceil_consume_fn consume;
    void *ctx;           /* passed to the three callbacks */
};

/* Run the pool over cfg's items: fork the workers, feed them, deliver every
 * result, stop and reap the workers. Returns 0 when every item was delivered
 * (or consume stopped the run), -1 after printing why it failed (a worker
 * died, a bad frame, a system call failed, or consume reported a wrong
 * result). */
int ceil_run(const struct ceil_cfg *cfg);

/* Raw pipe bandwidth: a forked child writes total bytes, block bytes per
 * write(), into a pipe whose buffer is set to pipe_size (F_SETPIPE_SZ; 0
 * leaves the default), and this process read()s them into a block-sized
 * buffer. Returns the seconds from fork to reap, or -1. */
double ceil_pipe_seconds(size_t total, size_t block, size_t pipe_size);

/* memcpy of total bytes in block-sized copies between two block-sized
 * buffers (cache-warm, as a pipe's reader sees a block). Returns seconds. */
double ceil_memcpy_seconds(size_t total, size_t block);

/* The forks' own cost: fork n children that wait for end of file on a
 * pipe; *start gets the seconds of the n fork() calls, *stop the seconds
 * from closing the pipe to having reaped them all. Returns 0 or -1. */
int ceil_fork_cost(unsigned n, double *start, double *stop);

/* Start and stop of the hand-written pool with n idle workers: *start is
 * making the pipes and forking, *stop closing the task pipes (the workers
 * see end of file and _exit) and reaping. Returns 0 or -1. */
int ceil_pool_start_stop(unsigned n, double *start, double *stop);

double ceil_now(void);

#endif /* PMBENCH_CEILING_H */
