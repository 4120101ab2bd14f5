/*
 * cache_sketch.h — the count-min sketch of the cache's W-TinyLFU admission
 * (Einziger, Friedman, Manes: "TinyLFU: A Highly Efficient Cache Admission
 * Policy", ACM TOS 2017), as large as Caffeine's FrequencySketch: one 64-bit
 * word of 16 counters per entry of capacity: 4-bit counters (at most 15),
 * 4 per key, as many in all as 4 rows each as wide as the next power of two
 * >= 4 x the capacity. A key's 4 counters share one 64-byte block, so an
 * access touches one cache line. A key's estimate is the least of its 4
 * counters. Every `sample` (10 x the
 * capacity) increments, every counter is halved (in effect at once; in
 * work, spread over the increments that follow), which ages the history.
 *
 * Keys are 64-bit hashes from the map's hasher. Each row's index is still a
 * mix of the hash with the sketch's seed, so a caller who can choose keys
 * whose hashes collide in the map cannot aim them at one counter without
 * knowing the seed too.
 *
 * Not thread-safe (the cache calls it under its shard lock). Out of memory
 * leaves the sketch unchanged.
 */
#ifndef GOMAP_CACHE_SKETCH_H
#define GOMAP_CACHE_SKETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"

/* splitmix64's finaliser: the cache's seeded mixer of hashes (the sketch's
 * row indices, the tuner's sample and generator). */
static inline uint64_t cache_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* W-TinyLFU's admission duel, as Caffeine's admit(): the candidate wins
 * with the higher estimate; a warm candidate (estimate >= 6, Caffeine's
 * ADMIT_HASHDOS_THRESHOLD) that loses or ties still wins with probability
 * 1/128, so an attacker who collides keys with a victim cannot pin it.
 * rng is the caller's generator state. */
static inline bool cache_admit(unsigned cand_freq, unsigned victim_freq, uint64_t *rng)
{
    if (cand_freq > victim_freq)
        return true;
    if (cand_freq < 6)
        return false;
    *rng += 0x9e3779b97f4a7c15ull;
    return (cache_mix64(*rng) & 127) == 0;
}

typedef struct cache_sketch {
    uint64_t *words; /* 4 rows of width / 16 words, 16 counters a word,
                        then the blocks' marks (one allocation) */
    uint64_t *marks; /* a bit a 64-byte block: halved since the last
                        sample completed (when equal to parity) */
    size_t width;    /* counters per row, a power of two >= 32 */
    uint64_t seed;
    size_t additions, sample; /* increments since the last halving; its period */
    size_t swept;             /* the next block the halving sweep looks at
                                 (the block count: no sweep in progress) */
    unsigned parity;          /* flips when a sample completes */
} cache_sketch;

/* Sized for `capacity` entries (at least 1), all counts 0, row indices
 * mixed with `seed`. 0, or -ENOMEM (s untouched). */
int gomap__sketch_init(cache_sketch *s, size_t capacity, uint64_t seed, const gomap_allocator *a);

/* Grows the sketch to `capacity` entries if that is more than it was sized
 * for; never shrinks. When the rows must widen, the counts restart from 0
 * (as Caffeine's ensureCapacity); when they are wide enough already, only
 * the halving period grows and the counts stay. 0, or -ENOMEM (s unchanged
 * and usable). `a` is the allocator s was made with. */
int gomap__sketch_ensure(cache_sketch *s, size_t capacity, const gomap_allocator *a);

/* Frees the counters (s may then be initialised again). NULL words are
 * ignored. */
void gomap__sketch_free(cache_sketch *s, const gomap_allocator *a);

/* Counts one occurrence of the key of this hash. When it completes a
 * sample, every counter is halved: in effect at once (every later read
 * and write sees the halved counts), in work a few blocks an increment
 * (O(1) per call). */
void gomap__sketch_increment(cache_sketch *s, uint64_t hash);

/* The estimated count of the key of this hash, 0..15: the least of its 4
 * counters, so never less than its increments since the last halving
 * (up to 15). */
unsigned gomap__sketch_frequency(const cache_sketch *s, uint64_t hash);

/* Bytes of the counters (the struct itself is the caller's). */
size_t gomap__sketch_bytes(const cache_sketch *s);

#endif /* GOMAP_CACHE_SKETCH_H */
