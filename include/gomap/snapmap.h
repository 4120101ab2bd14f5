/*
 * gomap/snapmap.h — a copy-on-write map: readers never lock, writers copy.
 *
 * Purpose. Go's atomic.Value pattern as a library type: the map's current
 * version is an immutable core map behind one pointer. A reader loads the
 * pointer and looks the key up: no lock and no atomic read-modify-write, so
 * readers on any number of threads never slow each other down or wait for a
 * writer. A writer copies the whole current version, changes the copy and
 * publishes it; writers take a mutex, so they run one at a time.
 *
 * Cost. A write costs O(entries) time and, until readers of the old version
 * leave, twice the map's memory: a single set on a map of a million entries
 * copies a million entries. gomap_snap_update batches many changes into one
 * copy and one publish. Choose this map when writes are rare (configuration,
 * routing tables, feature flags, reference data reloaded now and then) and
 * readers are many, hot, or need a consistent view of the whole map for a
 * while (gomap_snap_acquire). For frequent writes use the sharded map
 * (gomap/shardmap.h) or, for write-once keys, the sync map (gomap/syncmap.h).
 *
 * Reclamation. A replaced version is freed once no reader can still be
 * reading it: after an RCU grace period (liburcu, as for the sync map and
 * the sharded map's lock-free gets) and after the last view of it has been
 * released.
 *
 * Thread-safety. Every function except gomap_snap_new and gomap_snap_free may
 * be called by any thread at any time, without registering the thread. A
 * custom allocator is called from several threads, including liburcu's
 * reclamation thread, so it must be thread-safe.
 *
 * Locking. get, len, acquire and the view calls take no lock. Writers
 * (set, delete, update, clear) take the writers' mutex and hold it while
 * they copy the map and, for update, while fn runs; a writer blocks while
 * another holds it. A short reclamation lock, never held while user code
 * runs, is taken by writers, stats, validate, free and the release that
 * frees a version. No call waits for a grace period but gomap_snap_free:
 * replaced versions are handed to the reclaimer. An update callback that
 * waits for another map's lock whose holder writes this map deadlocks (not
 * detected). Each call's "Context:" line says what it takes and where it
 * may be called.
 *
 * Ordering. Each operation is linearizable: a write is visible to every
 * operation that starts after it returns, and a reader that sees a write
 * also sees everything the writer did before it. A view shows exactly one
 * version: all of a batch or none of it.
 *
 * Errors. Functions returning int return 0 (or 1 where documented), -EINVAL
 * for bad arguments or -ENOMEM (the map unchanged, nothing leaked);
 * gomap_snap_validate returns -EFAULT too, and gomap_snap_update also
 * passes its callback's nonzero value through unchanged (see there for
 * telling the two apart).
 *
 * A write that would change nothing (a set of the value the key already
 * holds, a delete of an absent key, a clear of an empty map) publishes
 * nothing, costs one lookup and cannot run out of memory.
 *
 * Misuse is reported (a report on stderr starting "fatal error: ...", the
 * fault hook of gomap/diag.h, abort()) instead of hanging or corrupting
 * memory:
 *   - a write to this map from inside its own gomap_snap_update callback,
 *     and gomap_snap_free with a view still held (both would hang);
 *   - any core write (gomap_set, _assign, _delete, _clear, _shrink,
 *     _set_budget_handler, the typed shortcuts, gomap_free), whatever its
 *     arguments, on a published version's map: the const map of
 *     gomap_snap_view_map() is frozen, and writing it after a cast dies
 *     with "write to a published gomap snapshot version (...)";
 *   - a view released twice, or used after release, in these cases:
 *       * release of a view whose version has no view left (the only view
 *         of the current version released twice; of a replaced version,
 *         released twice before the version's grace period ended,
 *         typically milliseconds after its replacement): "gomap snapshot
 *         view released twice (its version has no view left to release)";
 *       * release of a view whose version has been freed since (the first
 *         release was its last reference): "gomap snapshot view released
 *         twice (its version was already reclaimed)";
 *       * gomap_snap_view_get, _view_map or _view_range on a view whose
 *         version has been freed: "gomap snapshot view used after release
 *         (its version was reclaimed)"; gomap_snap_view_range on a view
 *         whose version has no view held: "... (its version has no view
 *         held)".
 *     What cannot be detected: views of one version are one token with a
 *     shared count, so a view released twice while other views of the same
 *     version are held takes one of theirs. That is reported only when the
 *     count runs out: at the last of the other releases, or, for a replaced
 *     version whose count then reaches zero early, at the other holder's
 *     next call on its view (which finds the version reclaimed); meanwhile
 *     pointers that holder got through gomap_snap_view_map may dangle.
 *     gomap_snap_view_get and _view_map on a
 *     released view whose version is still alive (current, or held by
 *     other views) work as if it were held. A stale view is recognised by
 *     7 bits of a generation: after a multiple of 128 reuses of its
 *     version's memory by newer versions it names one of them again.
 *     A value changed in place through a pointer from gomap_get or an
 *     iterator on a view's map is not detected. Views of a freed snapshot
 *     map are never valid (gomap_snap_free reports views still held).
 */
#ifndef GOMAP_SNAPMAP_H
#define GOMAP_SNAPMAP_H

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct gomap_snap gomap_snap_t;
typedef struct gomap_snap_view gomap_snap_view_t;

/* Creates an empty snapshot map with the key kind, value size, hash, allocator
 * and check mode of *opt. 0, -EINVAL (NULL argument, options gomap_new
 * rejects, or a mem_limit, which is not supported; *out NULL) or -ENOMEM.
 * Context: takes no lock and never waits; callable anywhere, callbacks
 * included. */
GOMAP_API int gomap_snap_new(gomap_snap_t **out, const gomap_options *opt);

/* Frees the map. Every view must have been released; one still held is
 * reported as misuse. Must not overlap any other call on the map. NULL is a
 * no-op.
 * Context: takes the reclamation lock briefly (to count the views), then
 * may wait. Called from plain code it waits until the versions
 * retired earlier are freed (an RCU grace period: typically milliseconds).
 * Safe from inside any callback of another map (a sync map range, a sharded
 * map's compute, visit or range, another snapshot map's update or view
 * range): there it does not wait, and the memory goes back to the allocator
 * on liburcu's reclamation thread shortly after (gomap_rcu_barrier,
 * gomap/reclaim.h, waits for it). Freeing this map from inside its own
 * update or view-range callback is misuse, reported as
 *   fatal error: gomap snapshot map freed from inside its own callback */
GOMAP_API void gomap_snap_free(gomap_snap_t *m);

/* Copies the value of `key` in the current version to val_out and returns
 * true; if absent, fills val_out (if not NULL) with zeros and returns false.
 * Context: no lock (inside an RCU read-side section); never blocks or
 * waits. Callable from inside any callback, this map's update included
 * (it then sees the version before the batch). */
GOMAP_API bool gomap_snap_get(gomap_snap_t *m, const void *key, void *val_out);

/* Publishes a version with `key` set to `val`. O(entries). 0, -EINVAL or
 * -ENOMEM. If `key` already holds exactly `val` (for float keys: with the
 * same bits, so -0 replacing +0 does publish), nothing is published.
 * Context: the writers' mutex, held for the copy (O(entries)); the
 * reclamation lock briefly to publish. Never waits for a grace period (the
 * replaced version is retired). From inside this map's update callback it
 * is reported as misuse ("re-entrant write to a locked gomap snapshot map
 * (would deadlock)"); from its view-range callback or any other map's
 * callback: allowed. */
GOMAP_API int gomap_snap_set(gomap_snap_t *m, const void *key, const void *val);

/* Publishes a version without `key`: 1 if it was present, 0 if it was
 * absent (nothing published), -EINVAL or -ENOMEM. O(entries).
 * Context: as gomap_snap_set. */
GOMAP_API int gomap_snap_delete(gomap_snap_t *m, const void *key);

/* A batch of changes, published at once. fn(copy, ctx) receives a private
 * copy of the current version, which it may read and change with the core
 * map's API (gomap/map.h) but must not free or keep; it returns 0 to publish
 * the copy as the new version, or any other value to discard it, which
 * gomap_snap_update then returns. Readers see the version before the batch
 * or the one after, never a part. fn runs with the writers' mutex held: it
 * must not write this map (gomap_snap_set, _delete, _update, _clear: that
 * is reported as misuse) but may read it (which shows the version before
 * the batch). A growth the batch started in the copy is completed before
 * it is published.
 *
 * Returns 0 when the copy was published. Otherwise nothing was published
 * and the result is one of:
 *   - fn's value, returned unchanged whenever fn returns nonzero, whatever
 *     it is (positive, negative, or a code gomap itself returns);
 *   - -EINVAL, only for a NULL m or fn, checked before anything else: fn
 *     is not called;
 *   - -ENOMEM from making the copy, before fn would run: fn is not called.
 * Nothing fails once fn has returned 0. An error fn meets in its own calls
 * on the copy (say -ENOMEM from gomap_set) and returns is fn's value like
 * any other, so the same code can come from either side. To keep its own
 * reasons apart from gomap's, fn should give up with positive values (or
 * with codes gomap never returns), or record in ctx why it gave up.
 * Context: as gomap_snap_set, with the writers' mutex held while fn runs.
 * fn may use other maps, and this map's reads, views and stats; a write
 * to this map or gomap_snap_free of it from fn is reported as misuse. */
GOMAP_API int gomap_snap_update(gomap_snap_t *m, int (*fn)(gomap_t *copy, void *ctx), void *ctx);

/* Publishes an empty version (nothing if the map is empty). 0, -EINVAL or
 * -ENOMEM.
 * Context: as gomap_snap_set. */
GOMAP_API int gomap_snap_clear(gomap_snap_t *m);

/* Entries in the current version. O(1). 0 for NULL.
 * Context: no lock (inside an RCU read-side section); never blocks or
 * waits. Callable from inside any callback, this map's update included
 * (it then sees the version before the batch). */
GOMAP_API size_t gomap_snap_len(gomap_snap_t *m);

/* A consistent read-only view of the current version, valid until it is
 * released, whatever writers do meanwhile. Views may be held as long as
 * needed, passed to and released by another thread; each one keeps its
 * version's memory alive. The view is an opaque token, not a pointer to
 * dereference; views of one version are equal. NULL if m is NULL.
 * Context: no lock (one atomic increment inside an RCU read-side section);
 * never blocks or waits. Callable from inside any callback, this map's
 * update included (the view shows the version before the batch). */
GOMAP_API const gomap_snap_view_t *gomap_snap_acquire(gomap_snap_t *m);

/* Releases a view: once per gomap_snap_acquire that returned it. A view
 * released twice is reported as misuse where it can be told (see above).
 * The last release of a replaced version frees its map. NULL is a no-op.
 * Context: no lock, except that the release that frees a version takes the
 * reclamation lock briefly and gives the version's map back to the
 * allocator. Never waits. Callable from inside any callback, a view range
 * of this very view included (the range holds a reference of its own). */
GOMAP_API void gomap_snap_release(const gomap_snap_view_t *view);

/* The view's version as a core map, for the core's read-only functions
 * (gomap_len, gomap_get_copy, gomap_get, gomap_clone, ...), valid with
 * pointers into it until the view is released. The map is frozen: any core
 * write on it (after casting the const away) is reported as misuse. To
 * build on a version, gomap_clone it, or use gomap_snap_update.
 * Context: no lock; never blocks or waits. Callable from inside any
 * callback. */
GOMAP_API const gomap_t *gomap_snap_view_map(const gomap_snap_view_t *view);

/* Lookup in a view: as gomap_snap_get, on the view's version.
 * Context: no lock; never blocks or waits. Callable from inside any
 * callback. */
GOMAP_API bool gomap_snap_view_get(const gomap_snap_view_t *view, const void *key,
                                   void *val_out);

/* Iterates a view: calls fn(key, val, ctx) for each entry of the view's
 * version, in a random order (as the core map's iterators), until fn returns
 * false. fn may call any function of this API, this map's writes included
 * (the view does not change), and may even release the view: the range
 * holds a reference of its own.
 * Context: no lock while fn runs; at the end it drops its own reference as
 * gomap_snap_release does. Never waits. Callable from inside any callback.
 * Inside fn, gomap_snap_free of this map is reported as misuse; calls that
 * would wait for a grace period (freeing other sync or snapshot maps, a
 * sharded-map write that completes a large growth) defer that work
 * instead, and gomap_rcu_barrier is reported. */
GOMAP_API void gomap_snap_view_range(const gomap_snap_view_t *view,
                                     bool (*fn)(const void *key, const void *val, void *ctx),
                                     void *ctx);

typedef struct gomap_snap_stats {
    size_t len;               /* entries in the current version */
    uint64_t versions;        /* versions published by writes since creation */
    size_t views;             /* views held now (a range in progress
                                 counts as one) */
    size_t bytes_current;     /* bytes held by the current version */
    size_t retired_versions;  /* replaced versions not yet freed (readers or
                                 views may still use them) */
    size_t retired_bytes;     /* their bytes */
    uint64_t reclaimed_bytes; /* total freed so far (a version's struct is
                                 kept for the next version, not freed) */
    gomap_latency_t copy_latency; /* every copy a write made of the current
                                 version's map (all of them, not a sample;
                                 a write to an empty map copies nothing) */
} gomap_snap_stats_t;

/* Fills *out. len, versions, views and bytes_current are read at one
 * instant, under the map's reclamation lock (taken briefly; never the
 * writers' mutex, so an update callback may call this); the retired and
 * reclaimed counts move on as the reclaimer works. O(retired versions).
 * 0 or -EINVAL (NULL m or out).
 * Context: the reclamation lock, briefly; never waits. Callable from inside
 * any callback, this map's update included. */
GOMAP_API int gomap_snap_stats(gomap_snap_t *m, gomap_snap_stats_t *out);

/* Checks the current version (gomap_validate) and the map's counters. Call
 * while no other thread writes. 0, -EINVAL (NULL m) or -EFAULT with a
 * one-line reason in why (if why_len > 0).
 * Context: holds a view of the current version while it checks it
 * (O(entries)) and takes the reclamation lock briefly; never waits.
 * Callable from inside any callback, this map's update included (it checks
 * the version before the batch). */
GOMAP_API int gomap_snap_validate(gomap_snap_t *m, char *why, size_t why_len);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_SNAPMAP_H */
