/*
 * snapmap_mem.c — the snapshot map's memory: version structs and their pool,
 * the retired list, and reclamation after a grace period (the rules are in
 * snapmap_internal.h).
 */
#include "snap/snapmap_internal.h"

/* ---- memory ------------------------------------------------------------------------ */

/* A new version struct of m, aligned to VIEW_ALIGN within its block
 * (allocators promise less), generation 0; or NULL. */
version *gomap__snap_version_alloc(gomap_snap_t *m)
{
    void *block = gomap__alloc(m->opt.alloc, VERSION_BLOCK);
    if (!block)
        return NULL;
    version *v = (version *)(((uintptr_t)block + VIEW_GEN_MASK) & ~VIEW_GEN_MASK);
    memset(v, 0, sizeof *v);
    v->owner = m;
    v->block = block;
    atomic_init(&v->gen, 0);
    atomic_init(&v->refs, 0);
    return v;
}

/* v (if not NULL) as a version holding its base reference and no map yet. */
version *gomap__snap_version_reset(version *v)
{
    if (v) {
        GOMAP_ASSERT(v->map == NULL); /* new, or destroyed (its map freed) */
        v->map = NULL;
        v->bytes = 0;
        v->prev = v->next = NULL;
        store_relaxed(&v->refs, REF_BASE);
    }
    return v;
}

/* A version holding its base reference and no map yet, in a struct from the
 * pool or a new one; NULL if none can be had. A pooled struct's new
 * generation comes with gc_mu from the thread that recycled it. */
version *gomap__snap_version_new(gomap_snap_t *m)
{
    pthread_mutex_lock(&m->gc_mu);
    version *v = m->pool;
    if (v)
        m->pool = v->next;
    pthread_mutex_unlock(&m->gc_mu);
    return gomap__snap_version_reset(v ? v : gomap__snap_version_alloc(m));
}

/* Ends a version: frees its map (thawed first: freeing is a write) and puts
 * its struct on the pool with the next generation, so that the version's
 * tokens no longer match it. No reader and no view may reach the version
 * any more; a stale token still finds the struct, and the new generation. */
void gomap__snap_version_destroy(gomap_snap_t *m, version *v)
{
    fetch_add_relaxed(&v->gen, 1);
    if (v->map) {
        gomap__map_freeze(v->map, false);
        gomap_free(v->map);
        v->map = NULL;
    }
    pthread_mutex_lock(&m->gc_mu);
    v->next = m->pool;
    m->pool = v;
    pthread_mutex_unlock(&m->gc_mu);
}

/* gomap_snap_free, once every version is destroyed: the pooled structs go
 * back to the allocator. */
void gomap__snap_pool_free_all(gomap_snap_t *m)
{
    version *v = m->pool;
    while (v) {
        version *next = v->next;
        gomap__free(m->opt.alloc, v->block, VERSION_BLOCK);
        v = next;
    }
    m->pool = NULL;
}

size_t gomap__snap_version_bytes(const version *v)
{
    return VERSION_BLOCK + layer_bytes_held(v->map);
}

/* ---- the retired list (under gc_mu) ------------------------------------------------ */

void gomap__snap_list_link_locked(gomap_snap_t *m, version *v)
{
    v->prev = NULL;
    v->next = m->retired_list;
    if (v->next)
        v->next->prev = v;
    m->retired_list = v;
}

static void list_unlink_locked(gomap_snap_t *m, version *v)
{
    if (v->prev)
        v->prev->next = v->next;
    else
        m->retired_list = v->next;
    if (v->next)
        v->next->prev = v->prev;
}

size_t gomap__snap_refs_of(const version *v)
{
    return load_relaxed(&((version *)(uintptr_t)v)->refs);
}

/* Views held (ranges in progress included): the view bits of the current
 * version's count and the retired ones'. Exact at one instant, since
 * publication and unlinks happen under gc_mu (a version leaves the list
 * only with a count of zero). */
size_t gomap__snap_views_locked(const gomap_snap_t *m, const version *cur)
{
    size_t n = gomap__snap_refs_of(cur) & REF_VIEWS;
    for (const version *v = m->retired_list; v; v = v->next)
        n += gomap__snap_refs_of(v) & REF_VIEWS;
    return n;
}

/* ---- reclamation -------------------------------------------------------------------- */

/* A retired version's last reference is gone and it has left the list: its
 * map goes back to the allocator and its struct to the pool, then the
 * counters say so. Counting it out is the last access to m: gomap_snap_free
 * waits until the count is drained (reclaim_count.h) before it frees m (and
 * the pool). */
static void version_reclaim(gomap_snap_t *m, version *v)
{
    size_t bytes = v->bytes;
    gomap__snap_version_destroy(m, v);
    gomap__count_reclaimed(&m->reclaim, 1, bytes);
}

/* The report for a misused view of v; `refs` is v's count as the caller
 * found it. The version's map is described only while the base reference
 * keeps it alive. */
_Noreturn __attribute__((noinline, cold)) void
gomap__snap_view_fault(const version *v, size_t refs, const char *message, const void *site)
{
    gomap__fault((refs & REF_BASE) ? v->map : NULL, message, 0, site);
}

/* Drops a view's or a range's reference; `site` is the public call, named
 * in a report. A view's reference may be dropped on the current version
 * too: the base one keeps the count above zero there. acq_rel: the thread
 * that reaches zero sees every use of the version that other threads made
 * before dropping theirs. View bits already zero mean there was no view to
 * drop: reported at once. The count is wrong from then on, but never
 * reaches zero (its view bits wrapped), so nothing is freed before the
 * abort. */
void gomap__snap_version_put(version *v, const void *site)
{
    size_t old = fetch_sub_acq_rel(&v->refs, 1);
    if (__builtin_expect((old & REF_VIEWS) == 0, 0))
        gomap__snap_view_fault(v, old, MSG_VIEW_TWICE_HELD, site);
    if (old == 1) {
        gomap_snap_t *m = v->owner;
        pthread_mutex_lock(&m->gc_mu);
        list_unlink_locked(m, v);
        pthread_mutex_unlock(&m->gc_mu);
        version_reclaim(m, v);
    }
}

/* The RCU callback: every read-side section that could have loaded the
 * version from `current` has ended, so its base reference goes (under
 * gc_mu, so that stats see the count and the list change together). The
 * same acq_rel as gomap__snap_version_put. */
void gomap__snap_version_grace_over(struct gomap_retired *r)
{
    version *v = GOMAP_CONTAINER_OF(r, version, retired);
    gomap_snap_t *m = v->owner;
    pthread_mutex_lock(&m->gc_mu);
    size_t left = fetch_sub_acq_rel(&v->refs, REF_BASE) - REF_BASE;
    GOMAP_ASSERT(!(left & REF_BASE)); /* the base reference was held */
    if (left == 0)
        list_unlink_locked(m, v);
    pthread_mutex_unlock(&m->gc_mu);
    if (left == 0)
        version_reclaim(m, v);
}
