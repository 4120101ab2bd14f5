/*
 * gomap/reclaim.h — waiting for deferred memory reclamation.
 *
 * The sync map, the snapshot map and the sharded map's lock-free gets free
 * memory that a lock-free reader may still be reading only after an RCU grace
 * period (liburcu's call_rcu thread does it). Calls that must wait for that
 * memory (gomap_sync_free, gomap_snap_free) wait when they are called from
 * plain code, and hand the rest of the work to the reclaimer instead when
 * they are called from inside a callback of a concurrent map (a range, a
 * compute or visit, an update), where waiting could deadlock. The memory is
 * then given back to the map's allocator shortly after the callback returns.
 *
 * gomap_rcu_barrier waits for all of it: a program that frees maps from
 * callbacks and wants every byte back (before checking for leaks, unloading
 * a custom allocator, or exiting under a leak checker) calls it from plain
 * code.
 */
#ifndef GOMAP_RECLAIM_H
#define GOMAP_RECLAIM_H

#include "map.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Waits until every deferred free started before the call (by any thread)
 * has completed, including frees deferred by gomap_sync_free and
 * gomap_snap_free called from callbacks, and every retired object of every
 * map. Typically a few grace periods (milliseconds).
 * Context: may wait; must not be called from inside a concurrent map's
 * callback or with a read-side section open (that would never end): such a
 * call is reported as misuse ("gomap_rcu_barrier called from inside a
 * callback (would never return)") instead of hanging. */
GOMAP_API void gomap_rcu_barrier(void);

#ifdef __cplusplus
}
#endif

#endif /* GOMAP_RECLAIM_H */
