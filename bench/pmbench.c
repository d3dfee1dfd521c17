/*
 * pmbench: libparmapper's benchmark suite (issue 11). One table per workload,
 * each with, in the same run, a serial loop, a hand-written fork+pipe pool
 * (ceiling.c: the ceiling), Python's multiprocessing.Pool.imap on the same
 * work, and libparmapper through the C API, the C++ layer and the bindings
 * (rows that say "n/a" until a binding exists). Figures are medians over the
 * runs; the runs of a table are interleaved (run 1 of every row, then run
 * 2, ...) so that a noisy minute hits every row alike, and each run is a
 * fresh process (`pmbench --child`, child.c) so that runs do not pollute
 * each other and peak memory is the run's own. Every run checks its
 * results: a wrong one aborts the benchmark with exit status 1.
 *
 *   1. trivial items (8 bytes in, 8 out): chunk size automatic, 1 and 1,000;
 *      ordered and unordered; array and pull input; items/s and ns per item
 *   2. CPU-bound items (~1 ms each): speed-up and parallel efficiency
 *   3. 1 MiB results with the default options: GB/s beside raw pipe and
 *      memcpy bandwidth, and the caller's peak RSS
 *   4. pool start and stop, small parent and a parent with 1 GiB touched,
 *      beside the forks' own cost
 *   5. the caller's peak memory for long inputs and an endless generator
 *   6. item sizes from 8 bytes to 1 MiB: where the array path pays
 *
 * Tables are Markdown, with a ratio-to-ceiling column; a last table checks
 * the targets of issue 11. Usage: pmbench --help.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <parmapper.h>

#include "bench.h"
#include "child.h"

#ifndef PMBENCH_SOURCE_DIR
#define PMBENCH_SOURCE_DIR "."
#endif
#ifndef PMBENCH_WORK_LIB
#define PMBENCH_WORK_LIB ""
#endif
#ifndef PMBENCH_BUILDTYPE
#define PMBENCH_BUILDTYPE "(unknown build type)"
#endif

#define MAX_RUNS 51
#define MAX_ROWS 200
#define MAX_CELLS 6
#define MAX_ARGV 32
#define MAX_LIST 16

/* The language bindings' rows. A binding's benchmark is a program that
 * takes a child's arguments (WORKLOAD WAY key=value..., WAY being "binding")
 * and prints the result line of bench.h after checking its results as
 * child.c does; py_rows.py is a model. Until the program exists, its rows
 * print "n/a (binding not built)". scripts/bench.sh builds them with
 * bindings/<lang>/build_bench_rows.sh. To add a binding: write its program
 * and that script, and give the program's path (relative to the source
 * tree) here. */
static const struct binding {
    const char *label;
    int python;       /* run with the Python interpreter */
    const char *path;
    const char *built; /* exists once the program can run (NULL: path itself) */
} bindings[] = {
    {"Python binding", 1, "bindings/python/bench_rows.py",
     "bindings/python/.bench_rows_built"},
    {"Rust binding", 0, "bindings/rust/target/release/pmbench-rows", NULL},
    {"Go binding", 0, "bindings/go/pmbench-rows", NULL},
};
#define N_BINDINGS (sizeof bindings / sizeof bindings[0])

struct config {
    unsigned runs, cpus, processes;
    int only[7];                        /* workloads to run, 1-based */
    uint64_t trivial_n[MAX_LIST];
    size_t n_trivial;
    uint64_t unbatched_max;             /* chunk-size-1 rows only up to this many items */
    uint64_t py_unbatched_max;          /* Python's chunksize-1 rows: at most this many items */
    unsigned ceil_depth_batched, ceil_depth_unbatched;
    uint64_t cpu_n;
    unsigned cpu_span, cpu_max_p;
    uint64_t big_n;
    size_t big_size;
    unsigned start_workers[MAX_LIST];
    size_t n_start;
    uint64_t start_mib;
    unsigned start_cycles;
    uint64_t mem_n[MAX_LIST];
    size_t n_mem;
    uint64_t endless_n;
    uint64_t py_memory_max;             /* Python's memory rows: at most this many items */
    uint64_t sizes[MAX_LIST];
    size_t n_sizes;
    uint64_t sizes_total, sizes_max_n;
    const char *python;                 /* NULL: none */
    const char *self, *srcdir, *worklib;
    int inject_wrong, quiet, smoke, no_bindings;
};

static struct config C;

struct row {
    char *cells[MAX_CELLS];
    char *argv[MAX_ARGV];
    int argc;
    const char *na;         /* why the row is not run */
    int ref;                /* the row it is compared with, -1: none */
    int group;              /* rows of one nonzero group must give equal digests */
    int ceiling;            /* a reference row */
    int kind, chunk, input, order; /* what the row is, for the targets */
    struct bench_res res[MAX_RUNS];
    unsigned nres;
    struct bench_res med;
};

struct table {
    const char *name;
    struct row rows[MAX_ROWS];
    size_t n;
    double load0, load1; /* load average at the start and the end */
    double t0, t1;
};

enum { K_OTHER, K_SERIAL, K_CEIL, K_CAPI, K_CPP, K_PY, K_BINDING, K_PIPE, K_MEMCPY, K_FORKS,
       K_CAPI_BATCH };

/* ------------------------------------------------------------------------ */
/* Targets, collected as the tables are measured and printed last. */

struct target {
    char what[160], measured[240], verdict[32];
};
static struct target targets[32];
static size_t n_targets;

static void add_target(const char *what, const char *measured, int met)
{
    struct target *t;

    if (n_targets == sizeof targets / sizeof targets[0])
        return;
    t = &targets[n_targets++];
    snprintf(t->what, sizeof t->what, "%s", what);
    snprintf(t->measured, sizeof t->measured, "%s", measured);
    snprintf(t->verdict, sizeof t->verdict, "%s", met < 0 ? "not measured" : met ? "met" : "**missed**");
}

/* ------------------------------------------------------------------------ */
/* Rows. */

static void *xmalloc(size_t n)
{
    void *p = calloc(1, n ? n : 1);
    if (!p) {
        fprintf(stderr, "pmbench: out of memory\n");
        exit(1);
    }
    return p;
}

static char *xstrdup(const char *s)
{
    char *p = xmalloc(strlen(s) + 1);
    strcpy(p, s);
    return p;
}

static struct table *table_new(const char *name)
{
    struct table *t = xmalloc(sizeof *t);
    t->name = name;
    return t;
}

static void table_free(struct table *t)
{
    size_t i;
    int k;

    for (i = 0; i < t->n; i++) {
        for (k = 0; k < MAX_CELLS; k++)
            free(t->rows[i].cells[k]);
        for (k = 0; k < t->rows[i].argc; k++)
            free(t->rows[i].argv[k]);
    }
    free(t);
}

/* A new row: its leading cells (NULL-ended), compared with row ref. */
static struct row *row_add(struct table *t, int ref, int kind, ...)
{
    struct row *r;
    va_list ap;
    const char *c;
    int k = 0;

    if (t->n == MAX_ROWS) {
        fprintf(stderr, "pmbench: too many rows in %s\n", t->name);
        exit(1);
    }
    r = &t->rows[t->n++];
    memset(r, 0, sizeof *r);
    r->ref = ref;
    r->kind = kind;
    va_start(ap, kind);
    while ((c = va_arg(ap, const char *)) != NULL && k < MAX_CELLS)
        r->cells[k++] = xstrdup(c);
    va_end(ap);
    return r;
}

static int row_index(const struct table *t, const struct row *r)
{
    return (int)(r - t->rows);
}

static void arg(struct row *r, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    if (r->argc + 1 >= MAX_ARGV) {
        fprintf(stderr, "pmbench: too many arguments\n");
        exit(1);
    }
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    r->argv[r->argc++] = xstrdup(buf);
}

/* The child of this program: WORKLOAD WAY. */
static void cmd_c(struct row *r, const char *workload, const char *way)
{
    arg(r, "%s", C.self);
    arg(r, "--child");
    arg(r, "%s", workload);
    arg(r, "%s", way);
    if (C.inject_wrong && (strcmp(way, "capi") == 0 || strcmp(way, "cpp") == 0))
        arg(r, "wrong=1");
}

static void cmd_cpp(struct row *r, const char *workload)
{
    if (!PMBENCH_HAVE_CPP)
        r->na = "n/a (C++ layer not built: no cereal)";
    cmd_c(r, workload, "cpp");
}

static void cmd_py(struct row *r, const char *workload)
{
    if (!C.python) {
        r->na = "n/a (no python3)";
        return;
    }
    arg(r, "%s", C.python);
    arg(r, "%s/bench/py_rows.py", C.srcdir);
    arg(r, "%s", workload);
    arg(r, "python");
    arg(r, "worklib=%s", C.worklib);
}

static int binding_built(const struct binding *b)
{
    char path[4096];

    if (C.no_bindings)
        return 0;
    snprintf(path, sizeof path, "%s/%s", C.srcdir, b->built ? b->built : b->path);
    return access(path, b->python || b->built ? R_OK : X_OK) == 0;
}

/* A binding's rows in each group of a table once it is built; until then
 * one row in the table's first group says so. */
static int binding_rows(const struct binding *b, int first_group)
{
    return first_group || binding_built(b);
}

static void cmd_binding(struct row *r, const struct binding *b, const char *workload)
{
    char path[4096];

    snprintf(path, sizeof path, "%s/%s", C.srcdir, b->path);
    if (!binding_built(b)) {
        r->na = C.no_bindings ? "n/a (--no-bindings)" : "n/a (binding not built)";
        return;
    }
    if (b->python) {
        if (!C.python) {
            r->na = "n/a (no python3)";
            return;
        }
        arg(r, "%s", C.python);
    }
    arg(r, "%s", path);
    arg(r, "%s", workload);
    arg(r, "binding");
    /* The compiled work (cpu, big, sizes), for a binding whose language
     * would not run the same arithmetic at the same speed (Python). */
    arg(r, "worklib=%s", C.worklib);
    if (C.inject_wrong)
        arg(r, "wrong=1");
}

static char *row_label(const struct row *r, char *buf, size_t size)
{
    size_t off = 0;
    int k;

    buf[0] = '\0';
    for (k = 0; k < MAX_CELLS && r->cells[k]; k++)
        off += (size_t)snprintf(buf + off, off < size ? size - off : 0, "%s%s", k ? ", " : "",
                                r->cells[k]);
    return buf;
}

/* Run one row once, in a fresh process; exits the benchmark on failure. */
static void run_row(const char *table, const struct row *r, struct bench_res *res)
{
    char label[512], *out = NULL, *line;
    size_t len = 0, cap = 0;
    int p[2], status;
    pid_t pid;

    row_label(r, label, sizeof label);
    if (pipe2(p, O_CLOEXEC) != 0) {
        perror("pmbench: pipe");
        exit(1);
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        perror("pmbench: fork");
        exit(1);
    }
    if (pid == 0) {
        char *argv[MAX_ARGV + 2];
        int k;
        for (k = 0; k < r->argc; k++)
            argv[k] = r->argv[k];
        if (C.smoke)
            argv[k++] = (char *)"warm=0"; /* tiny sizes: no warm-up run */
        argv[k] = NULL;
        dup2(p[1], 1);
        execv(argv[0], argv);
        fprintf(stderr, "pmbench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(p[1]);
    for (;;) {
        ssize_t n;
        if (cap - len < 4096) {
            cap = cap ? 2 * cap : 8192;
            out = realloc(out, cap);
            if (!out) {
                fprintf(stderr, "pmbench: out of memory\n");
                exit(1);
            }
        }
        n = read(p[0], out + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(p[0]);
    out[len] = '\0';
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    line = strstr(out, "pmbench-result");
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !line || bench_res_parse(line, res) != 0) {
        fprintf(stderr, "pmbench: %s: row \"%s\" failed (%s %d); the benchmark stops here\n",
                table, label, WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        exit(1);
    }
    free(out);
}

static double med_field(const struct row *r, size_t off)
{
    double v[MAX_RUNS];
    size_t n = 0;
    unsigned i;

    for (i = 0; i < r->nres; i++) {
        double x = *(const double *)(const void *)((const char *)&r->res[i] + off);
        if (!isnan(x))
            v[n++] = x;
    }
    return bench_median(v, n);
}

/* The 1-minute load average: how busy the machine was (other users). */
static double loadavg(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double v = NAN;

    if (f) {
        if (fscanf(f, "%lf", &v) != 1)
            v = NAN;
        fclose(f);
    }
    return v;
}

/* Run every row C.runs times, interleaved, then take the medians. */
static void table_run(struct table *t)
{
    unsigned run;
    size_t i, j;

    t->load0 = loadavg();
    t->t0 = bench_now();

    for (run = 0; run < C.runs; run++) {
        if (!C.quiet)
            fprintf(stderr, "pmbench: %s: run %u of %u (%zu rows)\n", t->name, run + 1, C.runs,
                    t->n);
        for (i = 0; i < t->n; i++) {
            struct row *r = &t->rows[i];
            if (r->na)
                continue;
            run_row(t->name, r, &r->res[r->nres]);
            r->nres++;
        }
        /* Rows of a group ran the same items: their results must agree. */
        for (i = 0; i < t->n; i++)
            for (j = 0; j < i; j++) {
                const struct row *a = &t->rows[i], *b = &t->rows[j];
                char la[256], lb[256];
                if (!a->group || a->group != b->group || a->na || b->na)
                    continue;
                if (a->res[a->nres - 1].digest != b->res[b->nres - 1].digest) {
                    fprintf(stderr, "pmbench: %s: rows \"%s\" and \"%s\" disagree on the "
                                    "results; the benchmark stops here\n",
                            t->name, row_label(a, la, sizeof la), row_label(b, lb, sizeof lb));
                    exit(1);
                }
                break;
            }
    }
    t->load1 = loadavg();
    t->t1 = bench_now();
    for (i = 0; i < t->n; i++) {
        struct row *r = &t->rows[i];
        bench_res_init(&r->med);
        r->med.seconds = med_field(r, offsetof(struct bench_res, seconds));
        r->med.items = med_field(r, offsetof(struct bench_res, items));
        r->med.bytes = med_field(r, offsetof(struct bench_res, bytes));
        r->med.rss_start = med_field(r, offsetof(struct bench_res, rss_start));
        r->med.rss_peak = med_field(r, offsetof(struct bench_res, rss_peak));
        r->med.rss_early = med_field(r, offsetof(struct bench_res, rss_early));
        r->med.start = med_field(r, offsetof(struct bench_res, start));
        r->med.stop = med_field(r, offsetof(struct bench_res, stop));
    }
}

/* The note under a table, and how long it ran on how busy a machine. */
static void table_end(const struct table *t, const char *note)
{
    md_end(note);
    printf("\n(%s: %.1f s; load average %.2f at the start, %.2f at the end.)\n", t->name,
           t->t1 - t->t0, t->load0, t->load1);
    fflush(stdout);
}

static double rate(const struct row *r)
{
    return r->med.items / r->med.seconds;
}

/* Throughput of row i over its reference's. */
static double ratio(const struct table *t, const struct row *r)
{
    if (r->ref < 0 || r->na || t->rows[r->ref].na)
        return NAN;
    return rate(r) / rate(&t->rows[r->ref]);
}

/* The cells after the leading ones: a row not run gets its reason. */
static void print_row(const struct row *r, char vals[][64], size_t nvals)
{
    const char *cells[MAX_CELLS + 12];
    size_t k = 0, i;

    while (k < MAX_CELLS && r->cells[k]) {
        cells[k] = r->cells[k];
        k++;
    }
    for (i = 0; i < nvals; i++)
        cells[k + i] = r->na ? (i == 0 ? r->na : "") : vals[i];
    md_row(cells);
}

static void ratio_cell(const struct table *t, const struct row *r, char *buf, size_t size)
{
    if (r->ceiling)
        snprintf(buf, size, "ceiling");
    else
        fmt_num(buf, size, ratio(t, r), 2);
    if (!r->ceiling && r->ref < 0)
        snprintf(buf, size, "—");
}

static const char *order_name(int ordered) { return ordered ? "ordered" : "unordered"; }

static char *chunk_name(char *buf, size_t size, unsigned chunk)
{
    if (chunk == 0)
        snprintf(buf, size, "auto");
    else
        fmt_count(buf, size, chunk);
    return buf;
}

/* Verdict helpers for the targets: a list "a 0.91, b 0.88" and its minimum. */
struct tally {
    char text[240];
    double min, max;
    int n;
};

static void tally_init(struct tally *t)
{
    t->text[0] = '\0';
    t->min = INFINITY;
    t->max = -INFINITY;
    t->n = 0;
}

static void tally_add(struct tally *t, const char *label, double v, int decimals)
{
    size_t off = strlen(t->text);

    if (isnan(v))
        return;
    snprintf(t->text + off, sizeof t->text - off, "%s%s %.*f", t->n ? ", " : "", label, decimals, v);
    if (v < t->min)
        t->min = v;
    if (v > t->max)
        t->max = v;
    t->n++;
}

/* Context after the last value, e.g. what the ceiling did in the same run. */
static void tally_note(struct tally *t, const char *fmt, double v)
{
    size_t off = strlen(t->text);
    snprintf(t->text + off, sizeof t->text - off, fmt, v);
}

/* ------------------------------------------------------------------------ */
/* Workload 1: trivial items. */

enum { IN_ARRAY, IN_PULL };

static void w1_trivial(void)
{
    static const unsigned chunks[] = {0, 1, 1000};
    static const char *const headers[] = {"items", "way", "chunk", "input", "order", "M items/s",
                                          "ns/item", "vs ceiling", NULL};
    struct table *t = table_new("1. trivial items");
    size_t ni, i;

    for (ni = 0; ni < C.n_trivial; ni++) {
        uint64_t n = C.trivial_n[ni];
        uint64_t n_py1 = n < C.py_unbatched_max ? n : C.py_unbatched_max;
        char nb[32], nb_py1[32], cb[32];
        int batched[2], unbatched[2], o, c, in;
        struct row *r;
        size_t b;

        int unbatched_rows = n <= C.unbatched_max;

        fmt_count(nb, sizeof nb, n);
        fmt_count(nb_py1, sizeof nb_py1, n_py1);
        r = row_add(t, -1, K_SERIAL, nb, "serial loop", "—", "array", "—", NULL);
        cmd_c(r, "trivial", "serial");
        arg(r, "n=%" PRIu64, n);
        for (o = 1; o >= 0; o--) {
            r = row_add(t, -1, K_CEIL, nb, "hand-written pool (ceiling)", "1,000", "array",
                        order_name(o), NULL);
            cmd_c(r, "trivial", "ceil");
            arg(r, "n=%" PRIu64, n);
            arg(r, "p=%u", C.processes);
            arg(r, "chunk=1000");
            arg(r, "depth=%u", C.ceil_depth_batched);
            arg(r, "ordered=%d", o);
            r->ceiling = 1;
            batched[o] = row_index(t, r);
            unbatched[o] = -1;
            if (!unbatched_rows)
                continue;
            r = row_add(t, -1, K_CEIL, nb, "hand-written pool (ceiling)", "1", "array",
                        order_name(o), NULL);
            cmd_c(r, "trivial", "ceil");
            arg(r, "n=%" PRIu64, n);
            arg(r, "p=%u", C.processes);
            arg(r, "chunk=1");
            arg(r, "depth=%u", C.ceil_depth_unbatched);
            arg(r, "ordered=%d", o);
            r->ceiling = 1;
            unbatched[o] = row_index(t, r);
        }
        for (c = 0; c < 3; c++)
            for (in = IN_ARRAY; in <= IN_PULL; in++)
                for (o = 1; o >= 0; o--) {
                    if (chunks[c] == 1 && !unbatched_rows)
                        continue;
                    r = row_add(t, chunks[c] == 1 ? unbatched[o] : batched[o], K_CAPI, nb,
                                "libparmapper C API", chunk_name(cb, sizeof cb, chunks[c]),
                                in == IN_ARRAY ? "array" : "pull", order_name(o), NULL);
                    cmd_c(r, "trivial", "capi");
                    arg(r, "n=%" PRIu64, n);
                    arg(r, "p=%u", C.processes);
                    arg(r, "chunk=%u", chunks[c]);
                    arg(r, "input=%s", in == IN_ARRAY ? "array" : "pull");
                    arg(r, "ordered=%d", o);
                    r->chunk = (int)chunks[c];
                    r->input = in;
                    r->order = o;
                }
        for (c = 0; c < 3; c++)
            for (in = IN_ARRAY; in <= IN_PULL; in++)
                for (o = 1; o >= 0; o--) {
                    if ((in == IN_PULL && chunks[c] != 0) || (chunks[c] == 1 && !unbatched_rows))
                        continue; /* the generator: automatic chunks only */
                    r = row_add(t, chunks[c] == 1 ? unbatched[o] : batched[o], K_CPP, nb,
                                "libparmapper C++ layer", chunk_name(cb, sizeof cb, chunks[c]),
                                in == IN_ARRAY ? "std::vector" : "pm::generate", order_name(o),
                                NULL);
                    cmd_cpp(r, "trivial");
                    arg(r, "n=%" PRIu64, n);
                    arg(r, "p=%u", C.processes);
                    arg(r, "chunk=%u", chunks[c]);
                    arg(r, "input=%s", in == IN_ARRAY ? "array" : "pull");
                    arg(r, "ordered=%d", o);
                }
        /* The same maps taken 256 results a call (pm_map_next_batch()), as
         * the bindings take them: the C API's cost per call set aside. */
        for (c = 0; c < 2; c++)
            for (o = 1; o >= 0; o--) {
                if (chunks[c] == 1 && !unbatched_rows)
                    continue;
                r = row_add(t, chunks[c] == 1 ? unbatched[o] : batched[o], K_CAPI_BATCH, nb,
                            "libparmapper C API, pm_map_next_batch (256)",
                            chunk_name(cb, sizeof cb, chunks[c]), "array", order_name(o), NULL);
                cmd_c(r, "trivial", "capi");
                arg(r, "n=%" PRIu64, n);
                arg(r, "p=%u", C.processes);
                arg(r, "chunk=%u", chunks[c]);
                arg(r, "input=array");
                arg(r, "ordered=%d", o);
                arg(r, "batch=256");
                r->chunk = (int)chunks[c];
                r->input = IN_ARRAY;
                r->order = o;
            }
        /* Exec-mode workers (issue 10): the same transport, so the same
         * cost per item is expected, but array items travel as bytes. */
        for (in = IN_ARRAY; in <= IN_PULL; in++) {
            r = row_add(t, batched[1], K_OTHER, nb, "libparmapper C API, exec-mode workers", "auto",
                        in == IN_ARRAY ? "array" : "pull", "ordered", NULL);
            cmd_c(r, "trivial", "capi");
            arg(r, "n=%" PRIu64, n);
            arg(r, "p=%u", C.processes);
            arg(r, "chunk=0");
            arg(r, "input=%s", in == IN_ARRAY ? "array" : "pull");
            arg(r, "ordered=1");
            arg(r, "exec=1");
        }
        for (o = 1; o >= 0; o--) {
            r = row_add(t, batched[o], K_PY, nb, o ? "Python Pool.imap" : "Python Pool.imap_unordered",
                        "1,000", "range", order_name(o), NULL);
            cmd_py(r, "trivial");
            arg(r, "n=%" PRIu64, n);
            arg(r, "p=%u", C.processes);
            arg(r, "chunk=1000");
            arg(r, "ordered=%d", o);
        }
        for (o = 1; o >= 0 && unbatched_rows; o--) {
            r = row_add(t, unbatched[o], K_PY, nb_py1,
                        o ? "Python Pool.imap" : "Python Pool.imap_unordered", "1", "range",
                        order_name(o), NULL);
            cmd_py(r, "trivial");
            arg(r, "n=%" PRIu64, n_py1);
            arg(r, "p=%u", C.processes);
            arg(r, "chunk=1");
            arg(r, "ordered=%d", o);
        }
        r = row_add(t, batched[1], K_PY, nb, "Python Pool.imap", "n / (4 p), as Pool.map", "range",
                    "ordered", NULL);
        cmd_py(r, "trivial");
        arg(r, "n=%" PRIu64, n);
        arg(r, "p=%u", C.processes);
        arg(r, "chunk=0");
        arg(r, "ordered=1");
        for (b = 0; b < N_BINDINGS; b++) {
            if (!binding_rows(&bindings[b], ni == 0))
                continue;
            r = row_add(t, batched[1], K_BINDING, nb, bindings[b].label, "auto", "array", "ordered",
                        NULL);
            cmd_binding(r, &bindings[b], "trivial");
            arg(r, "n=%" PRIu64, n);
            arg(r, "p=%u", C.processes);
            arg(r, "chunk=0");
            arg(r, "ordered=1");
        }
    }
    table_run(t);

    md_begin("### 1. Trivial items (8 bytes in, 8 out: x*2+1)", headers);
    for (i = 0; i < t->n; i++) {
        const struct row *r = &t->rows[i];
        char v[3][64];
        fmt_num(v[0], 64, rate(r) / 1e6, 2);
        fmt_num(v[1], 64, r->med.seconds / r->med.items * 1e9, 1);
        ratio_cell(t, r, v[2], 64);
        print_row(r, v, 3);
    }
    {
        char note[768], nbuf1[32], nbuf2[32];
        snprintf(note, sizeof note,
                 "%u processes. Ceiling: the hand-written pool in `bench/ceiling.c`, in the "
                 "same order; 1,000 items per message (%u in flight per worker) for the "
                 "automatic and 1,000 rows, 1 item per message (%u in flight per worker) for the "
                 "chunk-size-1 rows, which run only up to %s items (`--unbatched-max`), Python's "
                 "up to %s (`--py-unbatched-max`). Python maps `range(n)` with its own "
                 "`x * 2 + 1`.",
                 C.processes, C.ceil_depth_batched, C.ceil_depth_unbatched,
                 fmt_count(nbuf1, sizeof nbuf1, C.unbatched_max),
                 fmt_count(nbuf2, sizeof nbuf2, C.py_unbatched_max));
        table_end(t, note);
    }

    for (ni = 0; ni < C.n_trivial; ni++) {
        static const int want[] = {0, 1, 0, 1};
        int w;
        /* w 0, 1: one result per pm_map_next() call; 2, 3: 256 a call. */
        for (w = 0; w < 4; w++) {
            struct tally ta;
            char what[160], nb[32];
            int idx = 0;
            tally_init(&ta);
            for (i = 0; i < t->n; i++) {
                const struct row *r = &t->rows[i];
                static const char *const labels[] = {"array ordered", "array unordered",
                                                     "pull ordered", "pull unordered"};
                if (r->kind != (w < 2 ? K_CAPI : K_CAPI_BATCH) || r->chunk != want[w] ||
                    strcmp(r->cells[0],
                    fmt_count(nb, sizeof nb, C.trivial_n[ni])) != 0)
                    continue;
                idx = r->input * 2 + (r->order ? 0 : 1);
                tally_add(&ta, labels[idx], ratio(t, r), 2);
            }
            snprintf(what, sizeof what,
                     want[w] == 0
                         ? "1. trivial items, %s, automatic chunks%s: >= 0.70 of the batched ceiling"
                         : "1. trivial items, %s, chunk size 1%s: >= 0.70 of the unbatched ceiling",
                     fmt_count(nb, sizeof nb, C.trivial_n[ni]),
                     w < 2 ? "" : ", pm_map_next_batch");
            if (want[w] == 1 && !ta.n)
                continue; /* no chunk-size-1 rows at this size */
            add_target(what, ta.text, ta.n ? ta.min >= 0.70 : -1);
        }
    }
    table_free(t);
}

/* ------------------------------------------------------------------------ */
/* Workload 2: CPU-bound items. */

static void w2_cpu(void)
{
    static const char *const headers[] = {"processes", "way", "seconds", "speed-up",
                                          "parallel efficiency", "vs ceiling", NULL};
    struct table *t = table_new("2. CPU-bound items");
    struct row *r;
    unsigned p;
    size_t i, b;
    int serial;

    r = row_add(t, -1, K_SERIAL, "1", "serial loop", NULL);
    cmd_c(r, "cpu", "serial");
    arg(r, "n=%" PRIu64, C.cpu_n);
    arg(r, "span=%u", C.cpu_span);
    r->group = 1;
    serial = row_index(t, r);
    for (p = 1; p <= C.cpu_max_p; p++) {
        char pb[16];
        int ceil;
        snprintf(pb, sizeof pb, "%u", p);
        r = row_add(t, -1, K_CEIL, pb, "hand-written pool (ceiling)", NULL);
        cmd_c(r, "cpu", "ceil");
        r->ceiling = 1;
        ceil = row_index(t, r);
        r = row_add(t, ceil, K_CAPI, pb, "libparmapper C API", NULL);
        cmd_c(r, "cpu", "capi");
        r = row_add(t, ceil, K_CPP, pb, "libparmapper C++ layer", NULL);
        cmd_cpp(r, "cpu");
        r = row_add(t, ceil, K_PY, pb, "Python Pool.imap, chunksize 1 (work via ctypes)", NULL);
        cmd_py(r, "cpu");
        for (b = 0; b < N_BINDINGS; b++) {
            if (!binding_rows(&bindings[b], p == 1))
                continue;
            r = row_add(t, ceil, K_BINDING, pb, bindings[b].label, NULL);
            cmd_binding(r, &bindings[b], "cpu");
        }
        for (i = (size_t)ceil; i < t->n; i++) {
            r = &t->rows[i];
            r->group = 1;
            r->order = (int)p; /* the process count, for the targets */
            arg(r, "n=%" PRIu64, C.cpu_n);
            arg(r, "span=%u", C.cpu_span);
            arg(r, "p=%u", p);
        }
    }
    table_run(t);

    md_begin("### 2. CPU-bound items (about 1 ms each)", headers);
    for (i = 0; i < t->n; i++) {
        char v[4][64];
        double speedup;
        r = &t->rows[i];
        speedup = t->rows[serial].med.seconds / r->med.seconds;
        fmt_num(v[0], 64, r->med.seconds, 3);
        fmt_num(v[1], 64, speedup, 3);
        fmt_num(v[2], 64, r->kind == K_SERIAL ? NAN : speedup / (r->order ? r->order : 1), 3);
        if (r->kind == K_SERIAL)
            snprintf(v[2], 64, "—");
        ratio_cell(t, r, v[3], 64);
        print_row(r, v, 4);
    }
    {
        char note[512];
        snprintf(note, sizeof note,
                 "%" PRIu64 " items, each the Collatz stopping times of %u integers. Speed-up "
                 "over the serial loop of the same run; efficiency = speed-up / processes. "
                 "The ceiling sends 1 item per message, 2 in flight per worker. With 1 process "
                 "libparmapper runs in the calling process. Python calls the same compiled "
                 "function (`libpmbench_work.so`) through ctypes.",
                 C.cpu_n, C.cpu_span);
        table_end(t, note);
    }
    {
        struct tally ta;
        tally_init(&ta);
        for (i = 0; i < t->n; i++) {
            r = &t->rows[i];
            if (r->kind == K_CAPI && r->order >= 2) {
                char label[32];
                snprintf(label, sizeof label, "%d processes", r->order);
                tally_add(&ta, label,
                          t->rows[serial].med.seconds / r->med.seconds / r->order, 3);
                tally_note(&ta, " (the ceiling %.3f)",
                           t->rows[serial].med.seconds / t->rows[r->ref].med.seconds / r->order);
            }
        }
        add_target("2. CPU-bound items: parallel efficiency >= 0.97 with 2 processes (and more, "
                   "where there are cores)",
                   ta.text, ta.n ? ta.min >= 0.97 : -1);
    }
    table_free(t);
}

/* ------------------------------------------------------------------------ */
/* Workload 3: 1 MiB results. */

static void w3_big(void)
{
    static const char *const headers[] = {"way", "GB/s", "vs raw pipe", "vs ceiling",
                                          "caller's peak RSS (MiB)", "above start (MiB)", NULL};
    struct table *t = table_new("3. large results");
    struct row *r;
    size_t i, b;
    int pipe_row, ceil;
    char sb[32], title[160];

    fmt_bytes(sb, sizeof sb, C.big_size);
    r = row_add(t, -1, K_MEMCPY, "memcpy (1 MiB blocks, cache-warm)", NULL);
    cmd_c(r, "big", "memcpy");
    r = row_add(t, -1, K_PIPE, "raw pipe (F_SETPIPE_SZ 1 MiB, 1 MiB writes)", NULL);
    cmd_c(r, "big", "pipe");
    pipe_row = row_index(t, r);
    r = row_add(t, -1, K_SERIAL, "serial loop (fill and check)", NULL);
    cmd_c(r, "big", "serial");
    r = row_add(t, -1, K_CEIL, "hand-written pool (ceiling)", NULL);
    cmd_c(r, "big", "ceil");
    arg(r, "p=%u", C.processes);
    r->ceiling = 1;
    ceil = row_index(t, r);
    r = row_add(t, ceil, K_CAPI, "libparmapper C API, default options", NULL);
    cmd_c(r, "big", "capi");
    r = row_add(t, ceil, K_CPP, "libparmapper C++ layer, `std::vector<unsigned char>`", NULL);
    cmd_cpp(r, "big");
    r = row_add(t, ceil, K_PY, "Python Pool.imap, chunksize 1 (bytearray results)", NULL);
    cmd_py(r, "big");
    for (b = 0; b < N_BINDINGS; b++) {
        r = row_add(t, ceil, K_BINDING, bindings[b].label, NULL);
        cmd_binding(r, &bindings[b], "big");
    }
    for (i = 0; i < t->n; i++) {
        arg(&t->rows[i], "n=%" PRIu64, C.big_n);
        arg(&t->rows[i], "rsize=%zu", C.big_size);
    }
    table_run(t);

    snprintf(title, sizeof title, "### 3. Large results (%s per item, %" PRIu64 " items)", sb,
             C.big_n);
    md_begin(title, headers);
    for (i = 0; i < t->n; i++) {
        char v[5][64];
        r = &t->rows[i];
        fmt_num(v[0], 64, r->med.bytes / r->med.seconds / 1e9, 2);
        fmt_num(v[1], 64, r->med.seconds > 0 ? t->rows[pipe_row].med.seconds / r->med.seconds : NAN, 2);
        if (r->kind == K_PIPE)
            snprintf(v[1], 64, "1");
        ratio_cell(t, r, v[2], 64);
        fmt_num(v[3], 64, r->med.rss_peak / 1024, 1);
        fmt_num(v[4], 64, (r->med.rss_peak - r->med.rss_start) / 1024, 1);
        print_row(r, v, 5);
    }
    {
        char note[512];
        snprintf(note, sizeof note,
                 "Each worker fills its result (a byte pattern with a stamp per 4 KiB page); "
                 "the caller checks every page's stamp and one byte per page. Peak RSS is "
                 "the measuring process's VmHWM, \"above start\" its growth during the map. "
                 "The ceiling sends 1 result per message, 2 in flight per worker, pipes of "
                 "1 MiB. libparmapper with NULL options (%u processes).",
                 C.processes);
        table_end(t, note);
    }
    for (i = 0; i < t->n; i++) {
        r = &t->rows[i];
        if (r->kind == K_CAPI) {
            char m[240];
            double rat = t->rows[pipe_row].med.seconds / r->med.seconds;
            double above = (r->med.rss_peak - r->med.rss_start) / 1024;
            double results = above * 1048576.0 / (double)C.big_size;
            snprintf(m, sizeof m, "%.2f of the raw pipe (%.2f vs %.2f GB/s; the hand-written "
                     "pool %.2f)", rat, r->med.bytes / r->med.seconds / 1e9,
                     t->rows[pipe_row].med.bytes / t->rows[pipe_row].med.seconds / 1e9,
                     t->rows[pipe_row].med.seconds / t->rows[ceil].med.seconds);
            add_target("3. 1 MiB results, default options: >= 0.80 of the raw 1 MiB-pipe bandwidth",
                       m, rat >= 0.80);
            snprintf(m, sizeof m, "%.1f MiB above start: %.1f results", above, results);
            add_target("3. 1 MiB results: the caller's memory bounded by a few results (<= 8)", m,
                       results <= 8);
        }
    }
    table_free(t);
}

/* ------------------------------------------------------------------------ */
/* Workload 4: pool start and stop. */

static void w4_start(void)
{
    static const char *const headers[] = {"parent", "workers", "way", "start (ms)", "stop (ms)",
                                          "start + stop (ms)", "start vs forks",
                                          "start + stop vs forks", NULL};
    struct table *t = table_new("4. pool start and stop");
    struct tally small, bigp;
    size_t i, b, w;
    int m;

    for (m = 0; m < 2; m++) {
        uint64_t mib = m ? C.start_mib : 0;
        char parent[64];
        if (m)
            snprintf(parent, sizeof parent, "%" PRIu64 " MiB touched", mib);
        else
            snprintf(parent, sizeof parent, "small");
        for (w = 0; w < C.n_start; w++) {
            char wb[16];
            struct row *r;
            size_t first;
            int forks;
            snprintf(wb, sizeof wb, "%u", C.start_workers[w]);
            r = row_add(t, -1, K_FORKS, parent, wb, "fork() and waitpid() alone (the forks)",
                        NULL);
            cmd_c(r, "start", "forks");
            r->ceiling = 1;
            forks = row_index(t, r);
            first = (size_t)forks;
            r = row_add(t, forks, K_CEIL, parent, wb, "hand-written pool", NULL);
            cmd_c(r, "start", "ceil");
            r = row_add(t, forks, K_CAPI, parent, wb, "libparmapper C API pool", NULL);
            cmd_c(r, "start", "capi");
            r->order = m;
            r = row_add(t, forks, K_OTHER, parent, wb, "libparmapper C API pool, exec-mode workers",
                        NULL);
            cmd_c(r, "start", "capi");
            arg(r, "exec=1");
            r = row_add(t, forks, K_CPP, parent, wb, "libparmapper C++ layer pool", NULL);
            cmd_cpp(r, "start");
            r = row_add(t, forks, K_PY, parent, wb, "Python Pool()", NULL);
            cmd_py(r, "start");
            for (b = 0; b < N_BINDINGS; b++) {
                if (!binding_rows(&bindings[b], m == 0 && w == 0))
                    continue;
                r = row_add(t, forks, K_BINDING, parent, wb, bindings[b].label, NULL);
                cmd_binding(r, &bindings[b], "start");
            }
            for (i = first; i < t->n; i++) {
                arg(&t->rows[i], "p=%u", C.start_workers[w]);
                arg(&t->rows[i], "mib=%" PRIu64, mib);
                arg(&t->rows[i], "cycles=%u", C.start_cycles);
            }
        }
    }
    table_run(t);

    md_begin("### 4. Pool start and stop", headers);
    tally_init(&small);
    tally_init(&bigp);
    for (i = 0; i < t->n; i++) {
        const struct row *r = &t->rows[i], *ref = r->ref >= 0 ? &t->rows[r->ref] : NULL;
        char v[5][64];
        fmt_num(v[0], 64, r->med.start * 1e3, 2);
        fmt_num(v[1], 64, r->med.stop * 1e3, 2);
        fmt_num(v[2], 64, r->med.seconds * 1e3, 2);
        fmt_num(v[3], 64, ref ? r->med.start / ref->med.start : NAN, 2);
        fmt_num(v[4], 64, ref ? r->med.seconds / ref->med.seconds : NAN, 2);
        if (r->ceiling) {
            snprintf(v[3], 64, "ceiling");
            snprintf(v[4], 64, "ceiling");
        }
        print_row(r, v, 5);
        if (r->kind == K_CAPI && ref) {
            /* The row before is the hand-written pool of the same group. */
            const struct row *hand = r - 1;
            struct tally *ta = r->order ? &bigp : &small;
            char label[64];
            snprintf(label, sizeof label, "%s workers", r->cells[1]);
            tally_add(ta, label, r->med.start / ref->med.start, 2);
            tally_note(ta, " (hand-written pool %.2f)", hand->med.start / ref->med.start);
        }
    }
    {
        char note[512];
        snprintf(note, sizeof note,
                 "Median of %u start-stop cycles per run. Start: until the pool exists "
                 "(`pm_pool_create()` returns, the forks are made); stop: until every worker "
                 "is reaped. \"The forks\": N fork() calls of children that wait for end of file "
                 "on a pipe; stop closes it and reaps them. The touched parent wrote every page "
                 "of a malloc'd block (4 KiB pages: transparent huge pages only on madvise "
                 "here).",
                 C.start_cycles);
        table_end(t, note);
    }
    {
        char what[160];
        snprintf(what, sizeof what, "4. pool start (`pm_pool_create`) <= 1.2 x the forks' own "
                 "cost, small parent");
        add_target(what, small.text, small.n ? small.max <= 1.2 : -1);
        snprintf(what, sizeof what, "4. pool start (`pm_pool_create`) <= 1.2 x the forks' own "
                 "cost, %" PRIu64 " MiB parent", C.start_mib);
        add_target(what, bigp.text, bigp.n ? bigp.max <= 1.2 : -1);
    }
    table_free(t);
}

/* ------------------------------------------------------------------------ */
/* Workload 5: the caller's peak memory. */

static void w5_memory(void)
{
    static const char *const headers[] = {"items", "way", "input", "M items/s", "peak RSS (MiB)",
                                          "above start (MiB)", "above start vs ceiling (MiB)",
                                          "peak at 10 % (MiB)", NULL};
    struct table *t = table_new("5. caller's peak memory");
    size_t i, b, k;

    for (k = 0; k <= C.n_mem; k++) {
        uint64_t n = k < C.n_mem ? C.mem_n[k] : 0; /* last: endless */
        uint64_t n_py = n ? (n < C.py_memory_max ? n : C.py_memory_max)
                          : (C.endless_n < C.py_memory_max ? C.endless_n : C.py_memory_max);
        char nb[64], nb_py[64], tmp[32];
        struct row *r;
        size_t first = t->n;
        int ceil;

        if (n) {
            fmt_count(nb, sizeof nb, n);
            fmt_count(nb_py, sizeof nb_py, n_py);
        } else {
            snprintf(nb, sizeof nb, "endless, stopped at %s", fmt_count(tmp, sizeof tmp, C.endless_n));
            snprintf(nb_py, sizeof nb_py, "endless, stopped at %s", fmt_count(tmp, sizeof tmp, n_py));
        }
        r = row_add(t, -1, K_SERIAL, nb, "serial loop (no pool)", "counter", NULL);
        cmd_c(r, "memory", "serial");
        r = row_add(t, -1, K_CEIL, nb, "hand-written pool (ceiling)", "generated", NULL);
        cmd_c(r, "memory", "ceil");
        r->ceiling = 1;
        ceil = row_index(t, r);
        r = row_add(t, ceil, K_CAPI, nb, "libparmapper C API", "pull", NULL);
        cmd_c(r, "memory", "capi");
        arg(r, "input=pull");
        r->chunk = (int)k;
        if (n) {
            r = row_add(t, ceil, K_CAPI, nb, "libparmapper C API", "array", NULL);
            cmd_c(r, "memory", "capi");
            arg(r, "input=array");
            r->input = 1;
        }
        r = row_add(t, ceil, K_CPP, nb, "libparmapper C++ layer", "pm::generate", NULL);
        cmd_cpp(r, "memory");
        for (b = 0; b < N_BINDINGS; b++) {
            if (!binding_rows(&bindings[b], k == 0))
                continue;
            r = row_add(t, ceil, K_BINDING, nb, bindings[b].label, "pull", NULL);
            cmd_binding(r, &bindings[b], "memory");
        }
        for (i = first; i < t->n; i++) {
            arg(&t->rows[i], "n=%" PRIu64, n);
            arg(&t->rows[i], "stop=%" PRIu64, C.endless_n);
            arg(&t->rows[i], "p=%u", C.processes);
        }
        r = row_add(t, ceil, K_PY, nb_py, "Python Pool.imap, chunksize 1,000", "generator", NULL);
        cmd_py(r, "memory");
        arg(r, "n=%" PRIu64, n ? n_py : 0);
        arg(r, "stop=%" PRIu64, n_py);
        arg(r, "p=%u", C.processes);
    }
    table_run(t);

    md_begin("### 5. The caller's peak memory (trivial items, ordered)", headers);
    for (i = 0; i < t->n; i++) {
        const struct row *r = &t->rows[i], *ref = r->ref >= 0 ? &t->rows[r->ref] : NULL;
        char v[5][64];
        fmt_num(v[0], 64, rate(r) / 1e6, 2);
        fmt_num(v[1], 64, r->med.rss_peak / 1024, 1);
        fmt_num(v[2], 64, (r->med.rss_peak - r->med.rss_start) / 1024, 1);
        /* Growth against growth: an array row's peak also holds the
         * caller's own input array, which the ceiling's generator lacks. */
        if (r->ceiling)
            snprintf(v[3], 64, "ceiling");
        else if (ref && !isnan(r->med.rss_peak))
            snprintf(v[3], 64, "%+.1f",
                     ((r->med.rss_peak - r->med.rss_start) -
                      (ref->med.rss_peak - ref->med.rss_start)) / 1024);
        else
            snprintf(v[3], 64, "—");
        fmt_num(v[4], 64, r->med.rss_early / 1024, 1);
        if (isnan(r->med.rss_early))
            snprintf(v[4], 64, "—");
        print_row(r, v, 5);
    }
    table_end(t, "Peak RSS: VmHWM of the measuring process at the end; \"above start\": its growth "
           "from just before the map. The endless generator never ends; the caller stops after "
           "the given number of results and destroys the map; \"peak at 10 %\" was read when a "
           "tenth of them had arrived. The ceiling generates its items in the parent, 1,000 per "
           "message, 2 in flight per worker. libparmapper with default options but ordered "
           "(the default) and the process count. The array rows' peak includes the caller's own "
           "input array (8 bytes an item), hence the growth columns.");
    {
        /* Independent of the input length: the pull rows' peaks within 1 MiB (or 10 %). */
        struct tally ta;
        double lo = INFINITY, hi = -INFINITY;
        tally_init(&ta);
        for (i = 0; i < t->n; i++) {
            const struct row *r = &t->rows[i];
            if (r->kind == K_CAPI && r->input == 0) {
                tally_add(&ta, r->cells[0], r->med.rss_peak / 1024, 1);
                if (r->med.rss_peak < lo)
                    lo = r->med.rss_peak;
                if (r->med.rss_peak > hi)
                    hi = r->med.rss_peak;
            }
        }
        {
            char m[240];
            snprintf(m, sizeof m, "peak RSS (MiB), pull: %s", ta.text);
            add_target("5. caller's memory independent of the input length (pull peaks within "
                       "1 MiB or 10 % of each other)",
                       m, ta.n >= 2 ? (hi - lo <= 1024 || hi <= lo * 1.1) : -1);
        }
    }
    table_free(t);
}

/* ------------------------------------------------------------------------ */
/* Workload 6: item sizes. */

static void w6_sizes(void)
{
    static const char *const headers[] = {"item size", "items", "way", "input", "M items/s",
                                          "GB/s in", "vs ceiling", NULL};
    struct table *t = table_new("6. item sizes");
    size_t i, s, b;

    for (s = 0; s < C.n_sizes; s++) {
        uint64_t size = C.sizes[s];
        uint64_t n = C.sizes_total / size;
        size_t chunk = size >= ((uint64_t)1 << 20) ? 1 : (size_t)(((uint64_t)1 << 20) / size);
        char sb[32], nb[32];
        int ceil_idx, ceil_bytes;
        size_t first = t->n;
        struct row *r;

        if (chunk > 1000)
            chunk = 1000;
        if (n > C.sizes_max_n)
            n = C.sizes_max_n;
        if (n < 2)
            n = 2;
        fmt_bytes(sb, sizeof sb, size);
        fmt_count(nb, sizeof nb, n);
        r = row_add(t, -1, K_SERIAL, sb, nb, "serial loop", "array", NULL);
        cmd_c(r, "sizes", "serial");
        r = row_add(t, -1, K_CEIL, sb, nb, "hand-written pool (ceiling), indices", "array", NULL);
        cmd_c(r, "sizes", "ceil");
        arg(r, "bytes=0");
        arg(r, "chunk=%zu", chunk);
        r->ceiling = 1;
        ceil_idx = row_index(t, r);
        r = row_add(t, -1, K_CEIL, sb, nb, "hand-written pool (ceiling), bytes", "array", NULL);
        cmd_c(r, "sizes", "ceil");
        arg(r, "bytes=1");
        arg(r, "chunk=%zu", chunk);
        r->ceiling = 1;
        ceil_bytes = row_index(t, r);
        r = row_add(t, ceil_idx, K_CAPI, sb, nb, "libparmapper C API", "array", NULL);
        cmd_c(r, "sizes", "capi");
        arg(r, "input=array");
        r = row_add(t, ceil_idx, K_CAPI, sb, nb, "libparmapper C API", "records", NULL);
        cmd_c(r, "sizes", "capi");
        arg(r, "input=records");
        r = row_add(t, ceil_bytes, K_CAPI, sb, nb, "libparmapper C API", "pull", NULL);
        cmd_c(r, "sizes", "capi");
        arg(r, "input=pull");
        r = row_add(t, ceil_bytes, K_PY, sb, nb, "Python Pool.imap (bytes items)", "list", NULL);
        cmd_py(r, "sizes");
        arg(r, "chunk=%zu", chunk);
        for (b = 0; b < N_BINDINGS; b++) {
            if (!binding_rows(&bindings[b], s == 0))
                continue;
            r = row_add(t, ceil_idx, K_BINDING, sb, nb, bindings[b].label, "array", NULL);
            cmd_binding(r, &bindings[b], "sizes");
        }
        for (i = first; i < t->n; i++) {
            arg(&t->rows[i], "n=%" PRIu64, n);
            arg(&t->rows[i], "size=%" PRIu64, size);
            arg(&t->rows[i], "p=%u", C.processes);
        }
    }
    table_run(t);

    md_begin("### 6. Item sizes (work: sum of the item's 8-byte words; 8-byte results)", headers);
    for (i = 0; i < t->n; i++) {
        const struct row *r = &t->rows[i];
        char v[3][64];
        fmt_num(v[0], 64, rate(r) / 1e6, 3);
        fmt_num(v[1], 64, r->med.bytes / r->med.seconds / 1e9, 2);
        ratio_cell(t, r, v[2], 64);
        print_row(r, v, 3);
    }
    {
        char note[512], nmax[32];
        snprintf(note, sizeof note,
                 "About %" PRIu64 " MiB of items per size (at most %s items), ordered, "
                 "%u processes, automatic chunks for libparmapper. The ceilings send %s items "
                 "per message (1,000 at most, 2 messages in flight per worker): either the "
                 "index range only, the workers reading their fork-time copy of the array "
                 "(the reference for array and records input), or the items' bytes (for pull "
                 "input and Python).",
                 C.sizes_total >> 20, fmt_count(nmax, sizeof nmax, C.sizes_max_n), C.processes,
                 "1 MiB worth of");
        table_end(t, note);
    }
    table_free(t);
}

/* ------------------------------------------------------------------------ */

static void print_targets(void)
{
    static const char *const headers[] = {"target (issue 11)", "measured", "verdict", NULL};
    size_t i;

    if (n_targets == 0)
        return;
    md_begin("### Targets", headers);
    for (i = 0; i < n_targets; i++) {
        const char *cells[3] = {targets[i].what, targets[i].measured, targets[i].verdict};
        md_row(cells);
    }
    md_end("Ratios from this run only. The targets are stated for a 2-core machine.");
}

static void print_header(void)
{
    struct utsname u;
    char model[128] = "unknown CPU", line[256], date[64], py[300] = "no Python";
    FILE *f = fopen("/proc/cpuinfo", "r");
    time_t now = time(NULL);

    if (f) {
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                if (p) {
                    snprintf(model, sizeof model, "%s", p + 2);
                    model[strcspn(model, "\n")] = '\0';
                }
                break;
            }
        fclose(f);
    }
    if (C.python) {
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "'%s' -c 'import platform; print(platform.python_version())'",
                 C.python);
        f = popen(cmd, "r");
        if (f) {
            if (fgets(line, sizeof line, f)) {
                line[strcspn(line, "\n")] = '\0';
                snprintf(py, sizeof py, "Python %s", line);
            }
            pclose(f);
        }
    }
    uname(&u);
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&now));
    printf("## libparmapper %s benchmark\n\n", pm_version_string());
    printf("%s; %u online CPUs (%s); Linux %s; %s; pmbench built %s with %s %s; "
           "%u processes unless said; median of %u runs per row, runs interleaved, each run "
           "a fresh process after a warm-up of a few items.\n",
           date, C.cpus, model, u.release, py, PMBENCH_BUILDTYPE,
#ifdef __clang__
           "clang",
#else
           "gcc",
#endif
           __VERSION__, C.processes, C.runs);
    fflush(stdout);
}

/* ------------------------------------------------------------------------ */
/* Options. */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pmbench [--quick | --smoke] [options]\n"
            "  --runs N               runs per row (median; default 5, quick 3, smoke 1)\n"
            "  --workloads LIST       e.g. 1,3,5 (default: all of 1-6)\n"
            "  --processes N          workers for workloads 1, 3, 5, 6 (default: online CPUs)\n"
            "  --trivial-items LIST   workload 1 (default 1000000,10000000)\n"
            "  --unbatched-max N      workload 1: chunk-size-1 rows only for item counts up\n"
            "                         to N (1000000; 0.2.0's engine takes 2 min for 10^7)\n"
            "  --py-unbatched-max N   Python's chunksize-1 rows: at most N items (200000)\n"
            "  --cpu-items N          workload 2 (4000)\n"
            "  --cpu-span N           workload 2: integers per item, ~1 ms at 6000 (6000)\n"
            "  --cpu-max-processes N  workload 2: 1 .. N processes (max(2, online CPUs))\n"
            "  --big-items N          workload 3 (1024)\n"
            "  --big-size BYTES       workload 3: bytes per result (1048576)\n"
            "  --start-workers LIST   workload 4 (2,4,8)\n"
            "  --start-mib N          workload 4: the big parent's touched MiB (1024)\n"
            "  --start-cycles N       workload 4: start-stop cycles per run (3)\n"
            "  --memory-items LIST    workload 5 (1000000,10000000)\n"
            "  --endless-items N      workload 5: results taken from the endless input (30000000)\n"
            "  --py-memory-max N      Python's workload-5 rows: at most N items (10000000)\n"
            "  --sizes LIST           workload 6: item bytes (8,64,512,4096,32768,262144,1048576)\n"
            "  --sizes-mib N          workload 6: MiB of items per size (256)\n"
            "  --sizes-max-items N    workload 6: at most N items per size (1000000)\n"
            "  --python PATH|none     the interpreter for the Python rows (/usr/bin/python3)\n"
            "  --quiet                no progress lines on stderr\n"
            "  --no-bindings          the bindings' rows say n/a, even where built\n"
            "  --inject-wrong         make libparmapper's work get item 1 wrong (tests that\n"
            "                         a wrong result fails the run)\n"
            "Tables go to stdout as Markdown. Exit status 1 if a run fails or a result is wrong.\n");
}

static uint64_t parse_u64(const char *opt, const char *s)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "pmbench: %s: bad number %s\n", opt, s);
        exit(2);
    }
    return (uint64_t)v;
}

static size_t parse_list(const char *opt, const char *s, uint64_t *out)
{
    char buf[512], *tok, *save = NULL;
    size_t n = 0;

    snprintf(buf, sizeof buf, "%s", s);
    for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_LIST) {
            fprintf(stderr, "pmbench: %s: at most %d values\n", opt, MAX_LIST);
            exit(2);
        }
        out[n++] = parse_u64(opt, tok);
    }
    if (n == 0) {
        fprintf(stderr, "pmbench: %s: empty list\n", opt);
        exit(2);
    }
    return n;
}

static void set_list(uint64_t *dst, size_t *n, const uint64_t *src, size_t count)
{
    memcpy(dst, src, count * sizeof *src);
    *n = count;
}

static void defaults(int mode) /* 0 full, 1 quick, 2 smoke */
{
    static const uint64_t triv_full[] = {1000000, 10000000}, triv_quick[] = {100000, 1000000},
                          triv_smoke[] = {3000};
    static const uint64_t mem_full[] = {1000000, 10000000}, mem_quick[] = {100000, 1000000},
                          mem_smoke[] = {2000, 6000};
    static const uint64_t sizes_full[] = {8, 64, 512, 4096, 32768, 262144, 1048576},
                          sizes_smoke[] = {8, 4096, 1048576};
    static const unsigned start_full[] = {2, 4, 8}, start_smoke[] = {2};
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    C.cpus = cpus > 0 ? (unsigned)cpus : 1;
    C.processes = C.cpus;
    C.cpu_max_p = C.cpus > 2 ? C.cpus : 2;
    C.ceil_depth_batched = 4;
    C.ceil_depth_unbatched = 64;
    C.unbatched_max = 1000000;
    C.big_size = (size_t)1 << 20;
    C.cpu_span = 6000;
    if (mode == 0) {
        C.runs = 5;
        set_list(C.trivial_n, &C.n_trivial, triv_full, 2);
        C.py_unbatched_max = 200000;
        C.cpu_n = 4000;
        C.big_n = 1024;
        memcpy(C.start_workers, start_full, sizeof start_full);
        C.n_start = 3;
        C.start_mib = 1024;
        C.start_cycles = 3;
        set_list(C.mem_n, &C.n_mem, mem_full, 2);
        C.endless_n = 30000000;
        C.py_memory_max = 10000000;
        set_list(C.sizes, &C.n_sizes, sizes_full, 7);
        C.sizes_total = (uint64_t)256 << 20;
        C.sizes_max_n = 1000000;
    } else if (mode == 1) {
        C.runs = 3;
        set_list(C.trivial_n, &C.n_trivial, triv_quick, 2);
        C.py_unbatched_max = 50000;
        C.unbatched_max = 100000;
        C.cpu_n = 1000;
        C.big_n = 256;
        memcpy(C.start_workers, start_full, sizeof start_full);
        C.n_start = 2;
        C.start_mib = 256;
        C.start_cycles = 3;
        set_list(C.mem_n, &C.n_mem, mem_quick, 2);
        C.endless_n = 2000000;
        C.py_memory_max = 1000000;
        set_list(C.sizes, &C.n_sizes, sizes_full, 7);
        C.sizes_total = (uint64_t)32 << 20;
        C.sizes_max_n = 100000;
    } else {
        C.runs = 1;
        set_list(C.trivial_n, &C.n_trivial, triv_smoke, 1);
        C.py_unbatched_max = 3000;
        C.unbatched_max = 3000;
        C.cpu_n = 12;
        C.cpu_span = 300;
        C.cpu_max_p = 2;
        C.big_n = 6;
        C.big_size = (size_t)256 << 10;
        memcpy(C.start_workers, start_smoke, sizeof start_smoke);
        C.n_start = 1;
        C.start_mib = 16;
        C.start_cycles = 1;
        set_list(C.mem_n, &C.n_mem, mem_smoke, 2);
        C.endless_n = 5000;
        C.py_memory_max = 5000;
        set_list(C.sizes, &C.n_sizes, sizes_smoke, 3);
        C.sizes_total = (uint64_t)2 << 20;
        C.sizes_max_n = 500;
        C.quiet = 1;
        C.smoke = 1;
    }
}

int main(int argc, char **argv)
{
    int i, mode = 0, any;
    const char *python = "/usr/bin/python3";
    static char self[4096];
    ssize_t n;

    /* First: the exec-mode rows' workers are runs of this program. */
    pm_worker_serve(argc, argv);
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child_main(argc - 2, argv + 2);

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            mode = 1;
        else if (strcmp(argv[i], "--smoke") == 0)
            mode = 2;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    defaults(mode);
    for (i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t list[MAX_LIST];
        size_t k, cnt;

#define NEEDS_VALUE                                                   \
    do {                                                              \
        if (!v) {                                                     \
            fprintf(stderr, "pmbench: %s needs a value\n", o);        \
            return 2;                                                 \
        }                                                             \
        i++;                                                          \
    } while (0)
        if (strcmp(o, "--quick") == 0 || strcmp(o, "--smoke") == 0) {
            continue;
        } else if (strcmp(o, "--quiet") == 0) {
            C.quiet = 1;
        } else if (strcmp(o, "--inject-wrong") == 0) {
            C.inject_wrong = 1;
        } else if (strcmp(o, "--no-bindings") == 0) {
            C.no_bindings = 1;
        } else if (strcmp(o, "--runs") == 0) {
            NEEDS_VALUE;
            C.runs = (unsigned)parse_u64(o, v);
            if (C.runs == 0 || C.runs > MAX_RUNS) {
                fprintf(stderr, "pmbench: --runs: 1 to %d\n", MAX_RUNS);
                return 2;
            }
        } else if (strcmp(o, "--workloads") == 0) {
            NEEDS_VALUE;
            cnt = parse_list(o, v, list);
            memset(C.only, 0, sizeof C.only);
            for (k = 0; k < cnt; k++) {
                if (list[k] < 1 || list[k] > 6) {
                    fprintf(stderr, "pmbench: --workloads: 1 to 6\n");
                    return 2;
                }
                C.only[list[k]] = 1;
            }
        } else if (strcmp(o, "--processes") == 0) {
            NEEDS_VALUE;
            C.processes = (unsigned)parse_u64(o, v);
            if (C.processes == 0)
                C.processes = C.cpus;
        } else if (strcmp(o, "--trivial-items") == 0) {
            NEEDS_VALUE;
            C.n_trivial = parse_list(o, v, C.trivial_n);
        } else if (strcmp(o, "--unbatched-max") == 0) {
            NEEDS_VALUE;
            C.unbatched_max = parse_u64(o, v);
        } else if (strcmp(o, "--py-unbatched-max") == 0) {
            NEEDS_VALUE;
            C.py_unbatched_max = parse_u64(o, v);
        } else if (strcmp(o, "--cpu-items") == 0) {
            NEEDS_VALUE;
            C.cpu_n = parse_u64(o, v);
        } else if (strcmp(o, "--cpu-span") == 0) {
            NEEDS_VALUE;
            C.cpu_span = (unsigned)parse_u64(o, v);
        } else if (strcmp(o, "--cpu-max-processes") == 0) {
            NEEDS_VALUE;
            C.cpu_max_p = (unsigned)parse_u64(o, v);
        } else if (strcmp(o, "--big-items") == 0) {
            NEEDS_VALUE;
            C.big_n = parse_u64(o, v);
        } else if (strcmp(o, "--big-size") == 0) {
            NEEDS_VALUE;
            C.big_size = (size_t)parse_u64(o, v);
        } else if (strcmp(o, "--start-workers") == 0) {
            NEEDS_VALUE;
            cnt = parse_list(o, v, list);
            for (k = 0; k < cnt; k++)
                C.start_workers[k] = (unsigned)list[k];
            C.n_start = cnt;
        } else if (strcmp(o, "--start-mib") == 0) {
            NEEDS_VALUE;
            C.start_mib = parse_u64(o, v);
        } else if (strcmp(o, "--start-cycles") == 0) {
            NEEDS_VALUE;
            C.start_cycles = (unsigned)parse_u64(o, v);
        } else if (strcmp(o, "--memory-items") == 0) {
            NEEDS_VALUE;
            C.n_mem = parse_list(o, v, C.mem_n);
        } else if (strcmp(o, "--endless-items") == 0) {
            NEEDS_VALUE;
            C.endless_n = parse_u64(o, v);
        } else if (strcmp(o, "--py-memory-max") == 0) {
            NEEDS_VALUE;
            C.py_memory_max = parse_u64(o, v);
        } else if (strcmp(o, "--sizes") == 0) {
            NEEDS_VALUE;
            C.n_sizes = parse_list(o, v, C.sizes);
        } else if (strcmp(o, "--sizes-mib") == 0) {
            NEEDS_VALUE;
            C.sizes_total = parse_u64(o, v) << 20;
        } else if (strcmp(o, "--sizes-max-items") == 0) {
            NEEDS_VALUE;
            C.sizes_max_n = parse_u64(o, v);
        } else if (strcmp(o, "--python") == 0) {
            NEEDS_VALUE;
            python = strcmp(v, "none") == 0 ? NULL : v;
        } else {
            usage(stderr);
            return 2;
        }
#undef NEEDS_VALUE
    }
    for (i = 1, any = 0; i <= 6; i++)
        any |= C.only[i];
    if (!any)
        for (i = 1; i <= 6; i++)
            C.only[i] = 1;
    for (size_t k = 0; k < C.n_sizes; k++)
        if (C.sizes[k] == 0 || C.sizes[k] % 8 != 0) {
            fprintf(stderr, "pmbench: --sizes: multiples of 8 bytes\n");
            return 2;
        }
    if (C.big_size == 0 || C.big_size % 8 != 0 || C.cpu_n == 0 || C.big_n == 0) {
        fprintf(stderr, "pmbench: bad sizes\n");
        return 2;
    }

    n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("pmbench: /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    C.self = self;
    C.srcdir = getenv("PMBENCH_SOURCE_DIR") ? getenv("PMBENCH_SOURCE_DIR") : PMBENCH_SOURCE_DIR;
    C.worklib = getenv("PMBENCH_WORK_LIB") ? getenv("PMBENCH_WORK_LIB") : PMBENCH_WORK_LIB;
    C.python = python && access(python, X_OK) == 0 ? python : NULL;
    if (python && !C.python)
        fprintf(stderr, "pmbench: %s not found: the Python rows say n/a\n", python);

    print_header();
    if (C.only[1])
        w1_trivial();
    if (C.only[2])
        w2_cpu();
    if (C.only[3])
        w3_big();
    if (C.only[4])
        w4_start();
    if (C.only[5])
        w5_memory();
    if (C.only[6])
        w6_sizes();
    print_targets();
    return 0;
}
