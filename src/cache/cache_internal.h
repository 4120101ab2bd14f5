/*
 * cache_internal.h — the cache's layout, shared by its files:
 *   cache.c          life cycle, get / set / delete / ttl / len / clear
 *   cache_entries.c  a shard's entry table (chunks of fixed-size entries)
 *   cache_wheel.c    the timing wheel of a shard's deadlines
 *   cache_policy.c   the size bound: W-TinyLFU over a shard's entries
 *   cache_notify.c   removed entries handed to on_remove with no lock held
 *   cache_load.c     gomap_cache_get_or_load: one loader per missing key
 *   cache_maint.c    run_maintenance and the maintenance thread
 *   cache_diag.c     stats, validate, dump, heatmap
 * docs/cache.md has the design.
 *
 * Shape. 2^k shards; a key's shard comes from bits of its hash the core
 * maps do not use (CACHE_SHARD_SHIFT, as the sharded map does). A shard is
 * a mutex, a core map from key to entry index (a uint32_t), an entry table
 * (each entry: its metadata, a copy of the key and the value), the wheel's
 * buckets and the policy's lists. Every field of a shard is read and
 * written only under its mutex, except where said.
 *
 * Entries are addressed by index, never by pointer, while the mutex is
 * held across calls; an index names the same entry until it is freed. The
 * table grows by whole chunks, which never move, so a pointer to an entry
 * stays valid after the mutex is released: that is how on_remove reads a
 * removed entry with no lock held (cache_notify.c).
 */
#ifndef GOMAP_CACHE_INTERNAL_H
#define GOMAP_CACHE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <gomap/cache.h>

#include "base/alloc.h"
#include "base/atomics.h"
#include "base/latency.h"
#include "cache/cache_sketch.h"
#include "cache/cache_tuner.h"
#include "core/layer.h"

#define CACHE_SHARD_SHIFT 40
#define CACHE_NONE UINT32_MAX
#define CACHE_NEVER UINT64_MAX /* the deadline of an entry that never expires */

/* ---- entries ------------------------------------------------------------------- */

/* Where an entry is: on one of the policy's lists, free, or removed and
 * waiting for its on_remove call (detached: on a caller's notify list). */
enum cache_queue { Q_WINDOW, Q_PROBATION, Q_PROTECTED, Q_FREE, Q_DETACHED };

/* Two links of an intrusive doubly linked list of entry indices. */
typedef struct {
    uint32_t newer, older;
} cache_link;

/* A list: its newest and oldest entries (CACHE_NONE when empty). */
typedef struct {
    uint32_t newest, oldest;
} cache_list;

/* The metadata heading every entry; the key (as the core map takes keys:
 * a gomap_str whose bytes the entry owns, for string keys) and the value
 * follow at key_off and val_off of the shard's table. */
struct cache_entry {
    uint64_t deadline;  /* absolute clock ns; CACHE_NEVER */
    uint64_t cost;
    cache_link plink;   /* policy list, free list (newer), notify list */
    cache_link wlink;   /* wheel bucket */
    uint16_t wbucket;   /* level * 64 + slot, or WHEEL_NO_BUCKET */
    uint8_t queue;      /* enum cache_queue */
    uint8_t cause;      /* gomap_cache_cause, when detached */
    uint8_t used;       /* hit since it last reached its list's oldest end
                           (policy.c: a second chance instead of a move) */
};

/* A shard's entries: chunks of 2^chunk_shift entries of `size` bytes. The
 * chunk table doubles when full; tables it outgrows are kept (retired)
 * until the cache is freed, so that a chunk pointer read from any table
 * stays right (cache_notify.c reads tables with no lock held). */
struct cache_entries {
    char **chunks;
    size_t nchunks, table_len;
    struct cache_retired_table *retired;
    uint32_t free_head;  /* free list through plink.newer */
    uint32_t used;       /* indices handed out so far (free ones included) */
};

/* The layout of every shard's entries (one per cache). */
struct cache_layout {
    size_t size;          /* bytes per entry, a multiple of 8 */
    size_t key_off, key_bytes, val_off, val_size;
    unsigned chunk_shift; /* entries per chunk = 2^chunk_shift */
    int key_kind;
};

/* ---- the wheel ----------------------------------------------------------------- */

enum { WHEEL_LEVELS = 5, WHEEL_SLOTS = 64, WHEEL_SLOT_BITS = 6, WHEEL_TICK_SHIFT = 24 };
#define WHEEL_NO_BUCKET UINT16_MAX

struct cache_wheel {
    cache_list bucket[WHEEL_LEVELS * WHEEL_SLOTS];
    uint64_t done;      /* every bucket of a tick up to this time is worked off */
    uint64_t scheduled; /* entries on the wheel */
    unsigned budget;    /* entries a write works off (gomap__wheel_adapt) */
};

/* The write budget's range: a write that finds a tick passed works off up
 * to `budget` wheel entries; it doubles while writes leave the wheel more
 * than WHEEL_BEHIND_TICKS ticks behind the clock, and halves back when a
 * write's work needed under a quarter of it. */
enum { WRITE_BUDGET_MIN = 8, WRITE_BUDGET_MAX = 128, WHEEL_BEHIND_TICKS = 2 };

/* ---- the policy ---------------------------------------------------------------- */

struct cache_policy {
    cache_list q[3];        /* Q_WINDOW, Q_PROBATION, Q_PROTECTED */
    uint64_t qcost[3];
    uint64_t max_cost;      /* the shard's bound; 0 = unbounded (no lists) */
    uint64_t window_max, protected_max;
    double share;           /* the window's share of max_cost */
    cache_sketch sketch;
    size_t sketch_cap;      /* the entries the sketch is sized for */
    uint64_t last_miss;     /* hash of the last miss counted (see policy.c) */
    cache_tuner *tuner;     /* shard 0 of a bounded cache only */
    uint64_t epoch_n, epoch_len;
    uint64_t rng;
};

/* ---- counters ------------------------------------------------------------------- */

/* A shard's counters and its published gauges: written only by the
 * holder of the shard's lock, read by stats with no lock (relaxed loads;
 * a scrape never waits for a get). The gauges copy what the lock protects
 * (gomap__cache_publish, before each write releases the shard), so once a
 * call has returned they are exact. */
struct cache_counters {
    _Atomic uint64_t hits, misses, loads, load_failures, load_ns, load_waits, sets, rejected;
    _Atomic uint64_t removed[5];
    _Atomic uint64_t drift_max, drift_sum, cascades, maint_runs, maint_ns;
    _Atomic uint64_t budget_raises, budget_cuts, lag_max, lock_waits, lock_wait_ns;
    _Atomic uint64_t evict_batches[GOMAP_CACHE_BATCH_BUCKETS];
};

struct cache_gauges {
    _Atomic uint64_t entries, cost, bytes, budget;
};

/* ---- a shard -------------------------------------------------------------------- */

struct cache_load;

struct cache_shard {
    pthread_mutex_t mu;
    gomap_t *map;              /* key -> uint32_t entry index */
    gomap_t *loads;            /* key -> struct cache_load *, loads in flight */
    struct cache_entries ents;
    struct cache_wheel wheel;
    struct cache_policy pol;
    uint64_t cost;             /* sum of the costs of the entries held */
    uint64_t max_cost;         /* 0 = unbounded */
    size_t bytes;              /* bytes held besides the core maps */
    struct cache_counters n;
    struct cache_gauges pub;   /* map length, cost, bytes held */
} __attribute__((aligned(64)));

struct gomap_cache {
    struct cache_shard *shards;
    unsigned nshards, mask;
    struct cache_layout lay;
    gomap__hasher hasher;
    uint64_t seed;
    gomap_options map_opt;       /* the options of the shards' maps */
    const gomap_allocator *alloc; /* NULL: malloc */
    uint64_t max_cost, ttl_ns, max_entry_cost;
    uint64_t (*clock)(void *);
    void *clock_ctx;
    void (*on_remove)(const void *, const void *, gomap_cache_cause, void *);
    void *remove_ctx;
    _Atomic uint32_t window_permille; /* shard 0's tuner's choice, for the others */
    struct cache_maint *maint;   /* the maintenance thread, or NULL */
    _Atomic uint64_t scheduled;  /* entries on any wheel (wakes the thread) */
    _Atomic uint64_t invalid;    /* sets refused with -EINVAL (stats.rejected) */
    struct lat_hist lat_get;     /* sampled gomap_cache_get calls (latency.h) */
    struct lat_hist lat_write;   /* sampled sets and deletes */
};

/* ---- small helpers ---------------------------------------------------------------- */

static inline uint64_t cache_now(const gomap_cache_t *c) { return c->clock(c->clock_ctx); }

/* CLOCK_MONOTONIC in ns: the default clock, and the timer of loads and
 * maintenance slices (real time, whatever clock the cache was given). */
static inline uint64_t cache_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t cache_hash(const gomap_cache_t *c, const void *key)
{
    return layer_hash(&c->hasher, c->lay.key_kind, key);
}

static inline struct cache_shard *cache_shard_for(const gomap_cache_t *c, uint64_t hash)
{
    return &c->shards[(hash >> CACHE_SHARD_SHIFT) & c->mask];
}

/* Adds d to a counter of a shard held by the caller (its only writer: a
 * relaxed load and store, no atomic read-modify-write). */
static inline void cache_count(_Atomic uint64_t *n, uint64_t d)
{
    store_relaxed(n, load_relaxed(n) + d);
}

/* Takes the shard's mutex; an acquisition that had to wait is counted,
 * with the time it waited (stats: lock_waits, lock_wait_ns). */
static inline void cache_lock(struct cache_shard *s)
{
    if (pthread_mutex_trylock(&s->mu) == 0)
        return;
    uint64_t t0 = cache_mono_ns();
    pthread_mutex_lock(&s->mu);
    cache_count(&s->n.lock_waits, 1);
    cache_count(&s->n.lock_wait_ns, cache_mono_ns() - t0);
}

static inline void cache_unlock(struct cache_shard *s) { pthread_mutex_unlock(&s->mu); }

/* The entry at index i of a chunk table (which must have been handed out
 * when the table was the shard's). */
static inline struct cache_entry *entry_in(const gomap_cache_t *c, char *const *table, uint32_t i)
{
    unsigned sh = c->lay.chunk_shift;
    return (struct cache_entry *)(table[i >> sh] + (size_t)(i & ((1u << sh) - 1)) * c->lay.size);
}

/* The entry at index i (which must have been handed out). */
static inline struct cache_entry *entry_at(const gomap_cache_t *c, const struct cache_shard *s,
                                           uint32_t i)
{
    return entry_in(c, s->ents.chunks, i);
}

static inline void *entry_key(const gomap_cache_t *c, struct cache_entry *e)
{
    return (char *)e + c->lay.key_off;
}

static inline void *entry_val(const gomap_cache_t *c, struct cache_entry *e)
{
    return (char *)e + c->lay.val_off;
}

/* An entry is live at `now` while now < deadline. */
static inline bool entry_live(const struct cache_entry *e, uint64_t now)
{
    return now < e->deadline;
}

/* ---- lists (cache_entries.c) -------------------------------------------------- */

/* Which links of an entry a list uses. */
enum cache_links { LINKS_POLICY, LINKS_WHEEL };

void gomap__clist_push_newest(const gomap_cache_t *c, struct cache_shard *s, cache_list *l,
                              enum cache_links which, uint32_t i);
void gomap__clist_remove(const gomap_cache_t *c, struct cache_shard *s, cache_list *l,
                         enum cache_links which, uint32_t i);

/* ---- the entry table (cache_entries.c) ----------------------------------------- */

void gomap__cache_layout_init(struct cache_layout *lay, const gomap_options *opt);

/* A fresh entry index with zeroed metadata (queue Q_FREE until placed),
 * or CACHE_NONE when out of memory. */
uint32_t gomap__cache_entry_new(gomap_cache_t *c, struct cache_shard *s);

/* Copies key into the entry (string bytes into a block of its own): 0 or
 * -ENOMEM (nothing to undo). */
int gomap__cache_entry_set_key(gomap_cache_t *c, struct cache_shard *s, struct cache_entry *e,
                         const void *key);

/* Releases the entry's key bytes and puts index i on the free list. */
void gomap__cache_entry_free(gomap_cache_t *c, struct cache_shard *s, uint32_t i);

/* Frees the shard's table, its chunks and retired tables (the entries'
 * keys must have been released). */
void gomap__cache_entries_destroy(gomap_cache_t *c, struct cache_shard *s);

/* The chunk table now (for reading entries with no lock held: see
 * struct cache_entries). */
static inline char **entries_table(const struct cache_shard *s) { return s->ents.chunks; }

/* ---- the wheel (cache_wheel.c) ------------------------------------------------------ */

void gomap__wheel_init(struct cache_wheel *w, uint64_t now);

/* Puts entry i (deadline != CACHE_NEVER) in the bucket its deadline
 * selects, relative to now. */
void gomap__wheel_schedule(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t now);

/* Takes entry i off the wheel if it is on it. */
void gomap__wheel_cancel(gomap_cache_t *c, struct cache_shard *s, uint32_t i);

/* True when some tick has passed since the wheel was last worked off. */
static inline bool wheel_due(const struct cache_wheel *w, uint64_t now)
{
    return w->scheduled && (now >> WHEEL_TICK_SHIFT) > (w->done >> WHEEL_TICK_SHIFT);
}

/* Works off the buckets of the ticks up to now: expires the entries whose
 * deadline has passed (onto the notify list), moves the others down.
 * Handles at most `budget` entries; returns true when it is done (the
 * wheel is worked off up to now), false when the budget ran out first. */
struct cache_notify;
bool gomap__wheel_advance(gomap_cache_t *c, struct cache_shard *s, uint64_t now,
                          unsigned budget, struct cache_notify *nl);

/* A write's share of the wheel's work: advances it with the shard's write
 * budget, then adapts the budget. Behind (the budget ran out with the
 * wheel more than WHEEL_BEHIND_TICKS ticks behind now): doubles it, up to
 * WRITE_BUDGET_MAX, counting a raise and the lag. Done with under a
 * quarter of it used: halves it, down to WRITE_BUDGET_MIN, counting a cut.
 * At most WRITE_BUDGET_MAX entries a call, so a write stays bounded. */
void gomap__wheel_write_work(gomap_cache_t *c, struct cache_shard *s, uint64_t now,
                             struct cache_notify *nl);

/* ---- the policy (cache_policy.c) ------------------------------------------------- */

/* 0 or -ENOMEM. tuned: this shard runs the window tuner. */
int gomap__policy_init(gomap_cache_t *c, struct cache_shard *s, bool tuned);
void gomap__policy_destroy(gomap_cache_t *c, struct cache_shard *s);

/* Records an access to a present entry (a hit). */
void gomap__policy_hit(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t hash);

/* Records a miss of an absent key (frequency only). */
void gomap__policy_miss(gomap_cache_t *c, struct cache_shard *s, uint64_t hash);

/* Places a new entry (its cost already in s->cost) and evicts what the
 * bound requires, never entry i itself. */
void gomap__policy_insert(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t hash,
                          struct cache_notify *nl);

/* Entry i's cost changed from old_cost by a set (the new cost already in
 * the entry and in s->cost): evicts what the bound requires, never entry
 * i. The caller counts the access (gomap__policy_hit) first. */
void gomap__policy_update(gomap_cache_t *c, struct cache_shard *s, uint32_t i,
                          uint64_t old_cost, struct cache_notify *nl);

/* Puts entry j where entry i is in the policy (i leaves its list). */
void gomap__policy_take_place(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint32_t j);

/* Evicts what the bound requires, never entry `self`. */
void gomap__policy_evict(gomap_cache_t *c, struct cache_shard *s, uint32_t self,
                         struct cache_notify *nl);

/* Takes entry i off its list. */
void gomap__policy_unlink(gomap_cache_t *c, struct cache_shard *s, uint32_t i);

/* ---- removal and notification (cache_notify.c) ------------------------------------ */

/* Entries removed under a shard's lock, waiting for on_remove. */
struct cache_notify {
    struct cache_shard *s;
    uint32_t head, tail;
    size_t n;
};

static inline void notify_init(struct cache_notify *nl, struct cache_shard *s)
{
    nl->s = s;
    nl->head = nl->tail = CACHE_NONE;
    nl->n = 0;
}

/* Removes entry i (present in the map, on the wheel and a policy list as
 * its state says) from everything: the map, the wheel, the policy, the
 * cost; counts it under `cause`. Without on_remove it is freed at once;
 * with it, it waits on nl. The hash is the key's. */
void gomap__cache_entry_remove(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t hash,
                         gomap_cache_cause cause, struct cache_notify *nl);

/* Hands an entry that is in nothing any more (map, wheel, policy, cost)
 * to on_remove through nl, or frees it when there is no on_remove. */
void gomap__cache_entry_detach(gomap_cache_t *c, struct cache_shard *s, uint32_t i,
                         gomap_cache_cause cause, struct cache_notify *nl);

/* The same when the caller has not got the hash. */
void gomap__cache_entry_remove_unhashed(gomap_cache_t *c, struct cache_shard *s, uint32_t i,
                                  gomap_cache_cause cause, struct cache_notify *nl);

/* Called with the shard's lock held: releases it, runs on_remove for every
 * entry on nl (no lock held), then frees them under the lock again and
 * releases it. Without anything on nl it only releases the lock. */
void gomap__cache_unlock_notify(gomap_cache_t *c, struct cache_notify *nl);

/* Copies the shard's length, cost and bytes held to its gauges (s held);
 * every call that changes them does so before it releases the shard. */
void gomap__cache_publish(struct cache_shard *s);

/* ---- keyed calls ------------------------------------------------------------------ */

/* A keyed call that may remove entries: its key's hash and shard, the
 * clock, its notify list, and the key's entry index (CACHE_NONE). */
struct cache_op {
    uint64_t hash, now;
    struct cache_shard *s;
    struct cache_notify nl;
    uint32_t i;
};

/* Hashes key, reads the clock, takes the key's shard and looks the key up;
 * the call ends with gomap__cache_unlock_notify(c, &op->nl). */
void gomap__cache_op_begin(gomap_cache_t *c, const void *key, struct cache_op *op);

/* ---- misc ---------------------------------------------------------------------- */

/* Reclaims due entries of shard s, in slices; the caller holds nothing. */
void gomap__cache_shard_maintain(gomap_cache_t *c, struct cache_shard *s);

/* Wakes the maintenance thread if it sleeps with nothing scheduled. */
void gomap__maint_kick(gomap_cache_t *c);
int gomap__maint_start(gomap_cache_t *c);
void gomap__maint_stop(gomap_cache_t *c);

/* The deadline for a TTL given at time now (0: the default), or 0 when
 * it overflows the clock. */
uint64_t gomap__cache_deadline(const gomap_cache_t *c, uint64_t ttl_ns, uint64_t now);

/* Stores key -> val with the deadline and cost under the held shard lock
 * (the core of set and of a load's store): 0 or -ENOMEM (nothing changed).
 * Removed entries go on nl. */
int gomap__cache_store(gomap_cache_t *c, struct cache_shard *s, const void *key, uint64_t hash,
                       const void *val, uint64_t deadline, uint64_t cost, uint64_t now,
                       struct cache_notify *nl);

/* Looks key up under the held lock: the entry index or CACHE_NONE. */
uint32_t gomap__cache_find(gomap_cache_t *c, struct cache_shard *s, const void *key,
                           uint64_t hash);

#endif /* GOMAP_CACHE_INTERNAL_H */
