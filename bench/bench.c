/* Shared helpers of the benchmark; see bench.h. */
#define _POSIX_C_SOURCE 200809L

#include "bench.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *v, size_t n)
{
    if (n == 0)
        return NAN;
    qsort(v, n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long status_kib(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t klen = strlen(key);
    long v = -1;

    if (!f)
        return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
            v = strtol(line + klen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

long bench_rss_kib(void) { return status_kib("VmRSS"); }
long bench_peak_rss_kib(void) { return status_kib("VmHWM"); }

void bench_res_init(struct bench_res *r)
{
    r->seconds = r->items = r->bytes = NAN;
    r->rss_start = r->rss_peak = r->rss_early = NAN;
    r->start = r->stop = NAN;
    r->digest = 0;
}

static const struct {
    const char *key;
    size_t off;
} fields[] = {
    {"seconds", offsetof(struct bench_res, seconds)},
    {"items", offsetof(struct bench_res, items)},
    {"bytes", offsetof(struct bench_res, bytes)},
    {"rss_start_kib", offsetof(struct bench_res, rss_start)},
    {"rss_peak_kib", offsetof(struct bench_res, rss_peak)},
    {"rss_early_kib", offsetof(struct bench_res, rss_early)},
    {"start", offsetof(struct bench_res, start)},
    {"stop", offsetof(struct bench_res, stop)},
};

void bench_res_print(const struct bench_res *r)
{
    size_t i;

    printf("pmbench-result");
    for (i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        double v = *(const double *)(const void *)((const char *)r + fields[i].off);
        if (!isnan(v))
            printf(" %s=%.9g", fields[i].key, v);
    }
    if (r->digest)
        printf(" digest=%016" PRIx64, r->digest);
    printf("\n");
    fflush(stdout);
}

int bench_res_parse(const char *line, struct bench_res *r)
{
    const char *p = line;

    bench_res_init(r);
    if (strncmp(p, "pmbench-result", 14) != 0)
        return -1;
    p += 14;
    while (*p) {
        char key[32];
        size_t k = 0, i;
        char *end;

        while (*p == ' ' || *p == '\n')
            p++;
        if (!*p)
            break;
        while (*p && *p != '=' && *p != ' ' && k + 1 < sizeof key)
            key[k++] = *p++;
        key[k] = '\0';
        if (*p != '=')
            return -1;
        p++;
        if (strcmp(key, "digest") == 0) {
            errno = 0;
            r->digest = strtoull(p, &end, 16);
            if (errno || end == p)
                return -1;
            p = end;
            continue;
        }
        for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (strcmp(key, fields[i].key) == 0)
                break;
        if (i == sizeof fields / sizeof fields[0]) {
            /* An unknown key (a newer program): skip its value. */
            while (*p && *p != ' ')
                p++;
            continue;
        }
        *(double *)(void *)((char *)r + fields[i].off) = strtod(p, &end);
        if (end == p)
            return -1;
        p = end;
    }
    return 0;
}

const char *bench_arg_str(const struct bench_args *a, const char *key, const char *def)
{
    size_t klen = strlen(key);
    int i;

    for (i = 0; i < a->argc; i++)
        if (strncmp(a->argv[i], key, klen) == 0 && a->argv[i][klen] == '=')
            return a->argv[i] + klen + 1;
    return def;
}

uint64_t bench_arg_u64(const struct bench_args *a, const char *key, uint64_t def)
{
    const char *s = bench_arg_str(a, key, NULL);
    char *end;
    unsigned long long v;

    if (!s)
        return def;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "pmbench: %s=%s is not a number\n", key, s);
        exit(2);
    }
    return (uint64_t)v;
}

/* ------------------------------------------------------------------------ */
/* Markdown. */

static size_t md_cols;

void md_begin(const char *title, const char *const *headers)
{
    size_t i;

    if (title)
        printf("\n%s\n\n", title);
    for (md_cols = 0; headers[md_cols]; md_cols++)
        printf("| %s ", headers[md_cols]);
    printf("|\n");
    for (i = 0; i < md_cols; i++)
        printf("| --- ");
    printf("|\n");
}

void md_row(const char *const *cells)
{
    size_t i;

    for (i = 0; i < md_cols; i++)
        printf("| %s ", cells[i] ? cells[i] : "");
    printf("|\n");
    fflush(stdout);
}

void md_end(const char *note)
{
    if (note)
        printf("\n%s\n", note);
    fflush(stdout);
}

char *fmt_count(char *buf, size_t size, uint64_t n)
{
    char digits[32], *out = buf;
    uint64_t m = n;
    int e = 0, len, i;

    /* Round numbers from 10^5 up as powers of ten: 10^6, 2·10^5. */
    if (n >= 100000) {
        while (m % 10 == 0) {
            m /= 10;
            e++;
        }
        if (m < 10 && e >= 5) {
            if (m == 1)
                snprintf(buf, size, "10^%d", e);
            else
                snprintf(buf, size, "%u·10^%d", (unsigned)m, e);
            return buf;
        }
    }
    /* Others with thousands separators: 4,000, 65,536. */
    len = snprintf(digits, sizeof digits, "%" PRIu64, n);
    for (i = 0; i < len && (size_t)(out - buf) + 2 < size; i++) {
        *out++ = digits[i];
        if ((len - i - 1) % 3 == 0 && i != len - 1)
            *out++ = ',';
    }
    *out = '\0';
    return buf;
}

char *fmt_bytes(char *buf, size_t size, uint64_t n)
{
    if (n >= (1u << 20) && n % (1u << 20) == 0)
        snprintf(buf, size, "%" PRIu64 " MiB", n >> 20);
    else if (n >= 1024 && n % 1024 == 0)
        snprintf(buf, size, "%" PRIu64 " KiB", n >> 10);
    else
        snprintf(buf, size, "%" PRIu64 " B", n);
    return buf;
}

char *fmt_num(char *buf, size_t size, double v, int decimals)
{
    if (isnan(v))
        snprintf(buf, size, "n/a");
    else
        snprintf(buf, size, "%.*f", decimals, v);
    return buf;
}
