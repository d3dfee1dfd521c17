#define _GNU_SOURCE
#include "cwork.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a 64 over the index (8 bytes, little-endian) and the item. */
static uint64_t fnv(const void *item, size_t len, uint64_t index)
{
    const unsigned char *p = item;
    uint64_t h = 14695981039346656037ull;
    size_t i;
    for (i = 0; i < 8; i++) {
        h ^= (index >> (8 * i)) & 0xff;
        h *= 1099511628211ull;
    }
    for (i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int write_u64(pm_sink *out, uint64_t v)
{
    unsigned char b[8];
    int i;
    for (i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return pm_sink_write(out, b, sizeof b);
}

static uint64_t read_u64(const void *item, size_t len)
{
    const unsigned char *p = item;
    uint64_t v = 0;
    size_t i;
    for (i = 0; i < 8 && i < len; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int cwork_fnv(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    (void)ud;
    return write_u64(out, fnv(item, len, index)) != PM_OK;
}

int cwork_fnv_chunk(uint64_t first, size_t count, const void *const *items, const size_t *lens,
                    pm_sink *out, void *ud)
{
    size_t i;
    (void)ud;
    for (i = 0; i < count; i++) {
        if (write_u64(out, fnv(items[i], lens[i], first + i)) != PM_OK)
            return 1;
        if (pm_sink_end_item(out, 0) != PM_OK)
            return 1;
    }
    return 0;
}

/* A float64 (little-endian bits) squared. */
int cwork_square(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    double x;
    uint64_t bits;
    (void)index;
    (void)ud;
    if (len != 8) {
        pm_sink_set_error(out, "square: an item is one float64 (8 bytes)");
        return 1;
    }
    bits = read_u64(item, len);
    memcpy(&x, &bits, sizeof x);
    x *= x;
    memcpy(&bits, &x, sizeof bits);
    return write_u64(out, bits) != PM_OK;
}

/* CPU-bound: n rounds (the item, a uint64) of xorshift64 from the seed
 * index + 1; the result is the final state. */
int cwork_spin(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    uint64_t n = read_u64(item, len), x = index + 1, k;
    (void)ud;
    for (k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return write_u64(out, x) != PM_OK;
}

/* The item is a command, for the tests of failures:
 *   ok:TEXT        the result is TEXT
 *   fail:TEXT      fails with the message TEXT and the payload "payload:TEXT"
 *   segv           dereferences NULL
 *   abort          abort()
 *   exit:N         _exit(N)
 *   sleep:MS       sleeps MS milliseconds, the result is "slept"
 *   hang           never returns
 *   pid            the result is the worker's pid, in decimal
 *   pidfile:PATH   writes its pid to PATH (atomically), then never returns */
int cwork_command(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    char cmd[512];
    (void)index;
    (void)ud;
    if (len >= sizeof cmd) {
        pm_sink_set_error(out, "command: too long");
        return 1;
    }
    memcpy(cmd, item, len);
    cmd[len] = '\0';
    if (strncmp(cmd, "ok:", 3) == 0)
        return pm_sink_write(out, cmd + 3, len - 3) != PM_OK;
    if (strncmp(cmd, "fail:", 5) == 0) {
        char payload[600];
        int n = snprintf(payload, sizeof payload, "payload:%s", cmd + 5);
        pm_sink_set_error(out, cmd + 5);
        pm_sink_set_error_payload(out, payload, (size_t)n);
        return 1;
    }
    if (strcmp(cmd, "segv") == 0) {
        volatile int *p = NULL;
        *p = 1;
        return 0;
    }
    if (strcmp(cmd, "abort") == 0)
        abort();
    if (strncmp(cmd, "exit:", 5) == 0)
        _exit(atoi(cmd + 5));
    if (strncmp(cmd, "sleep:", 6) == 0) {
        usleep((useconds_t)atoi(cmd + 6) * 1000u);
        return pm_sink_write(out, "slept", 5) != PM_OK;
    }
    if (strcmp(cmd, "pid") == 0) {
        char pid[32];
        int n = snprintf(pid, sizeof pid, "%d", (int)getpid());
        return pm_sink_write(out, pid, (size_t)n) != PM_OK;
    }
    if (strcmp(cmd, "hang") == 0)
        for (;;)
            pause();
    if (strncmp(cmd, "pidfile:", 8) == 0) {
        char tmp[600], pid[32];
        int fd, n = snprintf(pid, sizeof pid, "%d", (int)getpid());
        snprintf(tmp, sizeof tmp, "%s.tmp", cmd + 8);
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0 || write(fd, pid, (size_t)n) != n || close(fd) != 0 ||
            rename(tmp, cmd + 8) != 0) {
            pm_sink_set_error(out, "pidfile: cannot write the file");
            return 1;
        }
        for (;;)
            pause();
    }
    pm_sink_set_error(out, "command: unknown command");
    return 1;
}
