/* A program that asks for exec-mode workers but forgot to call
 * pm_worker_serve() first in main: each run the library starts reaches
 * pm_map_create() instead of serving, and must leave with status 69; the
 * caller must be told so. Exits 0 when it is. */
#include <parmapper.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int echo(const void *item, size_t len, uint64_t index, pm_sink *out, void *user_data)
{
    (void)index;
    (void)user_data;
    return pm_sink_write(out, item, len) == PM_OK ? 0 : 1;
}

int main(void)
{
    static const uint64_t items[4] = {1, 2, 3, 4};
    pm_options *opts = NULL;
    pm_input *in = NULL;
    pm_map *map = NULL;
    int rc;
    const char *error;
    int ok;

    /* No pm_worker_serve() here: that is the mistake under test. The
     * template process, the first run the map starts, leaves with 69, and
     * the map's creation fails naming the cause. */
    if (pm_options_create(&opts) != PM_OK ||
        pm_options_set_start_method(opts, PM_START_EXEC) != PM_OK ||
        pm_input_create_array(&in, items, sizeof items[0], 4) != PM_OK) {
        fprintf(stderr, "exec_no_serve: setup failed: %s\n", pm_last_error());
        return 1;
    }
    rc = pm_map_create(&map, opts, in, echo, NULL, NULL);
    error = pm_last_error();
    ok = rc == PM_ESYS && map == NULL && strstr(error, "exited with status 69") &&
         strstr(error, "pm_worker_serve");
    if (!ok)
        fprintf(stderr, "exec_no_serve: expected a failure naming exit 69 and pm_worker_serve, got %d: %s\n",
                rc, error);
    pm_map_destroy(map);
    pm_options_destroy(opts);
    return ok ? 0 : 1;
}
