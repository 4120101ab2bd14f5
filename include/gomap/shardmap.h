/*
 * gomap/shardmap.h — a concurrent map split into shards, each a lock and a
 * core map.
 *
 * Purpose. The general-purpose concurrent map: any mix of reads and writes,
 * new keys as cheap as overwrites, atomic read-modify-write of one key
 * (gomap_shard_compute), an exact length and a consistent snapshot. A key
 * lives in one shard, chosen from bits of its hash that the shard's core map
 * does not use, so two operations on keys of different shards never touch
 * the same lock or the same memory. Each shard's lock is an adaptive mutex
 * (the lock kinds measured are in docs/shardmap.md), which has no shared
 * mode: reads and writes alike take it exclusively. Gets on maps of u32,
 * u64 or inline bytes keys and inline values take no lock at all
 * (gomap_shard_get). With one shard this is the classic "one lock around a
 * map". For keys written once and read very often the sync map
 * (gomap/syncmap.h) suits too; for a map that almost never changes and
 * whose readers want consistent views, the snapshot map (gomap/snapmap.h).
 *
 * Thread-safety. Every function except gomap_shard_new and gomap_shard_free
 * may be called by any thread at any time. Callbacks (compute, visit, range)
 * run while the calling thread holds the key's shard (range: each shard in
 * turn); a callback must not call into the same sharded map: the library
 * detects that and ends the process with
 *   fatal error: re-entrant call into a locked gomap shard (would deadlock)
 * through the same report and fault handler as the core map's misuse checks
 * (gomap/diag.h), instead of hanging. Callbacks may use any other map,
 * including freeing it (gomap_sync_free and gomap_snap_free do not wait
 * inside a callback; see gomap/reclaim.h). Only calls into the same map are
 * detected: two threads whose callbacks call into each other's maps (one in
 * a callback of A calling into B while the other, in a callback of B,
 * calls into A) can deadlock, as with any two locks taken in both orders.
 *
 * Locking. A keyed call takes the lock of its key's shard (a lock-free get
 * takes none); range and validate take each shard's lock in turn; len,
 * snapshot and clear take every shard's lock, in index order; stats and
 * heatmap take none (they read counters the lock holders publish).
 * gomap_shard_resize holds the old shards of one group of keys at a time
 * while it moves them. No call otherwise holds two shards of one map. A
 * call that takes a lock blocks while another thread holds it, for as long
 * as that thread's callback runs if it is in one. Each call's "Context:"
 * line says what it takes.
 *
 * Waiting. No write waits for an RCU grace period. On a map with
 * lock-free gets, the bucket arrays a shard outgrows are handed to the
 * reclaimer, and once every get that could still read them has ended, a
 * later write to that shard frees them (a slice per write, so that no
 * write frees a large array in one call). gomap_shard_free frees whatever
 * is still waiting: from plain code it may wait for a grace period to do
 * so; from inside another map's callback it leaves that part to the
 * reclaimer (gomap_rcu_barrier waits for it).
 *
 * Ordering. Each keyed operation is linearizable; gomap_shard_len,
 * gomap_shard_snapshot and gomap_shard_clear hold every shard at once and are
 * linearizable too, also while gomap_shard_resize moves entries (they then
 * hold the old shards and the new ones that hold entries). A write "synchronizes before" every operation that
 * observes it. gomap_shard_range is not a snapshot: it sees each shard as
 * it is when it reaches that shard.
 *
 * Keys and values are given as for the core map (gomap/map.h) and values are
 * val_size bytes copied in and out; no pointer into the map ever escapes
 * except to a callback, for the duration of the call. Every `*_out` pointer
 * may be NULL.
 *
 * Errors. Functions returning int return 0, -EINVAL for bad arguments
 * (nothing changed) or -ENOMEM when memory runs out (the map unchanged,
 * nothing leaked), and besides: gomap_shard_heatmap -EIO, gomap_shard_validate
 * -EFAULT; gomap_shard_compute also passes its callback's nonzero value
 * through unchanged (see there for telling the two apart). Each call lists
 * the codes it can return. bool and void functions treat a NULL map or key
 * as absent / no-op.
 */
#ifndef GOMAP_SHARDMAP_H
#define GOMAP_SHARDMAP_H

#include <stdio.h>

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gomap_shard gomap_shard_t;

#define GOMAP_SHARDS_MAX 65536u

typedef struct gomap_shard_options {
    gomap_options map;  /* key kind, value size, hint (for the whole map),
                           allocator, check mode; mem_limit must be 0 */
    unsigned shards;    /* a power of two up to GOMAP_SHARDS_MAX; 0 = auto:
                           4 x online CPUs, at least 16 */
    bool auto_resize;   /* double the shards (gomap_shard_resize) while the
                           share of lock acquisitions that had to wait stays
                           high: 10 % or more over two consecutive windows
                           of 16384 acquisitions (docs/shardmap.md,
                           "Resizing") */
    unsigned max_shards; /* auto mode's bound: a power of two up to
                           GOMAP_SHARDS_MAX, at least shards; 0 = the larger
                           of shards and the automatic count */
} gomap_shard_options;

/* Creates a sharded map. 0, -EINVAL (NULL argument, shards not a power of
 * two or too many, max_shards not 0 and not a power of two up to
 * GOMAP_SHARDS_MAX at least the shard count, a mem_limit, options gomap_new
 * rejects; *out NULL) or -ENOMEM.
 * Context: takes no lock and never waits; callable anywhere, callbacks
 * included. */
GOMAP_API int gomap_shard_new(gomap_shard_t **out, const gomap_shard_options *opt);

/* Frees the map and everything it owns, outgrown bucket arrays kept for
 * lock-free gets included. Must not overlap any other call on the map. NULL
 * is a no-op.
 * Context: takes no lock. Called from plain code, it may wait for a grace
 * period (typically milliseconds) when outgrown arrays still wait for
 * theirs, and then has given every byte back on return. Safe from inside
 * any other map's callback: there it never waits, and the arrays still
 * waiting and the shard maps that own them are freed by the reclaimer
 * shortly after (gomap_rcu_barrier waits for that). Freeing the map from inside one of its own callbacks is misuse,
 * reported as
 *   fatal error: gomap sharded map freed from inside its own callback */
GOMAP_API void gomap_shard_free(gomap_shard_t *m);

/* Copies the value of `key` to val_out and returns true; if absent, fills
 * val_out with zero bytes and returns false. With u32, u64 or inline bytes
 * keys and values up to GOMAP_INLINE_MAX bytes (the map has lock-free gets;
 * not in ThreadSanitizer builds) it takes no lock: it reads optimistically
 * inside an RCU read-side section and retries, or takes the lock, if a
 * write to the shard overlapped (docs/shardmap.md). Otherwise it takes the
 * key's shard lock, exclusively like a write.
 * Context: no lock (lock-free gets) or the key's shard lock; never waits
 * for a grace period. From inside a callback of this map: reported as a
 * re-entrant call; from another map's callback: allowed. */
GOMAP_API bool gomap_shard_get(gomap_shard_t *m, const void *key, void *val_out);

/* Gets n keys at once: the answers of n gomap_shard_get calls, with the
 * cache misses of different keys overlapped (each key's bucket is
 * prefetched some keys ahead of its read, as gomap_get_many does), so a
 * batch of keys in a map far bigger than the caches costs much less than n
 * single gets. `keys` holds n keys laid out as single calls take them
 * (a uint64_t, a gomap_str, key_size bytes... each). Key i's value is
 * copied to vals_out + i * val_size, or val_size zero bytes where it is
 * absent; found_out[i], if found_out is not NULL, says whether it was
 * found. Returns the number of keys found.
 * Each key's answer is linearizable on its own, as one gomap_shard_get;
 * the batch as a whole is not a snapshot (a write may land between the
 * reads of two of its keys; take gomap_shard_snapshot for that). Keys may
 * repeat. A key no map accepts ({NULL, len > 0}) is absent.
 * Arguments: n == 0 does nothing and returns 0; a NULL m returns 0 with
 * found_out all false; NULL keys reads every key as absent; vals_out may
 * be NULL (only the flags and the count are wanted), and is not written for
 * a set (val_size 0). Allocates nothing, so it never fails.
 * Context: as gomap_shard_get for each key: no lock on a map with lock-free
 * gets (inside RCU read-side sections of up to 256 keys each; a key whose
 * shard a writer holds falls back to its shard lock), otherwise each key's
 * shard lock in turn, never two at once. Never waits for a grace period.
 * From inside a callback of this map: reported as a re-entrant call, like
 * gomap_shard_get; from another map's callback: allowed. */
GOMAP_API size_t gomap_shard_get_many(gomap_shard_t *m, const void *keys, size_t n,
                                      void *vals_out, bool *found_out);

/* Sets the value of `key` (insert or overwrite). 0, -EINVAL (NULL m or key,
 * NULL val with val_size > 0, a key no map accepts) or -ENOMEM.
 * Context: the key's shard lock; never waits for a grace period (see
 * Waiting above). From inside a callback of this map: reported as a
 * re-entrant call; from another map's callback: allowed. */
GOMAP_API int gomap_shard_set(gomap_shard_t *m, const void *key, const void *val);

/* Deletes `key`; true if it was present. Never fails.
 * Context: the key's shard lock; never waits for a grace period. From
 * inside a callback of this map: reported as a re-entrant call; from
 * another map's callback: allowed. */
GOMAP_API bool gomap_shard_delete(gomap_shard_t *m, const void *key);

/* If `key` is present, copies its value to actual_out and sets *loaded;
 * otherwise stores `val`, copies it to actual_out and clears *loaded.
 * 0, -EINVAL or -ENOMEM (nothing stored; *loaded false).
 * Context: looks the key up as gomap_shard_get (no lock with lock-free
 * gets); if it is absent, takes the key's shard lock to store it. Never
 * waits for a grace period. From inside a callback of this map:
 * reported as a re-entrant call; from another map's callback: allowed. */
GOMAP_API int gomap_shard_load_or_store(gomap_shard_t *m, const void *key, const void *val,
                                        void *actual_out, bool *loaded);

/* Atomic read-modify-write of one key, under its shard's exclusive lock.
 * fn(key, val, present, ctx) is called once: *present says whether the key
 * is in the map and val points to a private copy of its value (val_size
 * bytes; zeroed when absent). fn may change *val, set *present to insert the
 * key with *val, or clear it to delete the key, and returns 0 to commit;
 * any other return abandons the call. Counters, upserts and conditional
 * deletes are one call.
 *
 * Returns 0 when fn returned 0 and its change was made. Otherwise the map is
 * unchanged and the result is one of:
 *   - fn's value, returned unchanged whenever fn returns nonzero, whatever
 *     it is (positive, negative, or a code gomap itself returns);
 *   - -EINVAL, only for a NULL m, key or fn or a key no map accepts (see
 *     gomap_str), checked before anything else: fn is not called;
 *   - -ENOMEM, either before fn runs (the private copy of a value over
 *     256 bytes, made on the heap, could not be allocated: fn is not
 *     called, whatever it would have done) or after fn returned 0
 *     asking to insert an absent key (the insert failed).
 * To keep its own reasons apart from gomap's, fn should give up with
 * positive values (or with codes gomap never returns), or record in ctx
 * why it gave up.
 * Context: the key's shard lock, held while fn runs; never waits for a
 * grace period. fn must not call into
 * this map (reported as a re-entrant call); it may use other maps. From
 * inside a callback of this map: reported; from another map's callback:
 * allowed. */
GOMAP_API int gomap_shard_compute(gomap_shard_t *m, const void *key,
                                  int (*fn)(const void *key, void *val, bool *present, void *ctx),
                                  void *ctx);

/* If `key` is present, calls fn(key, val, ctx) with a pointer to the stored
 * value, which fn may modify in place, and returns true; false (fn not
 * called) if absent.
 * Context: the key's shard lock, held while fn runs; never waits for a
 * grace period. fn must not call into this map (reported as a
 * re-entrant call); it may use other maps. From inside a callback of this
 * map: reported; from another map's callback: allowed. */
GOMAP_API bool gomap_shard_visit(gomap_shard_t *m, const void *key,
                                 void (*fn)(const void *key, void *val, void *ctx), void *ctx);

/* Calls fn(key, val, ctx) for every entry, shard by shard, until fn returns
 * false. Each shard's lock is held while its entries are visited, so the
 * entries of one shard are seen at one instant; shards are visited one after
 * another, so the whole is not a snapshot (use gomap_shard_snapshot). `key`
 * and `val` are valid until fn returns. During a resize it walks the old
 * shards, and for one already moved, the new shards its keys went to (only
 * its keys): an entry present throughout is seen once (a NaN key of an f64
 * map being shrunk meanwhile may be seen twice). A resize waits for a range
 * that started before it to finish before freeing the old shards.
 * Context: each shard's lock in turn, held while fn runs on its entries;
 * never waits for a grace period. fn must not call into this map (reported
 * as a re-entrant call); it may use other maps. From inside a callback of
 * this map: reported; from another map's callback: allowed. */
GOMAP_API void gomap_shard_range(gomap_shard_t *m,
                                 bool (*fn)(const void *key, const void *val, void *ctx),
                                 void *ctx);

/* A consistent copy: a new core map (caller frees it with gomap_free) with
 * every entry present at one instant; no write lands half-way through it.
 * 0, -EINVAL (NULL m or out) or -ENOMEM (*out NULL). The copy uses the
 * map's allocator and options, not its mem_limit.
 * Context: every shard's lock, in index order, held while the shards are
 * cloned (O(entries)); the clones are merged with no lock held. Never
 * waits for a grace period. From inside a callback of this map: reported
 * as a re-entrant call; from another map's callback: allowed. */
GOMAP_API int gomap_shard_snapshot(gomap_shard_t *m, gomap_t **out);

/* The number of entries at one instant. 0 for NULL.
 * Context: every shard's lock, in index order, briefly; never waits for a
 * grace period. From inside a callback of this map: reported as a
 * re-entrant call; from another map's callback: allowed. */
GOMAP_API size_t gomap_shard_len(gomap_shard_t *m);

/* Deletes every entry, atomically.
 * Context: every shard's lock, in index order, held for O(entries); never
 * waits for a grace period (outgrown arrays are left for later writes).
 * From inside a callback of this map: reported as a re-entrant call; from
 * another map's callback: allowed. */
GOMAP_API void gomap_shard_clear(gomap_shard_t *m);

/* The number of shards the map is split into (the shards option or the
 * automatic count at creation, then what the last finished resize made
 * it), not the number of entries (gomap_shard_len). While a resize moves
 * entries, the count before it. 0 for NULL.
 * Context: takes no lock and never waits (a read-side section); callable
 * anywhere, this map's callbacks included. */
GOMAP_API unsigned gomap_shard_count(const gomap_shard_t *m);

/* Changes the number of shards to `shards` (a power of two, 1 ..
 * GOMAP_SHARDS_MAX; larger or smaller), online: other threads keep using
 * the map. The calling thread moves the entries group by group: the old
 * shards whose keys go to the same new shards (one old shard when
 * growing, 2^k when shrinking by 2^k) are held while their entries are
 * copied into new core maps, which then take over those keys; a call of
 * another thread waits for at most one group's move (the lock of a shard
 * being moved), never for the whole resize. Every operation stays
 * linearizable meanwhile (docs/shardmap.md, "Resizing": what len, range,
 * snapshot, clear, stats and validate see during a move). Returns once
 * every entry lives in the new shards and the old shards are freed.
 *
 * 0 (also when the map already has that many shards), -EINVAL (NULL m,
 * shards 0, not a power of two or too many), -EDEADLK (called where it may
 * not wait: inside a callback of any map or a read-side section; nothing
 * changed) or -ENOMEM: the map's contents are unchanged and every call
 * works, but a move that ran out of memory half-way stays pending (the
 * map holds the old and the new shards; stats.resize_target names it);
 * the next gomap_shard_resize call, whatever its count, first completes
 * it. Resizes of one map run one at a time: a second caller waits for the
 * first.
 * Context: takes the map's resize mutex, then the old shards of one group
 * at a time (never two groups, never with another map's lock); then, with
 * no shard held, waits for an RCU grace period and for calls still inside
 * the old shards (len, snapshot, a call waiting for an old shard's lock)
 * to leave them, before freeing them. Never inside a callback (-EDEADLK,
 * or from inside one of this map's callbacks: reported as a re-entrant
 * call). */
GOMAP_API int gomap_shard_resize(gomap_shard_t *m, unsigned shards);

/* ---- diagnostics -------------------------------------------------------- */

/* Counters of one shard since creation. Each operation on a key counts once,
 * as a hit (found its key) or a miss (did not: a get of an absent key, a set
 * or compute that inserted, a delete of an absent key); ops = hits + misses.
 * A call that fails with -ENOMEM may count once or not at all.
 * Counted in per-thread lanes (a thread's own, or, past the lanes a map
 * has, shared ones with atomic adds): exact once the map is quiet. entries and bytes_held are what the shard's last write
 * published when it released the shard. A shard's counters start at zero
 * when a resize creates it; the map's totals carry those of the shards a
 * resize replaced (only lock acquisitions and waits of calls that reached
 * an old shard after its move finished may go uncounted). */
typedef struct gomap_shard_counters {
    size_t entries;      /* entries now */
    uint64_t ops;        /* keyed operations */
    uint64_t hits;
    uint64_t misses;
    uint64_t waits;      /* lock acquisitions that had to wait for another
                            thread (range, len, snapshot, clear included) */
    uint64_t wait_ns;    /* total time those acquisitions waited */
    uint64_t lock_acquisitions; /* acquisitions of the shard's lock, waiting
                            or not (whole-map calls and resizes included);
                            waits / lock_acquisitions is the contended
                            share the auto mode watches */
    size_t bytes_held;   /* bytes the shard's core map holds now (its
                            gomap_stats bytes_held: arrays, overflow
                            buckets, out-of-line keys and values, outgrown
                            arrays kept for lock-free gets) */
} gomap_shard_counters;

typedef struct gomap_shard_stats {
    unsigned shards;             /* gomap_shard_count */
    unsigned resize_target;      /* the count a move under way (or left
                                    pending by -ENOMEM) goes to; 0 if none */
    uint64_t resizes;            /* resizes finished (auto mode's included) */
    gomap_shard_counters total;  /* the sum over shards */
    size_t max_entries;          /* the fullest shard's entries */
    uint64_t max_ops;            /* the busiest shard's ops */
    double imbalance;            /* max_ops / mean ops (1.0 = even; 0 if none) */
    uint64_t optimistic_retries; /* lock-free get attempts a writer (or a
                                    resize) got in the way of, each then
                                    tried again or left for the lock */
    uint64_t optimistic_fallbacks; /* gets that took the shared lock after
                                    lock-free attempts failed */
    gomap_latency_t get_latency;   /* sampled gomap_shard_get calls */
    gomap_latency_t write_latency; /* sampled set, delete and compute calls */
} gomap_shard_stats_t;

/* Fills *out and, when per_shard is not NULL, per_shard[0 .. n) with the
 * first n shards' counters (n may be less or more than the shard count;
 * entries past it are zeroed). During a resize the shards are the old
 * ones (a moved shard shows no entries) and the totals include the new
 * ones. O(shards); never reads the entries. Each
 * figure is read with a relaxed load: while the map is busy, the shards'
 * figures (and a shard's entries against its ops) may be from slightly
 * different instants. 0 or -EINVAL (NULL m or out).
 * Context: takes no lock and never waits, so it never delays a get or a
 * write; callable anywhere, this map's callbacks included. */
GOMAP_API int gomap_shard_stats(gomap_shard_t *m, gomap_shard_stats_t *out,
                                gomap_shard_counters *per_shard, size_t n);

/* Draws the load of each shard: one cell per shard, shaded by its share of
 * operations (and, on a second grid, of entries), with the hottest shards
 * listed. format: GOMAP_HEATMAP_TEXT or GOMAP_HEATMAP_SVG (gomap/diag.h).
 * 0, -EINVAL (NULL m or out, unknown format), -ENOMEM (its per-shard
 * table, from the map's allocator; nothing written) or -EIO (writing to
 * `out` failed).
 * Context: as gomap_shard_stats (no lock); writes to `out` with no lock
 * held. */
GOMAP_API int gomap_shard_heatmap(gomap_shard_t *m, FILE *out, int format);

/* Checks every shard's core map (gomap_validate) and its hash seed (the
 * map's), that every key lives in the shard its hash selects, and that the
 * shard count and mask agree; with a move pending (a resize that ran out of
 * memory), the shards not yet moved and the new shards already filled.
 * Call while no other thread writes or resizes. 0, -EINVAL (NULL m) or -EFAULT with a one-line
 * reason in why (if why_len > 0).
 * Context: each shard's lock in turn, held while that shard is checked
 * (O(its entries)); never waits. From inside a callback of this map:
 * reported as a re-entrant call; from another map's callback: allowed. */
GOMAP_API int gomap_shard_validate(gomap_shard_t *m, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_SHARDMAP_H */
