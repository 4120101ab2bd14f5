/*
 * keystream.h — the seeded key streams every implementation is fed.
 *
 * The formulas are the contract with the Go peer (bench/peers/go/peer.go),
 * which computes the same keys in Go; docs/bench.md states them. All
 * arithmetic is on uint64_t, wrapping.
 */
#ifndef GOMAP_BENCH_KEYSTREAM_H
#define GOMAP_BENCH_KEYSTREAM_H

#include "common/bench.h"

enum {
    STREAM_SET = 0,  /* the keys put in the map, and churn's new keys */
    STREAM_MISS = 1, /* keys never inserted */
    STREAM_PICK = 2, /* which set key a hit query asks for */
    STREAM_COIN = 3  /* hit or miss, for the 50 % workloads */
};

/* splitmix64's finaliser: a bijection of 64-bit words. */
static inline uint64_t ks_mix(uint64_t z)
{
    z ^= z >> 30;
    z *= 0xBF58476D1CE4E5B9ull;
    z ^= z >> 27;
    z *= 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define KS_GOLDEN 0x9E3779B97F4A7C15ull

/* Key i (< 2^40) of a stream. Distinct (stream, i) give distinct keys. */
static inline uint64_t ks_key(uint64_t seed, unsigned stream, uint64_t i)
{
    return ks_mix(seed + (((uint64_t)stream << 40) | i) * KS_GOLDEN);
}

/* Number of lookups (or churn steps) a run makes for a map of n keys, and
 * the rounds an insert or iterate run repeats so that it times at least
 * min_ops operations. */
static inline size_t ks_queries(size_t n, size_t min_ops) { return n > min_ops ? n : min_ops; }
static inline size_t ks_rounds(size_t n, size_t min_ops) { return min_ops / n > 1 ? min_ops / n : 1; }

/* Fills ks with keys [0, count) of `stream` (string keys built from the
 * same numbers). Returns 0 or -ENOMEM. */
int ks_make_set(bench_keyset *ks, bench_key_type type, uint64_t seed, unsigned stream,
                size_t count);

/* The `count` queries of a lookup workload over the n set keys: hit
 * percentage 100, 50 or 0. Every query owns its string bytes (a hit query is
 * a copy of a set key, as a key read from input would be), so no table saves
 * a compare because the stored key and the query share memory. Returns 0 or
 * -ENOMEM. */
int ks_make_queries(bench_keyset *q, bench_key_type type, uint64_t seed, size_t n,
                    size_t count, int hit_percent);

void ks_free(bench_keyset *ks);

#endif /* GOMAP_BENCH_KEYSTREAM_H */
