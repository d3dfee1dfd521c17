/* C work functions for the Go binding's tests, examples and benchmarks. */
#ifndef PARMAPPER_GO_CWORK_H
#define PARMAPPER_GO_CWORK_H

#include <parmapper.h>
#include <stddef.h>
#include <stdint.h>

int cwork_fnv(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud);
int cwork_fnv_chunk(uint64_t first, size_t count, const void *const *items, const size_t *lens,
                    pm_sink *out, void *ud);
int cwork_square(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud);
int cwork_spin(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud);
int cwork_command(const void *item, size_t len, uint64_t index, pm_sink *out, void *ud);

#endif
