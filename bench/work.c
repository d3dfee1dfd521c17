/* The workloads' work; see work.h. */
#include "work.h"

#include <string.h>

#define PAGE 4096u

uint64_t pmb_cpu(uint64_t item, uint32_t span)
{
    uint64_t total = 0;
    uint64_t first = item * span + 1;
    uint64_t n;

    for (n = first; n < first + span; n++) {
        uint64_t x = n;
        while (x != 1) {
            x = (x & 1) ? 3 * x + 1 : x / 2;
            total++;
        }
    }
    return total;
}

uint64_t (*volatile pmb_cpu_fn)(uint64_t item, uint32_t span) = pmb_cpu;

void pmb_big_fill(void *buf, size_t len, uint64_t index)
{
    unsigned char *p = buf;
    size_t off;

    memset(p, (int)(index & 0xff), len);
    for (off = 0; off + 8 <= len; off += PAGE) {
        uint64_t stamp = index + off / PAGE;
        memcpy(p + off, &stamp, sizeof stamp);
    }
}

int pmb_big_check(const void *buf, size_t len, uint64_t index)
{
    const unsigned char *p = buf;
    size_t off;

    if (len == 0)
        return 0;
    for (off = 0; off + 8 <= len; off += PAGE) {
        uint64_t stamp;
        memcpy(&stamp, p + off, sizeof stamp);
        if (stamp != index + off / PAGE)
            return -1;
        if (off + PAGE / 2 < len && p[off + PAGE / 2] != (unsigned char)(index & 0xff))
            return -1;
    }
    /* The last byte: a result cut short or padded shows there. */
    if (len > 8 && p[len - 1] != (unsigned char)(index & 0xff) && (len - 1) % PAGE >= 8)
        return -1;
    return 0;
}

void pmb_item_fill(void *buf, size_t len, uint64_t index)
{
    unsigned char *p = buf;
    uint64_t base = index * PMB_ITEM_MUL;
    size_t k;

    for (k = 0; k < len / 8; k++) {
        uint64_t w = base + k;
        memcpy(p + 8 * k, &w, sizeof w);
    }
}

void pmb_items_fill(void *buf, size_t len, uint64_t n)
{
    uint64_t i;

    for (i = 0; i < n; i++)
        pmb_item_fill((unsigned char *)buf + i * len, len, i);
}

uint64_t pmb_item_sum(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t sum = 0;
    size_t k;

    for (k = 0; k < len / 8; k++) {
        uint64_t w;
        memcpy(&w, p + 8 * k, sizeof w);
        sum += w;
    }
    return sum;
}

uint64_t pmb_item_expected(size_t len, uint64_t index)
{
    uint64_t n = len / 8;
    /* n * (n - 1) / 2 without overflow in the halving: one of them is even. */
    uint64_t tri = (n % 2 == 0) ? (n / 2) * (n - 1) : n * ((n - 1) / 2);
    return n * (index * PMB_ITEM_MUL) + tri;
}
