/*
 * shardmap_internal.h — the sharded map's layout, shared by shardmap.c (the
 * operations), shardmap_whole.c (operations on every shard),
 * shardmap_diag.c (stats, heatmap, validate) and shardmap_resize.c (tables,
 * resize, auto mode). docs/shardmap.md has the design.
 *
 * Shape
 *   2^k shards, each a lock and a core map, in one array of a table that
 *   the map points to (a resize builds a second table and moves the
 *   entries into it, shardmap_resize.c); each shard's hot state (lock, map
 *   pointer, counters) on its own pair of cache lines, so threads working
 *   on different shards never share a line.
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
 * on the whole map (len, snapshot, clear) take every shard in index order
 * (the head table's, then a move's target's); a resize holds the old
 * shards of one group, in index order; no thread ever holds two shards of
 * one map otherwise, so there is no lock order to get wrong. A thread that holds a shard while running a user
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
#include "base/latency.h"
#include "base/scope.h"
#include "shard/shard_lock.h"
#include "shard/shard_tune.h"
#include "base/tsan.h"

#define SHARD_SHIFT 40
#define SHARD_ALIGN 128 /* two lines: the adjacent-line prefetcher pairs them */

struct shard_table;

/* The first line is what a write writes: the lock and the sequence count.
 * The second holds what is fixed once the shard holds entries (its map,
 * table, index) and the moved mark, which stay in every reader's cache;
 * the acquisition count, written by every holder (a plain load and store
 * when the lock is exclusive); the wait counters, written only after a
 * failed try-lock; and the published entry count and bytes, written only by
 * a release after a write that changed them. Hits and misses are counted
 * per thread lane (struct shard_tally), so an optimistic get writes
 * nothing shared. */
struct shard {
    shard_lock lock;
    _Atomic unsigned seq;     /* odd while a writer changes the map (optimistic maps) */
    gomap_t *map __attribute__((aligned(64))); /* the first table's: fixed at creation;
                                 a move's target's: NULL until the move of its
                                 group installs it (before the old shards'
                                 moved marks, which publish it), then fixed */
    struct shard_table *table; /* fixed */
    unsigned index;           /* fixed: its place in table->shards */
    _Atomic bool moved;       /* set for good, under the lock, by the move
                                 that emptied it into table->next */
    _Atomic uint64_t acquisitions; /* lock acquisitions, counted by the holder */
    uint64_t win_mask;        /* the holder ends a tuning window when
                                 acquisitions & win_mask == 0 (UINT64_MAX: never) */
    shard_waits waits;
    _Atomic uint64_t win_waits; /* waits.count at the shard's last window end */
    const void *graveyard_seen; /* map's graveyard head when last checked (held) */
    struct retired_batch *batch; /* outgrown arrays waiting for a grace period
                                 (shardmap.c); NULL: none (held) */
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

/* Counts of tables a move emptied, carried into the table that replaced
 * them, so the map's totals never go down (gomap_shard_stats). */
struct shard_carried {
    uint64_t hits, misses, waits, wait_ns, acquisitions;
};

/* A set of shards: the map's shards now (m->table, the head), or the
 * target of a move in progress (head->next). One block each: this header,
 * the shards and the counting lanes (shardmap_resize.c). Its lifetime:
 * while it is the head, or the target of the head's move, the map owns it;
 * the move that empties it unlinks it, waits for a grace period (no reader
 * that found it without a pin is left) and for its pins to drop to zero,
 * and frees it. A reader holds it without a pin while it holds one of its
 * shards that is not moved (no move can finish before that shard moves). */
struct shard_table {
    struct shard *shards;     /* nshards, SHARD_ALIGN-aligned, in the block */
    struct shard_tally *tallies; /* 2 x nlanes x lane_stride, lane-major, in the
                                 block: nlanes owned lanes, then nlanes shared
                                 ones (shard_count) */
    void *block;              /* the allocation holding all of it */
    size_t block_size;
    struct shard_table *_Atomic next; /* the move's target; NULL when none */
    _Atomic size_t pins;      /* holders outside a read-side section (table_pin) */
    /* The tuning window (shardmap_resize.c), written once per shard
     * window (thousands of acquisitions): sharing the line costs nothing. */
    _Atomic uint64_t win_acq;
    _Atomic uint64_t win_waits;
    struct shard_carried carried; /* written before the table becomes the head */
    unsigned nshards;
    unsigned mask;            /* nshards - 1 */
    unsigned nlanes;          /* owned lanes (and as many shared): a power of two */
    unsigned lane_stride;     /* tallies per lane: nshards rounded up to a line */
    _Atomic unsigned hot_streak; /* consecutive windows over the threshold */
    _Atomic bool want_resize; /* set by a window end; read by releases */
};

struct gomap_shard {
    struct shard_table *_Atomic table; /* the head; replaced by a finished move */
    int lock_kind;            /* enum shard_lock_kind */
    int key_kind;
    size_t val_size;
    bool optimistic;          /* gets read without the lock (optimistic_ok) */
    bool auto_resize;         /* doubles the shards under contention */
    unsigned max_shards;      /* auto mode's bound */
    uint64_t tune_window;     /* acquisitions per map window (auto mode) */
    unsigned tune_permille;   /* a window is hot at waits >= this share */
    uint64_t seed;            /* every shard's core map hashes with it */
    gomap__hasher hasher;     /* their hash function */
    gomap_options opt;        /* as given (for snapshots) */
    pthread_mutex_t resize_mu; /* held by the one thread moving shards */
    _Atomic uint64_t resizes; /* moves finished */
    /* Written by sampled calls (latency.h) and by optimistic gets that a
     * writer got in the way of: rare enough to share. */
    struct lat_hist lat_get;  /* gomap_shard_get */
    struct lat_hist lat_write; /* set, delete, load_or_store, compute */
    _Atomic uint64_t opt_retries;   /* optimistic reads that failed validation */
    _Atomic uint64_t opt_fallbacks; /* optimistic gets that took the lock after */
};

static inline struct shard *table_shard(const struct shard_table *t, uint64_t hash)
{
    return &t->shards[(hash >> SHARD_SHIFT) & t->mask];
}

/* The map's hash of a key (the shard's and its core map's): kind is a
 * constant on the get path (KIND_SWITCH), m->key_kind elsewhere. */
static inline uint64_t shard_hash(const gomap_shard_t *m, int kind, const void *key)
{
    return layer_hash(&m->hasher, kind, key);
}

/* ---- tables (shardmap_resize.c) -------------------------------------------------- */

/* Keeps t from being freed while its holder is outside a read-side
 * section. Pinned inside one (so t is alive when pinned: the move that
 * frees t waits for a grace period after unlinking it, then for its pins to
 * drop). The relaxed add is ordered before that wait by the grace period. */
static inline void table_pin(struct shard_table *t)
{
    fetch_add_relaxed(&t->pins, 1);
}

/* Release: everything the holder did to t happens before the mover's
 * acquire load that sees the pins at zero and frees t. */
static inline void table_unpin(struct shard_table *t)
{
    fetch_sub_release(&t->pins, 1);
}

/* A new table of n shards (a power of two) with their locks, and core maps
 * when with_maps (the first table), else with NULL maps (a move's target).
 * 0, -EINVAL (options the core map rejects) or -ENOMEM; *out NULL then. */
int gomap__shard_table_new(gomap_shard_t *m, unsigned n, bool with_maps, size_t hint,
                           struct shard_table **out);

/* Frees t, its shards' maps and locks. No other thread may reach it. */
void gomap__shard_table_free(gomap_shard_t *m, struct shard_table *t);

/* Called by the holder of s at the end of a tuning window of s. */
void gomap__shard_window_end(gomap_shard_t *m, struct shard *s);

/* After a release that saw want_resize: doubles the shards unless this
 * thread must not (inside a callback or a read-side section) or another
 * resize runs. */
void gomap__shard_auto_resize(gomap_shard_t *m);

/* gomap_shard_resize with m->resize_mu held: completes a pending move,
 * then moves to n shards. 0 or -ENOMEM (see gomap_shard_resize). */
int gomap__shard_resize_locked(gomap_shard_t *m, unsigned n);

/* ---- counting ------------------------------------------------------------------ */

/* This thread's lane, plus one (0: not yet given one). A lane below
 * GOMAP_SHARD_OWNED_LANES is owned: no other live thread has it. */
extern _Thread_local unsigned gomap__shard_lane __attribute__((tls_model("initial-exec")));
unsigned gomap__shard_lane_assign(void);
#define GOMAP_SHARD_OWNED_LANES 64u

/* Adds shard i's hits and misses in table t, over all its lanes (owned and
 * shared), to *hits and *misses. Relaxed: exact once the map is quiet. */
static inline void tally_sum(const struct shard_table *t, unsigned i, uint64_t *hits,
                             uint64_t *misses)
{
    for (unsigned lane = 0; lane < 2 * t->nlanes; lane++) {
        const struct shard_tally *y = &t->tallies[(size_t)lane * t->lane_stride + i];
        *hits += load_relaxed(&y->hits);
        *misses += load_relaxed(&y->misses);
    }
}

/* Each keyed operation counts once, as a hit or a miss, in the calling
 * thread's lane. A thread that owns lane i < nlanes (shardmap.c: from its
 * first counted operation to its exit) is the only writer of owned lane i,
 * so it counts with a load and a store: no locked instruction on a get,
 * which on x86 would also wait for every earlier load and store (the next
 * get's cache miss could not start before it). Any other thread (more
 * threads than the table's lanes, or than GOMAP_SHARD_OWNED_LANES) adds
 * atomically in one of the nlanes shared lanes. Either way a thread writes
 * a line no other thread writes unless there are more threads than lanes.
 * The caller holds s, or reads s's table inside a read-side section. */
static inline void shard_count(const gomap_shard_t *m, const struct shard *s, bool hit)
{
    (void)m;
    const struct shard_table *tb = s->table;
    unsigned lane = gomap__shard_lane ? gomap__shard_lane - 1 : gomap__shard_lane_assign();
    if (lane < tb->nlanes) {
        struct shard_tally *t = &tb->tallies[(size_t)lane * tb->lane_stride + s->index];
        _Atomic uint64_t *c = hit ? &t->hits : &t->misses;
        store_relaxed(c, load_relaxed(c) + 1);
        return;
    }
    size_t shared = tb->nlanes + (lane & (tb->nlanes - 1));
    struct shard_tally *t = &tb->tallies[shared * tb->lane_stride + s->index];
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

/* Outgrown bucket arrays of an optimistic map (shardmap.c): after a write,
 * with the shard held, gives the arrays of a batch whose grace period is
 * over to the shard's map to free (in slices, over its next writes), and
 * hands the arrays on its map's graveyard to RCU as a new batch. Never
 * waits. */
void gomap__shard_settle_retired(gomap_shard_t *m, struct shard *s);

/* For freeing s's table: disposes of s's batch, if any. From plain code it
 * waits for the batch's grace period (gomap__rcu_barrier) and frees it; where
 * it must not wait (gomap__must_not_wait), it hands the batch and s's map to
 * the reclaimer, which frees both, and sets s->map to NULL. */
void gomap__shard_batch_dispose(gomap_shard_t *m, struct shard *s);

/* What a thread does once it holds s: counts the acquisition (the holder
 * alone writes the count, unless the lock is shared; relaxed, read only by
 * stats), ends a tuning window every win_mask + 1 acquisitions, and on an
 * optimistic map, for an exclusive take, makes the sequence count odd, so
 * an optimistic reader that overlapped the writer retries. */
static inline void shard_took(gomap_shard_t *m, struct shard *s, bool shared)
{
    uint64_t a;
    if (shared && m->lock_kind <= SHARD_LOCK_RWLOCK_WRITER)
        a = fetch_add_relaxed(&s->acquisitions, 1) + 1;
    else
        store_relaxed(&s->acquisitions, a = load_relaxed(&s->acquisitions) + 1);
    if (__builtin_expect((a & s->win_mask) == 0, 0))
        gomap__shard_window_end(m, s);
    if (!shared && m->optimistic) {
        GOMAP_ASSERT(!(load_relaxed(&s->seq) & 1)); /* no other writer inside */
        store_relaxed(&s->seq, load_relaxed(&s->seq) + 1);
        SEQ_FENCE(fence_release);
    }
}

/* Takes / releases a shard; `shared` for reading. Mutex and spin kinds take
 * it exclusively either way. The caller keeps s's table alive (a pin, a
 * read-side section, or a held shard of it that is not moved). */
static inline void shard_take(gomap_shard_t *m, struct shard *s, bool shared)
{
    shard_lock_take(&s->lock, m->lock_kind, shared, &s->waits);
    shard_took(m, s, shared);
}

/* Publishes the shard's entry count and bytes held for gomap_shard_stats,
 * which reads them with relaxed loads and no lock (so a scrape of the
 * stats never waits for a shard, nor makes a get wait). Called with the
 * shard held, before it is released; stores only what changed, so a
 * release after a read or an overwrite writes nothing. A moved shard's
 * map keeps its stale entries until its table is freed: it publishes no
 * entries. Relaxed: a reader gets a value some release published, with no
 * ordering against the map. */
static inline void shard_publish(struct shard *s)
{
    size_t n = load_relaxed(&s->moved) ? 0 : layer_len(s->map);
    size_t bytes = layer_bytes_held(s->map);
    if (load_relaxed(&s->entries) != n)
        store_relaxed(&s->entries, n);
    if (load_relaxed(&s->bytes_held) != bytes)
        store_relaxed(&s->bytes_held, bytes);
}

/* Releases s without publishing: the sequence count even again (release:
 * an optimistic reader that reads the new count sees every write made
 * under the lock), then the lock. */
static inline void shard_unlock(gomap_shard_t *m, struct shard *s)
{
    unsigned seq = load_relaxed(&s->seq);
    if (seq & 1)
        store_release(&s->seq, seq + 1);
    shard_lock_release(&s->lock, m->lock_kind);
}

/* Releases s after a keyed operation. After a write to an optimistic map,
 * first settles the arrays growth retired (gomap__shard_settle_retired:
 * never waits). Returns whether the auto mode asked for a resize (the caller calls
 * gomap__shard_auto_resize once it holds nothing). */
static inline bool shard_release(gomap_shard_t *m, struct shard *s)
{
    unsigned seq = load_relaxed(&s->seq);
    bool tune = m->auto_resize && load_relaxed(&s->table->want_resize);
    if (seq & 1) {
        if (m->optimistic)
            gomap__shard_settle_retired(m, s);
        shard_publish(s);
        store_release(&s->seq, seq + 1);
    } else {
        shard_publish(s);
    }
    shard_lock_release(&s->lock, m->lock_kind);
    return tune;
}

/* Takes the shard that holds the key of hash h now, following moves: the
 * shard of the head table, or, when a move emptied it, the shard of the
 * move's target. Returns it held (exclusively unless shared), not moved:
 * its table stays alive until the caller releases it. */
struct shard *gomap__shard_acquire(gomap_shard_t *m, uint64_t h, bool shared);

/* Every shard that holds entries at one instant, held: the head's shards
 * that are not moved, and when a move is under way, the target's shards
 * that it filled. Taken in a fixed order (the head's in index order, then
 * the target's in index order; a mover takes the head's shards only), so
 * no two whole-map calls, and no whole-map call and a mover, deadlock. */
struct shard_whole {
    struct shard_table *head; /* pinned */
    struct shard_table *next; /* held too when head has moved shards; else NULL */
};

void gomap__shard_take_all(gomap_shard_t *m, bool shared, struct shard_whole *w);
void gomap__shard_release_all(gomap_shard_t *m, struct shard_whole *w);

/* The live shards of w, in order: start with *cursor = 0; NULL at the end. */
struct shard *gomap__shard_whole_next(const struct shard_whole *w, unsigned *cursor);

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
