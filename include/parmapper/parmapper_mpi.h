/* libparmapper-mpi: the same maps over the ranks of an MPI job (since 0.3).
 *
 * Link with `pkg-config --cflags --libs parmapper-mpi` and run the program
 * under mpirun. Rank 0 runs the program; every other rank serves items:
 *
 *     int main(int argc, char **argv)
 *     {
 *         pm_register_work("square", square, NULL);   (in every rank)
 *         pm_worker_serve(argc, argv);   (first thing: ranks 1.. serve here
 *                                         and leave when rank 0 is done)
 *         ... rank 0's program: pm_mpi_map_create() or pm_mpi_pool_create(),
 *             then pm_map_next() as for any map ...
 *         pm_mpi_finalize();             (or return from main: it runs at exit)
 *     }
 *
 * pm_worker_serve() finds this library in the program when it runs under
 * mpirun (Open MPI's or a PMIx launcher's environment) and calls MPI_Init
 * there, on every rank, with MPI_THREAD_SERIALIZED; the program must not
 * call MPI_Init itself, and may use MPI on rank 0 afterwards (the library
 * talks on a communicator of its own, from one thread at a time, and needs
 * MPI_THREAD_SERIALIZED from the program too: no MPI call of the program
 * while a map runs, unless MPI provides MPI_THREAD_MULTIPLE).
 *
 * A map over MPI is a map over a pool of stream workers
 * (pm_pool_create_streams()), one per worker rank: ordered or unordered,
 * chunking, progress, the in-flight bound, the error modes, cancellation and
 * failures naming the item all work as in a local pool. On each worker rank
 * the items run on a local pool of forked workers (pm_stream_serve()), of
 * processes x threads from the options, with the options' item timeout,
 * retries, recycling and worker hooks (by name: pm_options_set_worker_hooks_name());
 * so a segfault, an abort or a timeout in a work function fails that item
 * ("MPI rank 2 (node7): worker 1 (pid 4242) was killed by signal 11 ...")
 * and the rank goes on. Rank 0 gives each rank up to processes x threads
 * items at a time, as a local pool's feeder does to its workers, so a slow
 * rank gets less work. Items and results cross as bytes (array inputs too).
 *
 * A rank that dies as a whole (killed, out of memory): with Open MPI 4.1 the
 * job then usually aborts, every rank with it (mpirun reports it). When the
 * job goes on, the items that rank held fail with PM_EWORKER, and the pool
 * has one rank fewer.
 *
 * One MPI pool (or map) at a time per program. Not available in a worker
 * process, or in a program run without mpirun (one rank): PM_ESTATE. */
#ifndef PARMAPPER_MPI_H
#define PARMAPPER_MPI_H

#include "parmapper.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pool whose workers are the job's ranks 1 to size - 1, serving work_name
 * (registered in every rank). opts: processes and threads per rank (0
 * processes: each rank's CPU count), the per-item settings sent to the
 * ranks (item timeout, retries, max items per worker, max worker RSS, reset
 * crash signals, worker hooks name, daemon), and the defaults of the pool's
 * maps. Only on rank 0, after pm_worker_serve().
 * @return PM_OK; PM_EINVAL (out or work_name NULL, or work_name not
 * registered on some rank: the message names the rank); PM_ESTATE (not
 * under MPI with two ranks or more, not rank 0, pm_worker_serve() not
 * called, MPI finalized, or another MPI pool still alive); PM_ENOMEM,
 * PM_ESYS. Thread-safety: one thread. */
PM_API int pm_mpi_pool_create(pm_pool **out, const pm_options *opts, const char *work_name);

/* A one-shot map over input on a new MPI pool, freed with the map.
 * @return as pm_mpi_pool_create() and pm_pool_map(). input is consumed. */
PM_API int pm_mpi_map_create(pm_map **out, const pm_options *opts, pm_input *input,
                             const char *work_name);

/* The message of the last failing pm_mpi_ call on this thread (from this
 * library, or from the libparmapper call it made). Never NULL. */
PM_API const char *pm_mpi_last_error(void);

/* This process's rank in the job and the job's size (0 and 1 when not run
 * under MPI or before pm_worker_serve()). */
PM_API int pm_mpi_rank(void);
PM_API int pm_mpi_size(void);

/* On rank 0, once every MPI pool and map is destroyed: tell every worker
 * rank to leave, then MPI_Finalize(). Runs at exit if the program did not
 * call it (and does nothing then if a pool or map is still alive: mpirun
 * then reports that rank 0 left without finalizing, and ends the job).
 * Idempotent.
 * @return PM_OK, PM_ESTATE (an MPI pool or map is still alive). */
PM_API int pm_mpi_finalize(void);

/* For pm_worker_serve(), which looks it up when it runs under MPI: MPI_Init
 * on every rank; on ranks 1.. serve until rank 0 finalizes, then exit(0).
 * Returns 0 on rank 0. Not for programs to call. */
PM_API int pm_mpi_serve_ranks(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif
