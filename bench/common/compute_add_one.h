/*
 * compute_add_one.h — the counter update the concurrent benchmarks run
 * through gomap_shard_compute: the 8-byte value plus one, an absent key
 * (handed in zeroed) inserted as 1.
 */
#ifndef GOMAP_BENCH_COMPUTE_ADD_ONE_H
#define GOMAP_BENCH_COMPUTE_ADD_ONE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline int compute_add_one(const void *key, void *val, bool *present, void *ctx)
{
    (void)key;
    (void)ctx;
    uint64_t v;
    memcpy(&v, val, sizeof v);
    v++;
    memcpy(val, &v, sizeof v);
    *present = true;
    return 0;
}

#endif /* GOMAP_BENCH_COMPUTE_ADD_ONE_H */
