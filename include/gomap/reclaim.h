/*
 * gomap/reclaim.h — waiting for deferred memory reclamation.
 *
 * The sync map, the snapshot map and the sharded map's lock-free gets free
 * memory that a lock-free reader may still be reading only after an RCU grace
 * period. The sync and snapshot maps hand it to liburcu's call_rcu thread,
 * which frees it; calls that must wait for that memory (gomap_sync_free,
 * gomap_snap_free) wait when they are called from plain code, and hand the
 * rest of the work to the reclaimer instead when they are called from
 * inside a callback of a concurrent map (a range, a compute or visit, an
 * update), where waiting could deadlock. The memory is then given back to
 * the map's allocator shortly after the callback returns. A sharded map
 * hands the bucket arrays its shards outgrew to the reclaimer, which only
 * marks them free to go: a later write to the shard frees them (no write
 * waits for a grace period), or gomap_shard_free does, waiting for their
 * grace period from plain code, or leaving them and their shard's map to
 * the reclaimer from inside a callback.
 *
 * gomap_rcu_barrier waits for the reclaimer's share: a program that frees
 * sync, snapshot or sharded maps from callbacks and wants every byte back
 * (before checking for leaks, unloading a custom allocator, or exiting
 * under a leak checker) calls it from plain code.
 */
#ifndef GOMAP_RECLAIM_H
#define GOMAP_RECLAIM_H

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Waits until every deferred free started before the call (by any thread)
 * has completed, including frees deferred by gomap_sync_free and
 * gomap_snap_free called from callbacks, and every object the sync and
 * snapshot maps retired (a replaced snapshot version still viewed is freed
 * at its last release instead), and the sharded maps freed from callbacks.
 * Typically a few grace periods (milliseconds).
 * Context: takes no lock of any map; may wait. Must not be called from
 * inside a concurrent map's callback (a sync map range, a sharded map's
 * compute, visit or range, a snapshot map's update or view range) or with
 * a read-side section open (that would never end): such a call is reported
 * as misuse ("gomap_rcu_barrier called from inside a callback (would never
 * return)") instead of hanging. */
GOMAP_API void gomap_rcu_barrier(void);

/* Process-wide counts of deferred reclamation, every map together (the
 * per-map retired bytes are in each map's stats). */
typedef struct gomap_rcu_stats {
    uint64_t retired;     /* blocks handed to the reclaimer to free after a
                             grace period (a sync map's batch of boxes is
                             one; a replaced snapshot version is one) */
    uint64_t freed;       /* of those, freed (retired - freed: waiting) */
    uint64_t waits;       /* times a gomap call waited for a grace period
                             itself (a sharded map's growth or resize,
                             gomap_sync_free, gomap_snap_free,
                             gomap_rcu_barrier): each blocked its caller */
    uint64_t wait_ns;     /* the time those waits took */
    uint64_t wait_max_ns; /* the longest of them */
} gomap_rcu_stats_t;

/* Fills *out (nothing if out is NULL). Relaxed reads of counters that move
 * on while maps work; freed never exceeds retired.
 * Context: takes no lock and never waits; callable anywhere. */
GOMAP_API void gomap_rcu_stats(gomap_rcu_stats_t *out);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_RECLAIM_H */
