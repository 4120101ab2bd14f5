/*
 * hash.h — seeded hashing for every key kind.
 *
 * Integers (and doubles, by their bits) go through one 64x64->128 multiply,
 * folded (the "mum" mixer of wyhash): every input bit reaches both the low
 * bits (bucket index) and the top byte (tophash). Strings and byte keys use
 * XXH3 from libxxhash, compiled inline. docs/dependencies.md says why; the
 * choice is re-measured by gomap-bench.
 */
#ifndef GOMAP_HASH_H
#define GOMAP_HASH_H

#include <stdint.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

static inline uint64_t mum64(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* The multiplier hash_u64 derives from a seed: holders of a seed keep it
 * beside it (gomap__hasher, the core map) and call hash_u64_mul. The odd
 * multiplier keeps the low product a bijection of k ^ seed. */
static inline uint64_t hash_u64_mul_of(uint64_t seed)
{
    return (seed ^ 0x9e3779b97f4a7c15ull) | 1;
}

static inline uint64_t hash_u64_mul(uint64_t k, uint64_t seed, uint64_t mul)
{
    return mum64(k ^ seed, mul);
}

static inline uint64_t hash_u64(uint64_t k, uint64_t seed)
{
    return hash_u64_mul(k, seed, hash_u64_mul_of(seed));
}

/* +0 and -0 hash alike (they are one key). NaN is not handled here: a NaN's
 * hash is random (callers use gomap__rand64), as in Go. */
static inline uint64_t hash_f64(double d, uint64_t seed)
{
    if (d == 0)
        d = 0;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    return hash_u64(bits, seed);
}

static inline uint64_t hash_bytes(const void *p, size_t len, uint64_t seed)
{
    return XXH3_64bits_withSeed(p, len, seed);
}

#endif /* GOMAP_HASH_H */
