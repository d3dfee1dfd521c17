/*
 * return_process: run functions in background processes and collect their
 * results on join (the Python tool's ReturnProcess).
 *
 * Two slow computations start at once, each in its own forked process; the
 * caller is free meanwhile and joins them when it needs the results. A third
 * process crashes on purpose: join reports it instead of hanging or taking
 * the caller with it.
 */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <parmapper.h>

struct range {
    uint64_t from, to;
};

/* Runs in the child: the sum of the integers whose Collatz sequence is
 * longer than 100 steps, in [from, to). */
static int long_collatz(pm_sink *out, void *user_data)
{
    const struct range *r = user_data; /* the child's copy, taken at start */
    uint64_t n, x, steps, sum = 0;

    for (n = r->from; n < r->to; n++) {
        for (x = n, steps = 0; x > 1; steps++)
            x = x % 2 ? 3 * x + 1 : x / 2;
        if (steps > 100)
            sum += n;
    }
    return pm_sink_write(out, &sum, sizeof sum) != PM_OK;
}

static int crash(pm_sink *out, void *user_data)
{
    (void)out;
    (void)user_data;
    raise(SIGSEGV);
    return 0;
}

/* Joins p and prints its outcome; returns 0 if it succeeded. */
static int report(const char *name, pm_process *p)
{
    const void *data;
    size_t len;
    uint64_t sum;
    int rc = pm_process_join(p, &data, &len); /* blocks until the child is done */

    if (rc != PM_OK) {
        printf("%s: %s: %s\n", name, pm_status_str(rc), pm_process_error(p));
        return 1;
    }
    memcpy(&sum, data, sizeof sum); /* result bytes carry no alignment promise */
    printf("%s: %" PRIu64 "\n", name, sum);
    return 0;
}

int main(void)
{
    struct range low = {1, 1500000}, high = {1500000, 3000000};
    pm_process *a = NULL, *b = NULL, *c = NULL;
    int failed = 0;

    /* Each start forks at once; the three run side by side. */
    if (pm_process_start(&a, NULL, long_collatz, &low, NULL) != PM_OK ||
        pm_process_start(&b, NULL, long_collatz, &high, NULL) != PM_OK ||
        pm_process_start(&c, NULL, crash, NULL, NULL) != PM_OK) {
        fprintf(stderr, "return_process: %s\n", pm_last_error());
        pm_process_destroy(a);
        pm_process_destroy(b);
        return 1;
    }
    printf("three processes started; the caller goes on meanwhile\n");

    failed |= report("sum over [1, 1500000)", a);
    failed |= report("sum over [1500000, 3000000)", b);
    if (report("crashing process", c) == 0) /* expected to fail */
        failed = 1;

    pm_process_destroy(a); /* joined: already reaped */
    pm_process_destroy(b);
    pm_process_destroy(c);
    return failed;
}
