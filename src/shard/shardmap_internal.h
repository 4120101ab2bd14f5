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

#include "core/layer.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/compiler.h"
#include "base/scope.h"
#include "shard/shard_lock.h"
#include "base/tsan.h"

#define SHARD_SHIFT 40
#define SHARD_ALIGN 128 /* two lines: the adjacent-line prefetcher pairs them */

/* The first line is what a write writes: the lock and the sequence count.
 * The second holds the map pointer, never written after creation, so it
 * stays in every reader's cache; the wait counters, written only after
 * a failed try-lock; and the published entry count and bytes, written
 * only by a release after a write that changed them. Hits and misses are
 * counted per thread lane (struct shard_tally), so an optimistic get writes
 * nothing shared. */
struct shard {
    shard_lock lock;
    _Atomic unsigned seq;     /* odd while a writer changes the map (optimistic maps) */
    gomap_t *map __attribute__((aligned(64))); /* fixed for the shard's life */
    shard_waits waits;
    const void *graveyard_seen; /* map's graveyard head when last checked (held) */
    _Atomic size_t entries;   /* the map's length at the last release (shard_publish) */
    _Atomic size_t bytes_held; /* its bytes held at the last release */
} __attribute__((aligned(SHARD_ALIGN)));

_Static_assert(offsetof(struct shard, seq) + sizeof(unsigned) <= 64,
               "a shard's lock and sequence count share one cache line");

/* One thread lane's counts for one shard. */
struct shard_tally {
    _Atomic uint64_t hits;    /* keyed operations that found their key */
    _Atomic uint64_t misses;  /* ... that did not */
};

struct gomap_shard {
    struct shard *shards;     /* nshards, SHARD_ALIGN-aligned, inside `block` */
    unsigned nshards;
    unsigned mask;            /* nshards - 1 */
    int lock_kind;            /* enum shard_lock_kind */
    int key_kind;
    size_t val_size;
    bool optimistic;          /* gets read without the lock (optimistic_ok) */
    struct shard_tally *tallies; /* nlanes x lane_stride, lane-major, in `block` */
    unsigned nlanes;          /* a power of two */
    unsigned lane_stride;     /* tallies per lane: nshards rounded up to a line */
    uint64_t seed;            /* every shard's core map hashes with it */
    gomap__hasher hasher;     /* their hash function */
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
    return layer_hash(&m->hasher, kind, key);
}

/* ---- counting ------------------------------------------------------------------ */

/* This thread's lane, plus one (0: not yet given one). */
extern _Thread_local unsigned gomap__shard_lane __attribute__((tls_model("initial-exec")));
unsigned gomap__shard_lane_assign(void);

/* Each keyed operation counts once, as a hit or a miss, in the calling
 * thread's lane: threads spread over the lanes, so counting writes a line
 * no other thread writes (unless there are more threads than lanes). */
static inline void shard_count(const gomap_shard_t *m, const struct shard *s, bool hit)
{
    unsigned lane = gomap__shard_lane ? gomap__shard_lane - 1 : gomap__shard_lane_assign();
    struct shard_tally *t =
        &m->tallies[(size_t)(lane & (m->nlanes - 1)) * m->lane_stride + (size_t)(s - m->shards)];
    fetch_add_relaxed(hit ? &t->hits : &t->misses, 1);
}

/* ---- locking ------------------------------------------------------------------- */

/* The fences of the sequence-count protocol. ThreadSanitizer builds never
 * read optimistically (optimistic_ok in shardmap.c) and gcc rejects fences
 * under TSan, so there they are nothing. */
#if defined(GOMAP_TSAN)
#define SEQ_FENCE(fence) ((void)0)
#else
#define SEQ_FENCE(fence) fence()
#endif

/* Outgrown bucket arrays of an optimistic map: taken from its graveyard
 * while the shard is held, freed after a grace period (shardmap.c). */
struct array_hdr *gomap__shard_take_retired(gomap_shard_t *m, struct shard *s);
void gomap__shard_free_retired(gomap_shard_t *m, struct shard *s, struct array_hdr *list);

/* Takes / releases a shard; `shared` for reading. Mutex and spin kinds take
 * it exclusively either way. On an optimistic map an exclusive take makes
 * the shard's sequence count odd and the release makes it even again, so
 * an optimistic reader that overlapped a writer retries. */
static inline void shard_take(const gomap_shard_t *m, struct shard *s, bool shared)
{
    shard_lock_take(&s->lock, m->lock_kind, shared, &s->waits);
    if (!shared && m->optimistic) {
        GOMAP_ASSERT(!(load_relaxed(&s->seq) & 1)); /* no other writer inside */
        store_relaxed(&s->seq, load_relaxed(&s->seq) + 1);
        SEQ_FENCE(fence_release);
    }
}

/* Publishes the shard's entry count and bytes held for gomap_shard_stats,
 * which reads them with relaxed loads and no lock (so a scrape of the
 * stats never waits for a shard, nor makes a get wait). Called with the
 * shard held, before it is released; stores only what changed, so a
 * release after a read or an overwrite writes nothing. Relaxed: a reader
 * gets a value some release published, with no ordering against the map. */
static inline void shard_publish(struct shard *s)
{
    size_t n = layer_len(s->map), bytes = layer_bytes_held(s->map);
    if (load_relaxed(&s->entries) != n)
        store_relaxed(&s->entries, n);
    if (load_relaxed(&s->bytes_held) != bytes)
        store_relaxed(&s->bytes_held, bytes);
}

/* After a write, frees the arrays growth retired, once readers are done
 * with them (gomap__shard_take_retired); never while holding the lock. */
static inline void shard_release(gomap_shard_t *m, struct shard *s)
{
    shard_publish(s);
    unsigned seq = load_relaxed(&s->seq);
    struct array_hdr *retired = NULL;
    if (seq & 1) {
        retired = gomap__shard_take_retired(m, s);
        store_release(&s->seq, seq + 1);
    }
    shard_lock_release(&s->lock, m->lock_kind);
    if (__builtin_expect(retired != NULL, 0))
        gomap__shard_free_retired(m, s, retired);
}


/* Takes / releases every shard, in index order. */
void gomap__shard_take_all(gomap_shard_t *m, bool shared);
void gomap__shard_release_all(gomap_shard_t *m);

/* ---- re-entrancy (shardmap.c) -------------------------------------------------- */

/* Fails with the re-entrancy report if this thread holds a shard of m
 * (inside one of m's callbacks). `site`: the public call's return address. */
void gomap__shard_reentry_slow(const gomap_shard_t *m, const void *site);

static inline void shard_reentry_check(const gomap_shard_t *m, const void *site)
{
    if (gomap__in_callback())
        gomap__shard_reentry_slow(m, site);
}

/* Records that this thread holds shard s of m while a callback runs. */
static inline void shard_hold(const gomap_shard_t *m, const struct shard *s, const void *site)
{
    gomap__scope_enter(m, "a shard", s, site);
}

static inline void shard_unhold(void)
{
    gomap__scope_leave();
}

/* Like gomap_shard_new with a given lock kind, and optimistic gets allowed
 * or not (bench/choice/lock_choice.c). */
int gomap__shard_new_locked(gomap_shard_t **out, const gomap_shard_options *opt, int lock_kind,
                            bool optimistic);

#endif /* GOMAP_SHARDMAP_INTERNAL_H */
