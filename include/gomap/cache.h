/*
 * gomap/cache.h — a concurrent cache: entries that expire, a bound on their
 * total cost, and loaders that run once per missing key.
 *
 * Purpose. What users of a concurrent map end up building by hand: a
 * sharded table whose entries live for a time to live (TTL, per entry or a
 * default), whose total cost stays under max_cost by evicting what is least
 * likely to be used again, and which loads a missing value once however
 * many threads ask for it (gomap_cache_get_or_load).
 *
 * Shape. 2^k shards, each a lock, a core map from key to entry, its entries'
 * TTL timing wheel and its eviction policy. A key lives in one shard, chosen
 * from its hash. The size bound is split evenly: each shard holds at most
 * max_cost / shards (the first max_cost % shards shards one more), so the
 * total never exceeds max_cost at any instant, during concurrent calls too.
 * An entry may cost at most one shard's share (gomap_cache_max_entry_cost;
 * with shards = 1 that is max_cost). docs/cache.md has the design.
 *
 * Expiry. An entry set with TTL t at clock time s is live while now < s + t
 * and expired from s + t on: no get, ttl or get_or_load ever returns it once
 * expired (the read compares the deadline with the clock). Its memory is
 * reclaimed by the shard's timing wheel, never before its deadline, within
 * one wheel tick plus the granularity of the wheel level it waits on
 * (docs/cache.md: 16.8 ms for TTLs under a second, 1.07 s under 68 s, ...),
 * by whichever comes first of: the amortised work of writes to its shard,
 * gomap_cache_run_maintenance, and the maintenance thread (if asked for).
 * Each call reclaims a bounded number of entries, so a mass expiry is worked
 * off in slices, never in one long call.
 *
 * Eviction. Bounded caches use W-TinyLFU (a window LRU, a segmented LRU
 * main part, and admission by a count-min sketch of access frequencies,
 * with random jitter against hash flooding), whose window share follows
 * shadow caches; the measurement that chose it is docs/cache-policy.md.
 * A set never evicts the entry it stores: a set that returned 0 is seen by
 * every get that starts after it returns, until a later operation evicts,
 * replaces or deletes it or it expires. No write is dropped.
 *
 * Thread-safety. Every function except gomap_cache_new and gomap_cache_free
 * may be called by any thread at any time. Each keyed call is linearizable:
 * it takes its key's shard lock (an adaptive mutex) for its whole effect.
 * gomap_cache_len takes every shard, in index order; clear takes each in turn.
 *
 * Callbacks. on_remove runs once per entry that leaves the cache, with its
 * cause, outside every lock of the cache, in the thread whose call removed
 * the entry (a set that evicted, a delete, clear, maintenance, the
 * maintenance thread, free); it may call into the cache, this one included.
 * Its key and val point to the removed entry, valid until it returns.
 * Loaders (gomap_cache_get_or_load) also run with no lock of the cache held
 * and may call into any cache or map, this one included (for other keys: a
 * loader that waits for its own key waits for itself; that is reported).
 *
 * Keys and values are given as for the core map (gomap/map.h): values are
 * val_size bytes copied in and out; no pointer into the cache escapes
 * except to a callback. Every `*_out` pointer may be NULL.
 *
 * Errors. Functions returning int return 0 or a negative errno value:
 * -EINVAL for bad arguments (nothing changed), -ENOMEM when memory runs
 * out (the cache exactly as it was: no entry added, replaced or lost), and
 * where documented -ENOENT, -EAGAIN, -EIO, -EFAULT. gomap_strerror names
 * them.
 */
#ifndef GOMAP_CACHE_H
#define GOMAP_CACHE_H

#include <stdio.h>

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gomap_cache gomap_cache_t;

/* Why an entry left the cache (on_remove, stats). */
typedef enum gomap_cache_cause {
    GOMAP_CACHE_EXPIRED = 1, /* its time to live ran out */
    GOMAP_CACHE_EVICTED,     /* removed to respect max_cost */
    GOMAP_CACHE_REPLACED,    /* overwritten by a set or a load */
    GOMAP_CACHE_DELETED,     /* removed by gomap_cache_delete, clear or free */
} gomap_cache_cause;

/* A ttl_ns that means "never expires", whatever the default. */
#define GOMAP_CACHE_NO_EXPIRY UINT64_MAX

/* What gomap_cache_ttl returns for an entry that never expires. */
#define GOMAP_CACHE_TTL_FOREVER INT64_MAX

#define GOMAP_CACHE_SHARDS_MAX 4096u

typedef struct gomap_cache_options {
    gomap_options map;  /* key kind, val_size, hint (entries expected in the
                           whole cache), allocator, check mode; mem_limit
                           must be 0 */
    uint64_t max_cost;  /* bound on the sum of entry costs; 0 = unbounded */
    uint64_t ttl_ns;    /* default time to live; 0 = no default expiry */
    uint64_t (*clock)(void *ctx); /* monotonic ns; NULL = CLOCK_MONOTONIC. Must
                                     never go backwards; called with no lock
                                     or with a shard lock held (it must not
                                     call into the cache) */
    void *clock_ctx;
    void (*on_remove)(const void *key, const void *val, gomap_cache_cause cause, void *ctx);
    void *remove_ctx;
    unsigned shards;    /* a power of two up to GOMAP_CACHE_SHARDS_MAX; 0 =
                           auto: 4 x online CPUs, at most one shard per 4096
                           units of max_cost (so a small bounded cache is
                           one shard and evicts as one policy) */
    bool maintenance_thread; /* true: an internal thread reclaims expired
                                entries while the cache is idle (woken at
                                each wheel tick that has work due) */
} gomap_cache_options;

/* Creates a cache. 0, -EINVAL (NULL argument, shards not a power of two or
 * too many, a mem_limit, options gomap_new rejects, a max_cost below the
 * shard count (a shard that could not hold an entry of cost 1); *out
 * NULL), -ENOMEM, or -EAGAIN (the maintenance thread could not be
 * started).
 * Context: takes no lock; never waits. */
GOMAP_API int gomap_cache_new(gomap_cache_t **out, const gomap_cache_options *opt);

/* Stops the maintenance thread (waiting for it), calls on_remove with
 * GOMAP_CACHE_DELETED for every entry still held (expired ones with
 * GOMAP_CACHE_EXPIRED), and frees everything. Must not overlap any other
 * call on the cache, and must not be called from on_remove or a loader of
 * this cache. NULL is a no-op.
 * Context: takes no lock. */
GOMAP_API void gomap_cache_free(gomap_cache_t *c);

/* Copies the value of `key` to val_out and returns true if the key is
 * present and live; otherwise fills val_out with zero bytes and returns
 * false (also for a NULL cache or key, or a key no map accepts). A hit
 * counts as an access for the eviction policy.
 * Context: the key's shard lock, briefly; never calls a callback. */
GOMAP_API bool gomap_cache_get(gomap_cache_t *c, const void *key, void *val_out);

/* Sets the value of `key` with time to live ttl_ns (0 = the default TTL;
 * GOMAP_CACHE_NO_EXPIRY = never) and cost 1. 0, -EINVAL (NULL c or key, NULL
 * val with val_size > 0, a key no map accepts, a NaN f64 key (no get could
 * ever find it), a TTL whose deadline does not fit the clock's 64 bits) or
 * -ENOMEM. A replaced entry is reported with
 * GOMAP_CACHE_REPLACED (GOMAP_CACHE_EXPIRED if it had expired); entries
 * evicted to make room with GOMAP_CACHE_EVICTED.
 * Context: the key's shard lock; then, with no lock held, on_remove for
 * what it removed. */
GOMAP_API int gomap_cache_set(gomap_cache_t *c, const void *key, const void *val,
                              uint64_t ttl_ns);

/* As gomap_cache_set with the entry's cost (> 0). -EINVAL also for cost 0
 * or above gomap_cache_max_entry_cost (nothing changed: the old entry, if
 * any, stays). */
GOMAP_API int gomap_cache_set_cost(gomap_cache_t *c, const void *key, const void *val,
                                   uint64_t ttl_ns, uint64_t cost);

/* Deletes `key`; true if it was present and live (an expired entry is
 * removed too, reported as GOMAP_CACHE_EXPIRED, and false is returned).
 * Context: the key's shard lock; then on_remove with no lock held. */
GOMAP_API bool gomap_cache_delete(gomap_cache_t *c, const void *key);

/* Loads a missing value: load(key, val_out, &ttl_ns, ctx) fills val_out
 * (val_size bytes) and may set *ttl_ns (preset to 0 = the default TTL) and
 * returns 0, or a nonzero value to fail. */
typedef int (*gomap_cache_loader)(const void *key, void *val_out, uint64_t *ttl_ns, void *ctx);

/* Copies the value of `key` to val_out: 1 if it was present and live (a
 * hit); otherwise the value is loaded, stored with cost 1 and copied out, 0.
 * However many threads miss the same key at the same time, load runs once:
 * the other threads wait for it and return its value (0) or its failure.
 * A failure is not cached: the next miss loads again. Returns load's
 * nonzero value when load fails (every waiter gets the same value: give
 * negative errno values or codes above 1 of your own: 1 means a hit),
 * -EINVAL (NULL c, key or load, a key no map accepts, or a TTL the loader
 * set that overflows the clock: the value is then not stored, and every
 * waiter gets -EINVAL too) or -ENOMEM (the value is not stored; waiters
 * get -ENOMEM too). On any failure val_out is zero-filled.
 * Context: the key's shard lock, briefly, to look up and to store; load
 * runs with no lock held and may call into this cache (for other keys) and
 * any other; waiters block (on a condition variable) until the load ends.
 * A loader that calls get_or_load for its own key would wait for itself:
 * that is reported as misuse (fatal error: gomap cache loader waits for
 * its own key). */
GOMAP_API int gomap_cache_get_or_load(gomap_cache_t *c, const void *key, void *val_out,
                                      gomap_cache_loader load, void *ctx);

/* Nanoseconds left to live for `key`: > 0, GOMAP_CACHE_TTL_FOREVER for an
 * entry that never expires, or -ENOENT if absent or expired (-EINVAL for a
 * NULL c or key). Does not count as an access.
 * Context: the key's shard lock, briefly. */
GOMAP_API int64_t gomap_cache_ttl(gomap_cache_t *c, const void *key);

/* Entries held at one instant, expired ones not yet reclaimed included
 * (gomap_cache_run_maintenance first for an exact live count). 0 for NULL.
 * Context: every shard's lock, in index order, briefly. */
GOMAP_API size_t gomap_cache_len(gomap_cache_t *c);

/* Removes every entry (on_remove with GOMAP_CACHE_DELETED, or
 * GOMAP_CACHE_EXPIRED for the expired ones). Not atomic across shards: a
 * set on another shard may land while it runs.
 * Context: each shard's lock in turn; on_remove with no lock held. */
GOMAP_API void gomap_cache_clear(gomap_cache_t *c);

/* Reclaims the expired entries the wheel has reached (every entry whose
 * deadline is at least one wheel tick plus its level's granularity past:
 * see Expiry), in slices of a bounded number
 * of entries with the shard's lock released between them, so concurrent
 * calls wait at most one slice. For programs with their own event loop.
 * Context: each shard's lock in turn, in slices; on_remove with no lock
 * held. */
GOMAP_API void gomap_cache_run_maintenance(gomap_cache_t *c);

/* The largest cost gomap_cache_set_cost accepts: max_cost's share of one
 * shard (UINT64_MAX when unbounded, 0 for NULL).
 * Context: takes no lock; callable anywhere. */
GOMAP_API uint64_t gomap_cache_max_entry_cost(const gomap_cache_t *c);

/* The number of shards (fixed at creation). 0 for NULL.
 * Context: takes no lock; callable anywhere. */
GOMAP_API unsigned gomap_cache_shards(const gomap_cache_t *c);

/* ---- diagnostics -------------------------------------------------------- */

/* Buckets of gomap_cache_stats_t.evict_batches: batches of 1, 2, 3-4,
 * 5-8, ... 65-128, and over 128. */
#define GOMAP_CACHE_BATCH_BUCKETS 9

/* Counters since creation, summed over shards (exact once the cache is
 * quiet). */
typedef struct gomap_cache_stats {
    uint64_t hits, misses;         /* gets and get_or_load lookups */
    uint64_t loads;                /* loader calls that succeeded */
    uint64_t load_failures;        /* loader calls that failed */
    uint64_t load_ns;              /* total time spent in loaders */
    uint64_t load_waits;           /* get_or_load calls that waited for
                                      another thread's load */
    uint64_t sets;                 /* sets and stores of loaded values */
    uint64_t removed[5];           /* by cause: [GOMAP_CACHE_EXPIRED] ...
                                      [GOMAP_CACHE_DELETED]; [0] unused */
    uint64_t rejected;             /* sets and stores of loaded values
                                      refused (-EINVAL with a cache,
                                      -ENOMEM) */
    size_t entries;                /* entries held now */
    uint64_t cost;                 /* cost held now */
    uint64_t max_cost;             /* the bound (0 = unbounded) */
    uint64_t wheel_drift_max_ns;   /* the latest an expired entry was
                                      reclaimed after its deadline */
    uint64_t wheel_drift_sum_ns;   /* sum over reclaimed expired entries */
    uint64_t wheel_cascades;       /* entries moved down a wheel level */
    uint64_t maintenance_runs;     /* slices of maintenance work */
    uint64_t maintenance_ns;       /* total time in those slices */
    unsigned write_budget_max;     /* wheel entries a write works off when a
                                      tick has passed, now: the largest
                                      over shards (8 .. 128; it doubles
                                      while writes leave the wheel over 2
                                      ticks behind, halves once they need
                                      under a quarter of it) */
    uint64_t write_budget_raises;  /* doublings of a shard's write budget */
    uint64_t write_budget_cuts;    /* halvings */
    uint64_t wheel_lag_max_ns;     /* the most a wheel was behind the clock
                                      when its budget was raised */
    uint64_t lock_waits;           /* shard lock acquisitions that had to
                                      wait for another thread */
    uint64_t lock_wait_ns;         /* the time they waited */
    uint64_t evict_batches[GOMAP_CACHE_BATCH_BUCKETS];
                                   /* calls that evicted entries to respect
                                      max_cost, by how many: [i] counts
                                      those that evicted n with
                                      2^(i-1) < n <= 2^i (i = 0: exactly 1),
                                      the last bucket every n over 2^(i-1) */
    double window_share;           /* the eviction policy's window now
                                      (share of the bound), shard 0 */
    size_t bytes_held;             /* memory held from the allocator */
    unsigned shards;
    gomap_latency_t get_latency;   /* sampled gomap_cache_get calls */
    gomap_latency_t write_latency; /* sampled sets (set_cost included) and
                                      deletes; a set's evictions and
                                      reclaimed expirations are in it */
} gomap_cache_stats_t;

/* 0 or -EINVAL (NULL c or out). O(shards): it walks no entries. Each
 * shard's figures are those of its last call to return; the sum is not
 * taken at one instant while calls run.
 * Context: takes no lock and never waits (relaxed loads of per-shard
 * counters, which their shard's lock holder writes); callable anywhere,
 * on_remove and loaders included. */
GOMAP_API int gomap_cache_stats(gomap_cache_t *c, gomap_cache_stats_t *out);

/* One shard's figures (gomap_cache_shard_stats): how evenly the keys and
 * the traffic spread, and each shard's hit ratio. */
typedef struct gomap_cache_shard_counters {
    uint64_t hits, misses;   /* gets and get_or_load lookups */
    uint64_t sets;           /* sets and stores of loaded values */
    uint64_t evictions;      /* removed[GOMAP_CACHE_EVICTED] of this shard */
    uint64_t expirations;    /* removed[GOMAP_CACHE_EXPIRED] of this shard */
    size_t entries;          /* entries held now */
    uint64_t cost;           /* cost held now (its bound: max_cost / shards,
                                the first max_cost % shards one more) */
    uint64_t lock_waits;     /* acquisitions of its lock that had to wait */
    uint64_t lock_wait_ns;   /* the time they waited */
} gomap_cache_shard_counters;

/* Fills out[0 .. n) with the first n shards' counters (n may be less or
 * more than gomap_cache_shards; entries past it are zeroed). Each shard's
 * figures are those of its last call to return. 0 or -EINVAL (NULL c, or
 * NULL out with n > 0).
 * Context: as gomap_cache_stats: takes no lock and never waits; callable
 * anywhere. */
GOMAP_API int gomap_cache_shard_stats(gomap_cache_t *c, gomap_cache_shard_counters *out, size_t n);

/* Checks every shard: its core map (gomap_validate), that map and entry
 * table agree, that every entry sits on exactly one policy list and in the
 * wheel bucket its deadline selects, and that costs add up to the shard's
 * total, within its bound. 0, -EINVAL (NULL c) or -EFAULT with a one-line
 * reason in why (if why_len > 0).
 * Context: each shard's lock in turn, held while it is checked. */
GOMAP_API int gomap_cache_validate(gomap_cache_t *c, char *why, size_t why_len);

/* Draws the shards' load and fill: one cell per shard, shaded by its share
 * of operations and by how full it is against its bound, plus the wheel's
 * occupancy by level. format: GOMAP_HEATMAP_TEXT or GOMAP_HEATMAP_SVG
 * (gomap/diag.h). 0, -EINVAL, -ENOMEM (nothing written) or -EIO.
 * Context: each shard's lock in turn, briefly; writes with no lock held. */
GOMAP_API int gomap_cache_heatmap(gomap_cache_t *c, FILE *out, int format);

/* Writes a readable description: options, per-shard counts, costs, policy
 * list lengths, window, wheel buckets in use. 0, -EINVAL or -EIO.
 * Context: each shard's lock in turn, briefly. */
GOMAP_API int gomap_cache_dump(gomap_cache_t *c, FILE *out);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_CACHE_H */
