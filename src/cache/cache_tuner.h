/*
 * cache_tuner.h — the window tuner of the cache's W-TinyLFU: it chooses the
 * share of the capacity the window LRU gets.
 *
 * W-TinyLFU with the right window share for the workload is within half a
 * point of the best published policy nearly everywhere (docs/cache-policy.md):
 * 1 % for frequency-heavy workloads and loops, about 20 % for web traces,
 * 80 % and more for recency-heavy ones. The tuner runs three shadow
 * W-TinyLFU caches with fixed window shares of 1, 20 and 80 % on the same
 * accesses as the cache, so their hit counts differ only by their window;
 * every epoch (2 x the capacity accesses) each shadow's score becomes
 * 0.9 x its score + its hits in the epoch, and the share moves 5 % of the
 * capacity towards the share of the shadow with the best score. This is set
 * dueling (Qureshi et al., ISCA 2007) with miniature simulations
 * (Waldspurger et al., USENIX ATC 2017): a shadow holds at most 1024
 * entries, and for a larger cache it sees only the keys whose seeded mix of
 * the hash falls in a sample of rate 1024 / capacity. Its cost is bounded
 * whatever the cache's size (gomap__tuner_bytes: about 64 KiB for caches of
 * 1024 entries and more) and an access to a key outside the sample costs a
 * mix and a compare.
 *
 * bench/cache's simulator (gomap-cachesim, policy "ours") runs this code.
 * Deterministic from its seed. Not thread-safe: the cache calls it under
 * its shard lock.
 */
#ifndef GOMAP_CACHE_TUNER_H
#define GOMAP_CACHE_TUNER_H

#include <stddef.h>
#include <stdint.h>

#include "base/alloc.h"

typedef struct cache_tuner cache_tuner;

/* A tuner for a cache of `capacity` entries (0 counts as 1), its sample,
 * sketches and admission jitter seeded by `seed`; its share starts at 1 %.
 * NULL when out of memory. */
cache_tuner *gomap__tuner_new(size_t capacity, uint64_t seed, const gomap_allocator *a);

/* Records one access to the key of this hash: call it for every get hit,
 * get miss and set of a new key (what the simulator calls an access). */
void gomap__tuner_access(cache_tuner *t, uint64_t hash);

/* The window share (0..1) the cache should use now; it changes only at the
 * end of an epoch, by at most 5 % of the capacity. */
double gomap__tuner_window_share(const cache_tuner *t);

/* Bytes the tuner holds (its struct, the shadows and their sketches). */
size_t gomap__tuner_bytes(const cache_tuner *t);

/* Frees t (NULL is ignored); `a` is the allocator it was made with. */
void gomap__tuner_free(cache_tuner *t, const gomap_allocator *a);

#endif /* GOMAP_CACHE_TUNER_H */
