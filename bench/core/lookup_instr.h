/*
 * lookup_instr.h — what gomap-lookup-instr's C and C++ halves share.
 */
#ifndef GOMAP_BENCH_LOOKUP_INSTR_H
#define GOMAP_BENCH_LOOKUP_INSTR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LOOKUP_INSTR_KEYS 10000
#define LOOKUP_INSTR_LOOKUPS 200000

/* Builds an absl::flat_hash_map of keys[0..LOOKUP_INSTR_KEYS) (value i + 1)
 * and looks up q[0..LOOKUP_INSTR_LOOKUPS) in lookup_loop_absl, printing the
 * checksum; without absl in the build, prints that it is absent. 0 or 1. */
int lookup_instr_absl(const uint64_t *keys, const uint64_t *q);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_BENCH_LOOKUP_INSTR_H */
