/*
 * pareval: evaluate a function of an (n, ndim) array of rows in parallel
 * (the Python tool's ParEval).
 *
 * The function maps each 3-D point to 2 outputs (its distance from the
 * origin and the number of steps a damped orbit starting there takes to
 * come within 0.01 of it). It is vectorized in the NumPy sense: it takes a
 * block of rows and fills a block of output rows. pm_pareval() splits the rows into
 * chunks, evaluates them on worker processes, and gathers the output rows in
 * order; the result is checked against one serial call.
 *
 * Usage: pareval [rows]   (default 200000)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <parmapper.h>

#define NDIM 3
#define OUT 2

/* Runs in a worker on a block of rows (or in the caller, serially, below). */
static int evaluate(const double *x, size_t rows, size_t ndim, double *y,
                    size_t out_width, void *user_data)
{
    size_t r;
    int step;

    (void)user_data;
    if (ndim != NDIM || out_width != OUT)
        return 1; /* fails the chunk; pm_pareval() returns PM_EITEM */
    for (r = 0; r < rows; r++) {
        const double *p = x + r * NDIM;
        double a = p[0], b = p[1], c = p[2];
        for (step = 0; step < 2000 && a * a + b * b + c * c > 1e-4; step++) {
            double t = a;
            a = 0.99 * (a * cos(0.1) - b * sin(0.1));
            b = 0.99 * (t * sin(0.1) + b * cos(0.1));
            c *= 0.98;
        }
        y[r * OUT] = sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2]);
        y[r * OUT + 1] = step;
    }
    return 0;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000, i;
    double *x = malloc((n ? n : 1) * NDIM * sizeof *x);
    double *y = malloc((n ? n : 1) * OUT * sizeof *y);
    double *check = malloc((n ? n : 1) * OUT * sizeof *check);
    double steps = 0;
    int rc;

    if (!x || !y || !check)
        return 1;
    for (i = 0; i < n * NDIM; i++)
        x[i] = (double)((i * 2654435761u) % 1000) / 100.0 - 5.0;

    /* Default split: one chunk per worker process (options NULL: one per CPU).
     * n_eval 10000 would ask for chunks of at most 10000 rows instead. */
    rc = pm_pareval(NULL, evaluate, NULL, x, n, NDIM, y, OUT, 0, 0, 0);
    if (rc != PM_OK) {
        fprintf(stderr, "pareval: %s: %s\n", pm_status_str(rc), pm_last_error());
        return 1;
    }
    evaluate(x, n, NDIM, check, OUT, NULL); /* the same in one serial call */
    for (i = 0; i < n; i++)
        steps += y[i * OUT + 1];
    printf("%lu rows of %d values -> %d outputs each; mean steps %.2f; %s the serial call\n",
           (unsigned long)n, NDIM, OUT, n ? steps / (double)n : 0.0,
           memcmp(y, check, n * OUT * sizeof *y) == 0 ? "identical to" : "DIFFERENT from");
    rc = memcmp(y, check, n * OUT * sizeof *y) != 0;
    free(x);
    free(y);
    free(check);
    return rc;
}
