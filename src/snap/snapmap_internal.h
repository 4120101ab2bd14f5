/*
 * snapmap_internal.h — the copy-on-write snapshot map's layout and rules,
 * shared by snapmap.c (readers, views, writers, life cycle), snapmap_mem.c
 * (version structs, the retired list, reclamation) and snapmap_check.c
 * (stats, validate). gomap/snapmap.h is the API; docs/snapmap.md has the
 * design, the costs and the tests.
 *
 * Shape. The map is one atomic pointer, `current`, to a version: a core map
 * that nobody writes once it is published, plus a reference count. A reader
 * loads the pointer inside an RCU read-side section and looks its key up in
 * that version's map: no lock, no read-modify-write. A writer takes the
 * writers' mutex, copies the current map into a private one, changes the
 * copy, publishes it as the next version (release store) and retires the
 * version it replaced. Publication freezes the version's map (map_internal.h:
 * any core write on it is reported as misuse).
 *
 * References. A version's count holds the "base" reference, REF_BASE (the
 * count's top bit), from its creation until one RCU grace period after it
 * stops being current, plus one per view and per range in progress: the low
 * bits count exactly the views, whatever the base.
 *   - gomap_snap_acquire increments inside a read-side section, on a version
 *     it has just loaded from `current`. The base reference is dropped only
 *     after a grace period, which waits for that section: the count never
 *     rises from zero.
 *   - Once the grace period is over no acquire can reach the version any
 *     more, so its count only falls; whoever takes it to zero (the RCU
 *     callback or the thread releasing the last view) reclaims the version.
 *   - A release whose decrement finds the view bits zero had no view to give
 *     back: a view released twice. It is reported at once, before anything
 *     is freed.
 *
 * Views. A view is a token, not a pointer to dereference: the address of
 * its version's struct, aligned to VIEW_ALIGN (128) bytes, with the low 7
 * bits holding the struct's generation. Version structs are recycled, never
 * freed before gomap_snap_free: reclaiming a version frees its map, bumps
 * its struct's generation and puts the struct on the map's pool, where the
 * next version takes it. Every view call compares the token's generation
 * with its struct's (which any token of this map can read safely): a
 * mismatch is a view released, reclaimed and then used or released again,
 * reported instead of touching the freed map. A token is therefore valid
 * exactly while its version lives, except that a struct recycled a multiple
 * of 128 times since the token was made matches it again.
 *
 * Invariants (gomap_snap_validate checks them)
 *   V1  A published version's map is never written: it is frozen, and still
 *       holds exactly the bytes recorded when it was published.
 *   V2  The current version holds its base reference and is not on the
 *       retired list.
 *   V3  The retired list holds exactly the versions replaced and not yet
 *       freed, each with its base reference until its grace period ended;
 *       retired_versions and retired_bytes count them (and, for the few
 *       instructions between leaving the list and being freed, the one being
 *       freed): list length <= retired_versions <= versions published.
 *
 * Locks. `mu` serialises writers and is held while the copy is built and
 * while an update callback runs. `gc_mu` guards the retired list, the pool
 * of version structs, the base reference's drop and the publication count;
 * it is taken after `mu`, held only for a few pointer updates or a walk of
 * the list (stats), never while memory is freed or user code runs. Readers
 * take neither.
 */
#ifndef GOMAP_SNAPMAP_INTERNAL_H
#define GOMAP_SNAPMAP_INTERNAL_H

#include <gomap/snapmap.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/layer.h"
#include "base/alloc.h"
#include "base/assert.h"
#include "base/latency.h"
#include "base/atomics.h"
#include "base/compiler.h"
#include "base/rcu.h"
#include "base/reclaim_count.h"
#include "base/scope.h"
#include "diag/validate.h"

#define SNAP_LINE 64

/* Version structs are aligned to VIEW_ALIGN, so that a view token's low bits
 * can carry the struct's generation. */
#define VIEW_ALIGN ((uintptr_t)128)
#define VIEW_GEN_MASK (VIEW_ALIGN - 1)

/* A version's count: the base reference is the top bit, views the rest. */
#define REF_BASE (~(SIZE_MAX >> 1))
#define REF_VIEWS (SIZE_MAX >> 1)

#define MSG_SNAP_REENTRY "re-entrant write to a locked gomap snapshot map (would deadlock)"
#define MSG_SNAP_FREE_VIEWS "gomap snapshot map freed while a view of it is held"
#define MSG_VIEW_TWICE "gomap snapshot view released twice "
#define MSG_VIEW_TWICE_GONE MSG_VIEW_TWICE "(its version was already reclaimed)"
#define MSG_VIEW_TWICE_HELD MSG_VIEW_TWICE "(its version has no view left to release)"
#define MSG_VIEW_USED "gomap snapshot view used after release "
#define MSG_VIEW_USED_GONE MSG_VIEW_USED "(its version was reclaimed)"
#define MSG_VIEW_USED_UNHELD MSG_VIEW_USED "(its version has no view held)"

/* A version. A gomap_snap_view_t pointer is a token naming one (see Views
 * above); struct gomap_snap_view itself is never defined. */
typedef struct snap_version version;

struct snap_version {
    /* Read by every lookup and view call. Written only while neither a
     * reader nor a view can reach the version: before it is published, and
     * when it is reclaimed. */
    union {
        struct {
            gomap_t *map;
            gomap_snap_t *owner;     /* for the struct's whole life */
            size_t bytes;            /* this struct's block + map's bytes, at publication */
            _Atomic uint32_t gen;    /* bumped when reclaimed; tokens carry its low bits */
        };
        char line0[SNAP_LINE];
    };
    /* Changed by acquire and release: a cache line away from `map`. */
    atomic_size_t refs;              /* REF_BASE while the base is held, + views */
    version *prev, *next;            /* the retired list, or (next) the pool; under gc_mu */
    void *block;                     /* the allocation this struct is aligned in */
    struct gomap_retired retired;
};

/* The allocation of one version struct: room to align it. */
#define VERSION_BLOCK (sizeof(version) + VIEW_GEN_MASK)

struct gomap_snap {
    /* Read by every reader; `current` is stored by writers only. */
    union {
        struct {
            _Atomic(version *) current;
            size_t val_size;
            int key_kind;            /* gomap_key_kind */
        };
        char line0[SNAP_LINE];
    };

    /* Writers. */
    pthread_mutex_t mu;
    _Atomic(struct gomap__thread *) holder; /* the thread holding mu, or NULL */
    const void *held_site;                  /* the public call that took mu */
    gomap_options opt;                      /* every version's map: hint 0, no limit */

    /* Reclamation and counts. */
    pthread_mutex_t gc_mu;
    version *retired_list;                  /* under gc_mu */
    version *pool;                          /* recycled version structs; under gc_mu */
    uint64_t versions;                      /* published by writes; under gc_mu */
    struct gomap__reclaim_count reclaim;    /* objects: versions replaced,
                                               not yet freed */
    struct gomap_retired final;             /* gomap_snap_free's deferred end */
    struct lat_hist copy_time;              /* every copy of a version's map
                                               (under mu; latency.h) */
};

/* ---- memory and reclamation (snapmap_mem.c; each function's contract is
 * at its definition) ----------------------------------------------------------------- */

void gomap__snap_version_put(version *v, const void *site);
void gomap__snap_list_link_locked(gomap_snap_t *m, version *v);
version *gomap__snap_version_reset(version *v);
size_t gomap__snap_version_bytes(const version *v);
void gomap__snap_version_destroy(gomap_snap_t *m, version *v);
version *gomap__snap_version_alloc(gomap_snap_t *m);
void gomap__snap_pool_free_all(gomap_snap_t *m);
size_t gomap__snap_views_locked(const gomap_snap_t *m, const version *cur);
_Noreturn __attribute__((noinline, cold)) void
gomap__snap_view_fault(const version *v, size_t refs, const char *message, const void *site);
void gomap__snap_version_grace_over(struct gomap_retired *r);
version *gomap__snap_version_new(gomap_snap_t *m);
size_t gomap__snap_refs_of(const version *v);

/* ---- readers ----------------------------------------------------------------------- */

/* The current version; call inside a read-side section (or with gc_mu or
 * mu held), valid until it ends. Acquire: pairs with publish_locked's
 * release store, so the version's map is seen as it was built. */
static inline version *current_version(gomap_snap_t *m)
{
    return load_acquire(&m->current);
}

/* The version a view token names, after checking the token's generation
 * against its struct's: a mismatch is a view whose version has been
 * reclaimed since, reported as `gone_message` without touching the freed
 * map. Reading the struct is safe for any token of a map not yet freed:
 * structs are recycled, not freed. A view is const for its holder, but the
 * version's count is the library's to change. */
ALWAYS_INLINE version *view_version(const gomap_snap_view_t *view, const char *gone_message,
                                    const void *site)
{
    uintptr_t token = (uintptr_t)view;
    version *v = (version *)(token & ~VIEW_GEN_MASK);
    uint32_t gen = load_relaxed(&v->gen);
    if (__builtin_expect((gen & VIEW_GEN_MASK) != (token & VIEW_GEN_MASK), 0))
        gomap__snap_view_fault(v, 0, gone_message, site);
    return v;
}

#endif /* GOMAP_SNAPMAP_INTERNAL_H */
