/*
 * shardmap_internal.h — the sharded map's layout, shared by shardmap.c (the
 * operations), shardmap_whole.c (operations on every shard) and
 * shardmap_diag.c (stats, heatmap, validate). docs/shardmap.md has the design.
 *
 * Shape
 *   2^k shards, each a lock and a core map, in one array; each shard's hot
 *   state (lock, map pointer, counters) on its own pair of cache lines, so
 *   threads working on different shards never share a line.
 *
 * Hashing. Every shard's core map hashes with the same fixed seed
 * (gomap__new_seeded), so a key is hashed once: the hash picks the shard and
 * then serves the core map's lookup in it. The core map uses the hash's low
 * B bits (bucket) and its top byte (tophash); the shard comes from bits 40
 * and up, below the top byte (SHARD_SHIFT), which no core map can use until
 * it has 2^40 buckets.
 *
 * Locking. A shard's map is read and written only under its lock: shared
 * (with the read-write kinds; the default, an adaptive mutex, is always
 * exclusive) for get and the first look of load_or_store, exclusive for
 * every write and
 * for visit and compute (their callbacks may change the value). Operations
 * on the whole map (len, snapshot, clear) take every shard in index order;
 * no thread ever holds two shards of one map otherwise, so there is no lock
 * order to get wrong. A thread that holds a shard while running a user
 * callback records it in a thread-local list; any call into the same map
 * from that thread meanwhile is reported as a would-be deadlock.
 */
#ifndef GOMAP_SHARDMAP_INTERNAL_H
#define GOMAP_SHARDMAP_INTERNAL_H

#include <stddef.h>

#include <gomap/shardmap.h>

#include "map_probe.h"
#include "shard_lock.h"

#define SHARD_SHIFT 40
#define SHARD_ALIGN 128 /* two lines: the adjacent-line prefetcher pairs them */

/* The first line holds what a hit writes (the lock and the hit counter), so
 * a hit writes one line; the second what every operation reads (the map
 * pointer) and what is written only on a miss or a wait. */
struct shard {
    shard_lock lock;
    _Atomic uint64_t hits;    /* keyed operations that found their key */
    gomap_t *map;
    _Atomic uint64_t misses;  /* ... that did not */
    shard_waits waits;
} __attribute__((aligned(SHARD_ALIGN)));

_Static_assert(offsetof(struct shard, hits) + sizeof(uint64_t) <= 64,
               "a shard's lock and hit counter share one cache line");

struct gomap_shard {
    struct shard *shards;     /* nshards, SHARD_ALIGN-aligned, inside `block` */
    unsigned nshards;
    unsigned mask;            /* nshards - 1 */
    int lock_kind;            /* enum shard_lock_kind */
    int key_kind;
    size_t val_size;
    uint64_t seed;            /* every shard's core map hashes with it */
    gomap_options opt;        /* as given (for snapshots) */
    void *block;              /* the allocation holding `shards` */
    size_t block_size;
};

static inline struct shard *shard_for(const gomap_shard_t *m, uint64_t hash)
{
    return &m->shards[(hash >> SHARD_SHIFT) & m->mask];
}

/* The map's hash of a key (the shard's and its core map's). */
static inline uint64_t shard_hash(const gomap_shard_t *m, int kind, const void *key)
{
    return hash_of(m->shards[0].map, kind, key);
}

/* Each shard operation counts once, as a hit or a miss. Under the exclusive
 * lock nobody else updates the counter, so a load and a store do; under the
 * shared lock other readers may, so it takes a read-modify-write. */
static inline void shard_count(struct shard *s, bool hit, bool exclusive)
{
    _Atomic uint64_t *c = hit ? &s->hits : &s->misses;
    if (exclusive)
        store_relaxed(c, load_relaxed(c) + 1);
    else
        fetch_add_relaxed(c, 1);
}

/* Takes / releases a shard; `shared` for reading. Mutex and spin kinds take
 * it exclusively either way. */
static inline void shard_take(const gomap_shard_t *m, struct shard *s, bool shared)
{
    shard_lock_take(&s->lock, m->lock_kind, shared, &s->waits);
}

static inline void shard_release(const gomap_shard_t *m, struct shard *s)
{
    shard_lock_release(&s->lock, m->lock_kind);
}

/* Whether this kind's shared acquisitions are really shared. */
static inline bool shard_lock_is_rw(const gomap_shard_t *m)
{
    return m->lock_kind <= SHARD_LOCK_RWLOCK_WRITER;
}

/* The value of a found slot. */
static inline void *value_at(const gomap_t *map, slot_ref r)
{
    return val_of_slot(map, val_slot_at(map, r.b, r.i));
}

/* Memory from the map's allocator (options.alloc, or malloc). */
void *gomap__shard_alloc(const gomap_options *o, size_t size);
void gomap__shard_free_block(const gomap_options *o, void *p, size_t size);

/* Takes / releases every shard, in index order. */
void gomap__shard_take_all(gomap_shard_t *m, bool shared);
void gomap__shard_release_all(gomap_shard_t *m);

/* ---- re-entrancy (shardmap.c) -------------------------------------------------- */

/* Fails with the re-entrancy report if this thread holds a shard of m
 * (inside one of m's callbacks). `site`: the public call's return address. */
void gomap__shard_reentry_slow(const gomap_shard_t *m, const void *site);

extern _Thread_local unsigned gomap__shard_held_depth __attribute__((tls_model("initial-exec")));

static inline void shard_reentry_check(const gomap_shard_t *m, const void *site)
{
    if (__builtin_expect(gomap__shard_held_depth != 0, 0))
        gomap__shard_reentry_slow(m, site);
}

/* Records that this thread holds shard s of m while a callback runs. */
void gomap__shard_hold(const gomap_shard_t *m, const struct shard *s, const void *site);
void gomap__shard_unhold(void);

/* Like gomap_shard_new with a given lock kind (bench/lock_choice.c). */
int gomap__shard_new_locked(gomap_shard_t **out, const gomap_shard_options *opt, int lock_kind);

#endif /* GOMAP_SHARDMAP_INTERNAL_H */
