/*
 * gomap/syncmap.h — Go's sync.Map for C: a concurrent map with lock-free loads.
 *
 * Purpose. The map for keys written once and read many times, and for
 * threads working on disjoint sets of keys (Go's two intended uses). Keys
 * already promoted to the read-only part are loaded, overwritten and deleted
 * without a lock; a load takes no lock and performs no atomic
 * read-modify-write. New keys go to a dirty map behind a mutex; once enough
 * loads have missed the read-only part (as many as the dirty map has keys),
 * the dirty map is promoted to be the new read-only part (Go's algorithm; see
 * docs/syncmap.md). Workloads that keep adding new keys pay for a copy of the
 * whole map every few promotions: for those a sharded map is the better tool.
 *
 * Thread-safety. Every function except gomap_sync_new and gomap_sync_free may
 * be called by any thread at any time, concurrently with any other, without
 * registering the thread. A custom allocator (gomap_options.alloc) is
 * called from several threads at once, including liburcu's reclamation
 * thread, so it must be thread-safe. Memory a lock-free reader may still be reading
 * (replaced values, replaced read-only parts, deleted entries) is reused or
 * freed only after every reader that could see it has finished (RCU with
 * liburcu; see docs/syncmap.md). gomap_sync_free must not overlap any other
 * call on the map.
 *
 * Memory. Values and entries live in blocks the map allocates (1 KiB
 * doubling to 64 KiB): what deletes, overwrites and clear give up is
 * reused by the map's later writes, and goes back to the allocator when
 * the map is freed. So a map holds at most its peak of keys and values
 * (plus those waiting for readers to finish, and a partly used block per
 * writing thread): one that shrank keeps that memory until it is freed.
 *
 * Locking. The map has one mutex. Calls on keys already promoted to the
 * read-only part take no lock, nor does gomap_sync_len; the others take the
 * mutex, briefly or, when a new key copies the read-only part into a new
 * dirty map (and for clear and validate), for O(entries). No call holds
 * the mutex while a callback runs, and no call but gomap_sync_free waits
 * for a grace period: replaced memory is handed to the reclaimer. So every
 * call may be made from inside any callback of any map, this map's range
 * included, except gomap_sync_free of this map from its own range. Each
 * call's "Context:" line says what it takes.
 *
 * Ordering. Each operation is linearizable. A store, swap, delete or clear
 * "synchronizes before" every operation that observes its effect: a thread
 * that loads a value sees every write the storing thread made before storing
 * it. An operation that starts after a write returned observes that write or
 * a later one.
 *
 * Keys and values. Keys are given as for the core map (gomap/map.h): a
 * pointer to a uint64_t, a gomap_str, key_size bytes... Values are val_size
 * bytes copied in and out (val_size 0 makes a set; value pointers may then be
 * NULL). compare-and-swap and compare-and-delete compare values bytewise.
 * As in Go's sync.Map, a key keeps the bytes of the store that created its
 * entry: a later store of an equal key does not change them (storing -0.0
 * over +0.0 keeps +0.0, even after a delete and a new store while the entry
 * lives), where the core, sharded and snapshot maps store the new bits.
 * Every `*_out` pointer may be NULL when the caller does not want the value.
 *
 * Errors. Functions returning int return 0 (or 1 where documented), -EINVAL
 * for bad arguments (nothing changed) or -ENOMEM when memory runs out (the
 * map unchanged, nothing leaked); gomap_sync_validate returns -EFAULT too.
 * Functions returning bool or void treat a NULL map or key as "absent" /
 * no-op.
 */
#ifndef GOMAP_SYNCMAP_H
#define GOMAP_SYNCMAP_H

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gomap_sync gomap_sync_t;

/* Creates a sync map with the key kind, value size, hash (custom keys),
 * allocator and misuse-check mode of *opt (hint sizes the first dirty map).
 * Returns 0, -EINVAL (NULL argument, options gomap_new would reject, or a
 * mem_limit, which the sync map does not support; *out is NULL) or -ENOMEM.
 * Context: takes no lock and never waits; callable anywhere, callbacks
 * included. */
GOMAP_API int gomap_sync_new(gomap_sync_t **out, const gomap_options *opt);

/* Frees the map and everything it owns. Must not overlap any other call on
 * the map. NULL is a no-op.
 * Context: takes no lock. The map's current contents are freed at once (no
 * reader can hold them, since no call overlaps), a block at a time, not a
 * key at a time; called from plain code it
 * then waits until the memory the map retired earlier has been freed (an
 * RCU grace period, typically milliseconds), so the allocator may be
 * released afterwards. Safe from inside any callback of
 * another map (a sync map range, a sharded map's compute, visit or range, a
 * snapshot map's update or view range): there it does not wait, and the
 * last of the map's memory goes back to its allocator on liburcu's
 * reclamation thread shortly after (gomap_rcu_barrier, gomap/reclaim.h,
 * waits for it). Freeing this map from
 * inside its own range callback is misuse, reported as
 *   fatal error: gomap sync map freed from inside its own callback */
GOMAP_API void gomap_sync_free(gomap_sync_t *m);

/* Copies the value of `key` to val_out and returns true; if the key is
 * absent, fills val_out with zero bytes and returns false.
 * Context: no lock (inside an RCU read-side section) when the key is in the
 * read-only part or no new key awaits promotion; otherwise the mutex,
 * briefly (a miss, which may promote). Never waits for a grace period.
 * Callable from inside any callback, this map's range included. */
GOMAP_API bool gomap_sync_load(gomap_sync_t *m, const void *key, void *val_out);

/* Loads n keys at once: the answers of n gomap_sync_load calls, with the
 * cache misses of different keys overlapped (each key's bucket, entry and
 * value are prefetched some keys ahead of its load), so a batch of keys in
 * a map far bigger than the caches costs much less than n single loads.
 * `keys` holds n keys laid out as single calls take them (a uint64_t, a
 * gomap_str, key_size bytes... each). Key i's value is copied to
 * vals_out + i * val_size, or val_size zero bytes where it is absent;
 * found_out[i], if found_out is not NULL, says whether it was found.
 * Returns the number of keys found.
 * Each key's answer is linearizable on its own, as one gomap_sync_load; the
 * batch as a whole is not a snapshot. A key not in the read-only part while
 * new keys await promotion is looked up under the mutex and counted as a
 * miss, exactly as gomap_sync_load does, so a batch promotes the dirty map
 * when a run of single loads would. Keys may repeat. A key no map accepts
 * ({NULL, len > 0}) is absent.
 * Arguments: n == 0 does nothing and returns 0; a NULL m returns 0 with
 * found_out all false; NULL keys reads every key as absent; vals_out may
 * be NULL (only the flags and the count are wanted), and is not written for
 * a set (val_size 0). Allocates nothing, so it never fails.
 * Context: no lock for keys in the read-only part (inside RCU read-side
 * sections of up to 256 keys each); the mutex, briefly, per key that
 * misses it while new keys await promotion. Never waits for a grace
 * period. Callable from inside any callback, this map's range included. */
GOMAP_API size_t gomap_sync_load_many(gomap_sync_t *m, const void *keys, size_t n,
                                      void *vals_out, bool *found_out);

/* Sets the value of `key` (insert or overwrite). 0, -EINVAL or -ENOMEM.
 * Context: no lock (a compare-and-swap inside an RCU read-side section)
 * when the key is in the read-only part and not expunged; otherwise the
 * mutex: briefly, or for O(entries) when a new key makes a new dirty map.
 * Never waits for a grace period. Callable from inside any callback, this
 * map's range included. */
GOMAP_API int gomap_sync_store(gomap_sync_t *m, const void *key, const void *val);

/* Sets the value of `key` and reports the previous one: *loaded (if not
 * NULL) says whether the key was present, and only then is the previous
 * value copied to prev_out. 0, -EINVAL or -ENOMEM (nothing stored; *loaded
 * false and prev_out untouched).
 * Context: as gomap_sync_store. */
GOMAP_API int gomap_sync_swap(gomap_sync_t *m, const void *key, const void *val,
                              void *prev_out, bool *loaded);

/* If `key` is present, copies its value to actual_out and sets *loaded;
 * otherwise stores `val`, copies it to actual_out and clears *loaded.
 * 0, -EINVAL or -ENOMEM (nothing stored; *loaded false).
 * Context: as gomap_sync_store (a present key in the read-only part: no
 * lock). */
GOMAP_API int gomap_sync_load_or_store(gomap_sync_t *m, const void *key, const void *val,
                                       void *actual_out, bool *loaded);

/* Deletes `key`; if it was present copies its value to val_out and returns
 * true, else fills val_out with zero bytes and returns false. Never fails.
 * Context: as gomap_sync_load. */
GOMAP_API bool gomap_sync_load_and_delete(gomap_sync_t *m, const void *key, void *val_out);

/* Deletes `key` if present. Never fails.
 * Context: as gomap_sync_load. */
GOMAP_API void gomap_sync_delete(gomap_sync_t *m, const void *key);

/* If `key` is present with a value bytewise equal to `old`, replaces it with
 * `new_val` and returns 1; otherwise returns 0. Never creates a key
 * (golang/go#51972). -EINVAL or -ENOMEM (nothing changed).
 * Context: as gomap_sync_load (it never takes the mutex to add a key). */
GOMAP_API int gomap_sync_compare_and_swap(gomap_sync_t *m, const void *key,
                                          const void *old, const void *new_val);

/* If `key` is present with a value bytewise equal to `old`, deletes it and
 * returns true; otherwise returns false. Never fails.
 * Context: as gomap_sync_load. */
GOMAP_API bool gomap_sync_compare_and_delete(gomap_sync_t *m, const void *key, const void *old);

/* Calls fn(key, val, ctx) for each key present, until fn returns false.
 * `key` points to the stored key (a gomap_str for string maps), `val` to a
 * copy-free view of the value; both stay valid until fn returns. As Go's
 * Range: not a consistent snapshot, but no key is visited twice, a key
 * present for the whole call is visited, and the value seen is one the key
 * had during the call. fn may call any function of this API on any map,
 * this one included (except gomap_sync_free of this map, which is reported
 * as misuse), and may free other maps; Range itself never blocks
 * other operations while it calls fn. Range on a map with new keys not yet
 * promoted first promotes them, as Go does: under the mutex the dirty map
 * becomes the read-only part (no copy).
 * Memory retired while fn runs is freed only after Range returns, so a
 * long callback delays reclamation (see gomap_sync_stats).
 * Context: no lock while fn runs (the whole call is one RCU read-side
 * section); the mutex briefly first if new keys await promotion. Never
 * waits for a grace period. Callable from inside any callback, this map's
 * range included. Inside fn, calls that would wait for a grace period
 * (gomap_sync_free and gomap_snap_free of other maps, a sharded-map write
 * that completes a large growth) defer that work instead; gomap_rcu_barrier
 * is reported as misuse. */
GOMAP_API void gomap_sync_range(gomap_sync_t *m,
                                bool (*fn)(const void *key, const void *val, void *ctx),
                                void *ctx);

/* Deletes every key (Go 1.23's Clear). Cost O(entries), under the mutex.
 * Context: the mutex, for O(entries); never waits for a grace period (the
 * entries are retired). Callable from inside any callback, this map's range
 * included. */
GOMAP_API void gomap_sync_clear(gomap_sync_t *m);

/* Beyond Go (golang/go#20680): the number of keys present. Exact when no
 * write is in flight; while writes run, it counts every write that has
 * returned and may or may not count those still running. O(1). 0 for NULL.
 * Context: takes no lock (relaxed loads) and never waits; callable
 * anywhere, this map's range included. */
GOMAP_API size_t gomap_sync_len(gomap_sync_t *m);

typedef struct gomap_sync_stats {
    size_t len;               /* gomap_sync_len */
    size_t read_entries;      /* keys in the read-only part, live or deleted */
    size_t dirty_entries;     /* keys in the dirty map (0 when there is none) */
    bool amended;             /* the dirty map has keys the read-only part lacks */
    size_t misses;            /* loads that missed since the last promotion */
    uint64_t promotions;      /* dirty maps promoted to read-only */
    uint64_t dirty_copies;    /* dirty maps rebuilt from the read-only part
                                 (each an O(entries) copy) */
    size_t retired_bytes;     /* memory retired but not yet freed or reused:
                                 waiting for readers to leave (the C analogue
                                 of Go's garbage); includes retired read-only
                                 parts */
    size_t retired_objects;   /* values, entries and tables behind
                                 retired_bytes */
    uint64_t reclaimed_bytes; /* total freed or made reusable after a grace
                                 period so far */
    gomap_latency_t get_latency;   /* sampled gomap_sync_load calls */
    gomap_latency_t write_latency; /* sampled swaps and stores,
                                      compare-and-swaps and deletes */
} gomap_sync_stats_t;

/* Fills *out. 0 or -EINVAL (NULL m or out).
 * Context: the mutex, briefly; never waits. Callable from inside any
 * callback, this map's range included. */
GOMAP_API int gomap_sync_stats(gomap_sync_t *m, gomap_sync_stats_t *out);

/* Checks the sync map's invariants: both inner maps pass gomap_validate;
 * every live entry of the read-only part is in the dirty map (when there is
 * one) and no expunged entry is; `amended` matches; len matches the live
 * entries. Call it while no other thread writes the map. Returns 0, -EINVAL
 * (NULL m) or -EFAULT with a one-line reason in why (if why_len > 0).
 * Context: the mutex, for O(entries); never waits. Callable from inside any
 * callback, this map's range included. */
GOMAP_API int gomap_sync_validate(gomap_sync_t *m, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_SYNCMAP_H */
