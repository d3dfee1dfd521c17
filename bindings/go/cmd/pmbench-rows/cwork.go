package main

// The work=c variant: the same work as C work functions
// (parmapper.RegisterC), which the binding runs in forked workers by
// default (in exec-started ones with PARMAPPER_START=exec). They are given
// the item's index, so the wrong item is picked by it, as in bench/child.c.

/*
#cgo pkg-config: parmapper
#include <parmapper.h>
#include <stdint.h>
#include <string.h>

// Set from Go at initialisation: forked workers inherit them, exec-started
// ones set them again in their own run.
static uint64_t pmr_span = 6000, pmr_wrong = UINT64_MAX;
static size_t pmr_rsize = 1 << 20;

static void pmr_set(uint64_t span, size_t rsize, uint64_t wrong)
{
    pmr_span = span;
    pmr_rsize = rsize;
    pmr_wrong = wrong;
}

static uint64_t pmr_get(const void *item, size_t len)
{
    uint64_t v = 0;
    memcpy(&v, item, len < 8 ? len : 8); // little-endian host (x86-64, arm64)
    return v;
}

static int pmr_put(pm_sink *out, uint64_t v, uint64_t index)
{
    if (index == pmr_wrong)
        v ^= 1;
    return pm_sink_write(out, &v, sizeof v) != PM_OK;
}

int pmr_trivial(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    return pmr_put(out, pmr_get(item, len) * 2 + 1, index);
}

int pmr_cpu(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    uint64_t first = pmr_get(item, len) * pmr_span + 1, total = 0, n;
    for (n = first; n < first + pmr_span; n++) {
        uint64_t x = n;
        for (; x != 1; total++)
            x = (x & 1) ? 3 * x + 1 : x / 2;
    }
    return pmr_put(out, total, index);
}

int pmr_big(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    uint64_t i = pmr_get(item, len);
    unsigned char *buf;
    size_t off;
    if (pm_sink_reserve(out, pmr_rsize, (void **)&buf) != PM_OK)
        return 1;
    memset(buf, (int)(i & 0xff), pmr_rsize);
    for (off = 0; off + 8 <= pmr_rsize; off += 4096) {
        uint64_t stamp = i + off / 4096;
        memcpy(buf + off, &stamp, sizeof stamp);
    }
    if (index == pmr_wrong && pmr_rsize > 0)
        buf[0] ^= 1;
    return 0;
}

int pmr_sizes(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud)
{
    const unsigned char *p = item;
    uint64_t sum = 0, w;
    size_t k;
    for (k = 0; k + 8 <= len; k += 8) {
        memcpy(&w, p + k, sizeof w);
        sum += w;
    }
    return pmr_put(out, sum, index);
}
*/
import "C"

import (
	"unsafe"

	"parmapper"
)

func init() {
	C.pmr_set(C.uint64_t(params.span), C.size_t(params.rsize), C.uint64_t(params.wrong))
	for _, w := range []struct {
		name string
		fn   unsafe.Pointer
	}{
		{"pmbench.c.trivial", unsafe.Pointer(C.pmr_trivial)},
		{"pmbench.c.cpu", unsafe.Pointer(C.pmr_cpu)},
		{"pmbench.c.big", unsafe.Pointer(C.pmr_big)},
		{"pmbench.c.sizes", unsafe.Pointer(C.pmr_sizes)},
	} {
		if err := parmapper.RegisterC(w.name, w.fn, nil); err != nil {
			panic(err)
		}
	}
}
