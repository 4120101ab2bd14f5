/*
 * hashvariant.h — the hash functions every concurrent-map test runs under.
 *
 * Tests of the sync map (and the other concurrent maps) use uint64_t keys
 * and run each case three times: with the library's own u64 hash, with a
 * degenerate hash (every key collides: one bucket chain, one tophash byte)
 * and with a truncated hash (only a few bits vary: keys crowd a few buckets
 * and share tophash bytes, "near collisions"). Go's sync.Map tests inject
 * the same two hashes.
 */
#ifndef GOMAP_TEST_HASHVARIANT_H
#define GOMAP_TEST_HASHVARIANT_H

#include <gomap.h>

enum hash_variant { HV_BUILTIN, HV_DEGENERATE, HV_TRUNCATED, HV_COUNT };

/* "builtin", "degenerate" or "truncated". */
const char *hash_variant_name(int variant);

/* Sets the key fields of *o for uint64_t keys under `variant`: GOMAP_KEY_U64
 * for HV_BUILTIN, else GOMAP_KEY_CUSTOM with key_size 8, the variant's hash
 * and bytewise equality. Other fields of *o are left alone. */
void hash_variant_keys(gomap_options *o, int variant);

/* The variant of the test case running (set by hash_variant_run_all). */
extern int hv_current;

/* Runs fn once per variant with hv_current set, printing
 * "== name [variant hash]" before each run. */
void hash_variant_run_all(const char *name, void (*fn)(void));
#define RUN_VARIANTS(fn) hash_variant_run_all(#fn, fn)

uint64_t hash_degenerate(const void *key, uint64_t seed);
uint64_t hash_truncated(const void *key, uint64_t seed);

#endif
