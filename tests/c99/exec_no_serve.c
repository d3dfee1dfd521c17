/* A program that asks for exec-mode workers but forgot to call
 * pm_worker_serve() first in main: each run the library starts reaches
 * pm_map_create() instead of serving, and must leave with status 69; the
 * caller must be told so. Exits 0 when it is. */
#define _POSIX_C_SOURCE 200809L
#include <parmapper.h>

#include <errno.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int echo(const void *item, size_t len, uint64_t index, pm_sink *out, void *user_data)
{
    (void)index;
    (void)user_data;
    return pm_sink_write(out, item, len) == PM_OK ? 0 : 1;
}

/* One map or pool creation that must fail naming exit 69 and its cause. */
static int refused(int pool, const pm_options *opts)
{
    static const uint64_t items[4] = {1, 2, 3, 4};
    pm_input *in = NULL;
    pm_map *map = NULL;
    pm_pool *p = NULL;
    const char *error;
    int rc;

    if (pool) {
        rc = pm_pool_create(&p, opts, echo, NULL, NULL);
    } else {
        if (pm_input_create_array(&in, items, sizeof items[0], 4) != PM_OK)
            return 0;
        rc = pm_map_create(&map, opts, in, echo, NULL, NULL);
    }
    error = pm_last_error();
    if (rc == PM_ESYS && map == NULL && p == NULL && strstr(error, "exited with status 69") &&
        strstr(error, "pm_worker_serve"))
        return 1;
    fprintf(stderr, "exec_no_serve: %s: expected a failure naming exit 69 and pm_worker_serve, got %d: %s\n",
            pool ? "pool" : "map", rc, error);
    pm_map_destroy(map);
    pm_pool_destroy(p);
    return 0;
}

int main(void)
{
    pm_options *opts = NULL;
    int round, ok = 1;

    /* No pm_worker_serve() here: that is the mistake under test. The
     * template process, the first run a map or pool starts, leaves with 69
     * (before or after the library's first request reaches it: rounds
     * catch both), and the creation fails naming the cause. */
    if (pm_options_create(&opts) != PM_OK ||
        pm_options_set_start_method(opts, PM_START_EXEC) != PM_OK) {
        fprintf(stderr, "exec_no_serve: setup failed: %s\n", pm_last_error());
        return 1;
    }
    for (round = 0; round < 8 && ok; round++)
        ok = refused(round % 2, opts);
    pm_options_destroy(opts);
    /* Every run it started was reaped. */
    if (ok && !(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD)) {
        fprintf(stderr, "exec_no_serve: a child process was left behind\n");
        ok = 0;
    }
    return ok ? 0 : 1;
}
