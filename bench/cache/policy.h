/*
 * policy.h — the one interface of gomap-cachesim's eviction policies.
 *
 * A policy is a cache bounded to `capacity` entries of cost 1 over keys that
 * are dense ids 0..n_keys-1 (trace.h maps a trace's keys to them), so a
 * policy's key table is a plain array indexed by id. access() looks a key up
 * and, on a miss, inserts it (or, for policies with admission, may decline
 * it) and evicts what it must: afterwards len() <= capacity. Randomness
 * (admission jitter, sketch hashing) comes from `seed` only, so a run
 * repeats exactly.
 */
#ifndef GOMAP_CACHESIM_POLICY_H
#define GOMAP_CACHESIM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t capacity;
    uint32_t n_keys;
    uint64_t seed;
    /* The whole trace, for the clairvoyant policy; the others ignore it.
     * Its access() calls must then replay exactly these keys in order. */
    const uint32_t *trace;
    size_t trace_len;
} policy_params;

typedef struct policy policy;

typedef struct {
    const char *name;
    const char *about;
    policy *(*create)(const policy_params *p); /* NULL: out of memory */
    bool (*access)(policy *p, uint32_t key);   /* true on a hit */
    size_t (*len)(const policy *p);
    void (*destroy)(policy *p);
} policy_kind;

extern const policy_kind policy_lru, policy_sieve, policy_s3fifo, policy_wtinylfu,
    policy_wtinylfu_adapt, policy_ours, policy_gomap, policy_belady;

/* Every policy, in the order of the table's columns; NULL-terminated. */
extern const policy_kind *const policy_all[];

/* splitmix64: the seeded generator and key mixer the policies share. */
static inline uint64_t sim_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static inline uint64_t sim_rand(uint64_t *state)
{
    *state += 0x9e3779b97f4a7c15ull;
    return sim_mix64(*state);
}

/* The 64-bit hash the cache would see for a key (its map's seeded hasher):
 * what the library's sketch and tuner (src/cache) take. A policy hashes its
 * keys with a key seed drawn from its run's seed (sim_key_seed). */
static inline uint64_t sim_key_seed(uint64_t seed) { return sim_mix64(seed + 3); }

static inline uint64_t sim_key_hash(uint64_t key_seed, uint32_t key)
{
    return sim_mix64(key ^ key_seed);
}

/* calloc(n, size), never asked for 0 bytes (an empty trace has 0 keys). */
void *sim_calloc(size_t n, size_t size);

#endif /* GOMAP_CACHESIM_POLICY_H */
