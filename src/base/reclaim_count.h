/*
 * reclaim_count.h — what a map has retired through RCU and not yet seen
 * freed, and what has been freed: the counters behind gomap_sync_stats and
 * gomap_snap_stats (retired bytes and objects, reclaimed bytes), and the
 * test that gomap_sync_free and gomap_snap_free wait on before they free
 * the map that holds them.
 *
 * The counters order nothing while they move (relaxed), with one
 * exception: the decrement of retired_objects in gomap__count_reclaimed is
 * a release, the last access of a free function to its map, and
 * gomap__count_drained's load is an acquire that pairs with it. A thread
 * that finds the count drained therefore sees every free that counted
 * itself out, and may free the map.
 */
#ifndef GOMAP_RECLAIM_COUNT_H
#define GOMAP_RECLAIM_COUNT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/atomics.h"

struct gomap__reclaim_count {
    atomic_size_t retired_objects;    /* retired, not yet freed */
    atomic_size_t retired_bytes;      /* their bytes */
    _Atomic uint64_t reclaimed_bytes; /* freed so far, in total */
};

static inline void gomap__reclaim_count_init(struct gomap__reclaim_count *c)
{
    atomic_init(&c->retired_objects, 0);
    atomic_init(&c->retired_bytes, 0);
    atomic_init(&c->reclaimed_bytes, 0);
}

/* n objects of `bytes` bytes in all were retired. Count them before the
 * retirement, so that the free function can never count them out first. */
static inline void gomap__count_retired(struct gomap__reclaim_count *c, size_t n, size_t bytes)
{
    fetch_add_relaxed(&c->retired_objects, n);
    fetch_add_relaxed(&c->retired_bytes, bytes);
}

/* n retired objects of `bytes` bytes in all were freed. The last access to
 * c (and to the map holding it) by the calling free function: see the top. */
static inline void gomap__count_reclaimed(struct gomap__reclaim_count *c, size_t n, size_t bytes)
{
    fetch_sub_relaxed(&c->retired_bytes, bytes);
    fetch_add_relaxed(&c->reclaimed_bytes, bytes);
    fetch_sub_release(&c->retired_objects, n);
}

/* True once everything retired has been freed (acquire: see the top). */
static inline bool gomap__count_drained(struct gomap__reclaim_count *c)
{
    return load_acquire(&c->retired_objects) == 0;
}

/* The counters now, for stats and checks (relaxed: they may move on). Any
 * output pointer may be NULL. */
static inline void gomap__count_read(struct gomap__reclaim_count *c, size_t *objects,
                                     size_t *bytes, uint64_t *reclaimed)
{
    if (objects)
        *objects = load_relaxed(&c->retired_objects);
    if (bytes)
        *bytes = load_relaxed(&c->retired_bytes);
    if (reclaimed)
        *reclaimed = load_relaxed(&c->reclaimed_bytes);
}

#endif /* GOMAP_RECLAIM_COUNT_H */
