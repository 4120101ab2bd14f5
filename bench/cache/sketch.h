/*
 * sketch.h — the count-min sketch of W-TinyLFU (Einziger, Friedman, Manes:
 * "TinyLFU: A Highly Efficient Cache Admission Policy", ACM TOS 2017),
 * as large as Caffeine's FrequencySketch (one 64-bit word of 16 counters per
 * entry of capacity): 4 rows of 4-bit counters (at most 15), each row as
 * wide as the next power of two >= 4 x the capacity; a key's estimate is
 * the least of its 4 counters. Every `sample` (10 x capacity)
 * increments, all counters are halved (the "reset" that ages the history).
 * Rows are indexed by a seeded mix of the key, so an adversary who does not
 * know the seed cannot aim collisions.
 */
#ifndef GOMAP_CACHESIM_SKETCH_H
#define GOMAP_CACHESIM_SKETCH_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t *words; /* 4 rows of width/16 words, 16 counters a word */
    size_t width;    /* counters per row, a power of two */
    uint64_t seed;
    size_t additions, sample;
} sketch;

int sketch_init(sketch *s, size_t capacity, uint64_t seed); /* 0 or -ENOMEM */
void sketch_free(sketch *s);
void sketch_increment(sketch *s, uint32_t key);
unsigned sketch_frequency(const sketch *s, uint32_t key);

#endif /* GOMAP_CACHESIM_SKETCH_H */
