/* A map over the ranks of an MPI job: rank 0 squares n numbers on the
 * other ranks (each with a local pool of 2 worker processes) and checks the
 * sum. Run: mpirun -np 4 ./mpi_square [n] */
#include <parmapper.h>
#include <parmapper_mpi.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int square(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud) {
    uint64_t x;
    (void)index;
    (void)ud;
    if (len != sizeof x) return 1;
    memcpy(&x, item, sizeof x);
    x *= x;
    return pm_sink_write(out, &x, sizeof x) == PM_OK ? 0 : 1;
}

int main(int argc, char **argv) {
    pm_register_work("square", square, NULL); /* in every rank */
    pm_worker_serve(argc, argv);              /* ranks 1.. serve here, then exit */

    const size_t n = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 10000;
    uint64_t *items = malloc(n * sizeof *items);
    if (!items) return 1;
    for (size_t i = 0; i < n; ++i) items[i] = i;
    pm_options *opts;
    pm_options_create(&opts);
    pm_options_set_processes(opts, 2);        /* local workers per rank */
    pm_options_set_item_timeout(opts, 60000); /* enforced on the ranks */
    pm_input *in;
    pm_input_create_array(&in, items, sizeof *items, n);
    pm_map *map;
    int rc = pm_mpi_map_create(&map, opts, in, "square");
    pm_options_destroy(opts);
    if (rc != PM_OK) {
        fprintf(stderr, "mpi_square: %s\n", pm_mpi_last_error());
        return 1;
    }
    uint64_t sum = 0, index;
    const void *data;
    size_t len;
    while ((rc = pm_map_next(map, &index, &data, &len)) == PM_OK) {
        uint64_t y;
        memcpy(&y, data, sizeof y);
        sum += y;
    }
    if (rc != PM_DONE) fprintf(stderr, "mpi_square: item %llu: %s\n",
                               (unsigned long long)index, pm_map_error(map));
    pm_map_destroy(map);
    uint64_t want = 0;
    for (size_t i = 0; i < n; ++i) want += items[i] * items[i];
    printf("%zu squares on %d worker ranks: sum %llu (%s)\n", n, pm_mpi_size() - 1,
           (unsigned long long)sum, sum == want ? "right" : "WRONG");
    free(items);
    pm_mpi_finalize(); /* or return from main: it runs at exit */
    return rc == PM_DONE && sum == want ? 0 : 1;
}
