/*
 * Helpers shared by the benchmark's programs: timing, medians, peak memory,
 * the one-line result protocol between the driver and the processes that
 * measure, and Markdown tables, so that every table looks alike.
 */
#ifndef PMBENCH_BENCH_H
#define PMBENCH_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

double bench_now(void);
double bench_median(double *v, size_t n); /* sorts v */

/* This process's resident set now (VmRSS) and its peak (VmHWM), in KiB, from
 * /proc/self/status; -1 if unreadable. */
long bench_rss_kib(void);
long bench_peak_rss_kib(void);

/* What one measurement reports. Fields it does not measure stay NAN; a
 * digest of 0 means none. */
struct bench_res {
    double seconds;    /* the timed region */
    double items;      /* items delivered */
    double bytes;      /* payload bytes moved (bandwidth rows) */
    double rss_start;  /* KiB resident before the timed region */
    double rss_peak;   /* KiB peak resident at the end */
    double rss_early;  /* KiB peak resident part-way (endless input) */
    double start, stop;/* seconds: pool start and stop */
    uint64_t digest;   /* order-sensitive digest of the results */
};
void bench_res_init(struct bench_res *r);

/* Print r as the result line ("pmbench-result key=value ...") on stdout and
 * flush it. The line is the whole protocol: a Python or binding program that
 * prints the same line can be a row of any table. */
void bench_res_print(const struct bench_res *r);
/* Parse a result line; 0 or -1. */
int bench_res_parse(const char *line, struct bench_res *r);

/* key=value arguments of a measurement. */
struct bench_args {
    int argc;
    char **argv;
};
/* The value of key as an unsigned number, or def when absent; exits with a
 * message if it is present but not a number. */
uint64_t bench_arg_u64(const struct bench_args *a, const char *key, uint64_t def);
/* The value of key as a string, or def. */
const char *bench_arg_str(const struct bench_args *a, const char *key, const char *def);

/* Markdown tables. A table is begun with its column headers (NULL-ended),
 * then each row is printed with the same number of cells. */
void md_begin(const char *title, const char *const *headers);
void md_row(const char *const *cells);
void md_end(const char *note); /* note: printed under the table, or NULL */

/* Format helpers for cells (each returns buf). */
char *fmt_count(char *buf, size_t size, uint64_t n);   /* 10^6, 2·10^5, 4,000 */
char *fmt_bytes(char *buf, size_t size, uint64_t n);   /* 8 B, 4 KiB, 1 MiB */
char *fmt_num(char *buf, size_t size, double v, int decimals); /* "n/a" for NAN */

#ifdef __cplusplus
}
#endif

#endif /* PMBENCH_BENCH_H */
