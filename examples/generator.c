/*
 * generator: items from a pull callback, and failed items returned in place.
 *
 * The input is a generator: the library's feeder thread calls next_word()
 * until it returns PM_DONE, and each call pushes one variable-size item (a
 * word). The work function parses the word as a number and squares it; a word
 * that is not a number fails its item. In PM_ERRORS_RETURN mode such an item
 * comes back in its place with PM_EITEM and the map goes on.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <parmapper.h>

static const char *const words[] = {
    "3", "14", "15", "ninety-two", "65", "-35", "8.9", "79", "32", "",
};
#define N_WORDS (sizeof words / sizeof words[0])

struct cursor {
    size_t next;
};

/* Runs on the feeder thread, one call at a time. */
static int next_word(pm_feed *feed, void *user_data)
{
    struct cursor *c = user_data;
    const char *w;

    if (c->next == N_WORDS)
        return PM_DONE;
    w = words[c->next++];
    return pm_feed_push(feed, w, strlen(w)); /* PM_OK: call me again */
}

/* Runs in a worker. The item's bytes are not NUL-terminated. */
static int square(const void *item, size_t len, uint64_t index, pm_sink *out,
                  void *user_data)
{
    char text[32], *end;
    char message[64];
    long long n;

    (void)index;
    (void)user_data;
    if (len > 0 && len < sizeof text) {
        memcpy(text, item, len);
        text[len] = '\0';
        n = strtoll(text, &end, 10);
        if (*end == '\0') {
            n *= n;
            return pm_sink_write(out, &n, sizeof n) == PM_OK ? 0 : 1;
        }
    }
    snprintf(message, sizeof message, "not an integer: \"%.*s\"",
             (int)(len < 40 ? len : 40), (const char *)item);
    pm_sink_set_error(out, message);
    return 1;
}

int main(void)
{
    pm_options *opts;
    pm_input *in;
    pm_map *map;
    struct cursor *cursor;
    uint64_t index;
    const void *data;
    size_t len;
    long long n;
    int rc, failed = 0;

    if (pm_options_create(&opts) != PM_OK)
        return 1;
    pm_options_set_error_mode(opts, PM_ERRORS_RETURN);
    pm_options_set_total(opts, N_WORDS); /* a hint: a generator has no length */

    /* free(cursor) runs once the input is done with, even if a call fails. */
    cursor = calloc(1, sizeof *cursor);
    rc = cursor ? pm_input_create_pull(&in, next_word, cursor, free) : PM_ENOMEM;
    if (rc == PM_OK)
        rc = pm_map_create(&map, opts, in, square, NULL, NULL); /* forks */
    pm_options_destroy(opts);
    if (rc != PM_OK) {
        fprintf(stderr, "generator: %s: %s\n", pm_status_str(rc), pm_last_error());
        return 1;
    }

    while ((rc = pm_map_next(map, &index, &data, &len)) != PM_DONE) {
        if (rc == PM_OK) {
            memcpy(&n, data, sizeof n);
            printf("%2" PRIu64 "  %-12s %lld\n", index, words[index], n);
        } else if (rc == PM_EITEM || rc == PM_EWORKER) {
            printf("%2" PRIu64 "  %-12s failed: %s\n", index, words[index],
                   pm_map_error(map));
            failed++;
        } else { /* the map itself failed: it is over */
            fprintf(stderr, "generator: %s: %s\n", pm_status_str(rc), pm_map_error(map));
            pm_map_destroy(map);
            return 1;
        }
    }
    printf("%d of %u items failed\n", failed, (unsigned)N_WORDS);
    pm_map_destroy(map);
    return 0;
}
