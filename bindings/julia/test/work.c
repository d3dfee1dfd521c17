/* C work functions for the Julia binding's tests, built into a shared
 * library by test/runtests.jl (cc -shared -fPIC). */
#include <parmapper.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* FNV-1a 64 of the index (8 bytes, little-endian) then the item, written
 * little-endian. */
static void fnv(const void *item, size_t len, uint64_t index, unsigned char out[8])
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
    for (i = 0; i < 8; i++)
        out[i] = (unsigned char)(h >> (8 * i));
}

int jlwork_fnv(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    unsigned char h[8];
    (void)ud;
    fnv(item, len, index, h);
    return pm_sink_write(out, h, sizeof h) != PM_OK;
}

int jlwork_fnv_chunk(uint64_t first, size_t count, const void *const *items, const size_t *lens,
                     pm_sink *out, void *ud)
{
    size_t i;
    unsigned char h[8];
    (void)ud;
    for (i = 0; i < count; i++) {
        fnv(items[i], lens[i], first + i, h);
        if (pm_sink_write(out, h, sizeof h) != PM_OK || pm_sink_end_item(out, 0) != PM_OK)
            return 1;
    }
    return 0;
}

/* "ok:TEXT", "fail:TEXT" (message TEXT, payload "payload:TEXT"), "segv",
 * "abort", "exit:N", "hang". */
int jlwork_command(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    char cmd[256];
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
        char payload[300];
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
    if (strcmp(cmd, "hang") == 0)
        for (;;)
            pause();
    pm_sink_set_error(out, "command: unknown command");
    return 1;
}
