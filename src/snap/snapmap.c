/*
 * snapmap.c — the copy-on-write snapshot map: readers, views, writers and
 * life cycle (the rules are in snapmap_internal.h; docs/snapmap.md has the
 * design).
 */
#include "snap/snapmap_internal.h"

/* ---- readers ----------------------------------------------------------------------- */


static void zero_fill(size_t val_size, void *val_out)
{
    if (val_out && val_size)
        memset(val_out, 0, val_size);
}

/* gomap_get_copy on a published map, specialised per key kind (map_probe.h)
 * and without the misuse check: a published map is never written. */
ALWAYS_INLINE bool lookup_kind(const gomap_t *map, int kind, const void *key, void *val_out)
{
    void *slot = layer_lookup(map, kind, key);
    if (!slot)
        zero_fill(layer_val_size(map), val_out);
    else if (val_out)
        copy_slot_bytes(val_out, slot, layer_val_size(map));
    return slot != NULL;
}

ALWAYS_INLINE bool get_kind(gomap_snap_t *m, int kind, const void *key, void *val_out)
{
    gomap__rcu_read_lock();
    bool found = lookup_kind(current_version(m)->map, kind, key, val_out);
    gomap__rcu_read_unlock();
    return found;
}

bool gomap_snap_get(gomap_snap_t *m, const void *key, void *val_out)
{
    if (!m)
        return false;
    if (!gomap__key_ok(m->key_kind, key)) {
        zero_fill(m->val_size, val_out);
        return false;
    }
    bool found;
#define GET(K) get_kind(m, K, key, val_out)
    KIND_SWITCH(m->key_kind, found, GET)
#undef GET
    return found;
}

size_t gomap_snap_len(gomap_snap_t *m)
{
    if (!m)
        return 0;
    gomap__rcu_read_lock();
    size_t n = layer_len(current_version(m)->map);
    gomap__rcu_read_unlock();
    return n;
}

/* ---- views ------------------------------------------------------------------------- */

const gomap_snap_view_t *gomap_snap_acquire(gomap_snap_t *m)
{
    if (!m)
        return NULL;
    gomap__rcu_read_lock();
    version *v = current_version(m);
    /* The base reference is held until a grace period after this section,
     * so the count has its base bit here. Relaxed: the map's contents came
     * with the acquire load above. */
    fetch_add_relaxed(&v->refs, 1);
    /* The generation changes only when v is reclaimed, after a grace period
     * that waits for this section; a recycled struct's new one came with
     * the acquire load above. */
    uintptr_t gen = load_relaxed(&v->gen) & VIEW_GEN_MASK;
    gomap__rcu_read_unlock();
    return (const gomap_snap_view_t *)((uintptr_t)v | gen);
}


void gomap_snap_release(const gomap_snap_view_t *view)
{
    if (view)
        gomap__snap_version_put(view_version(view, MSG_VIEW_TWICE_GONE, GOMAP_CALLER), GOMAP_CALLER);
}

const gomap_t *gomap_snap_view_map(const gomap_snap_view_t *view)
{
    return view ? view_version(view, MSG_VIEW_USED_GONE, GOMAP_CALLER)->map : NULL;
}

bool gomap_snap_view_get(const gomap_snap_view_t *view, const void *key, void *val_out)
{
    if (!view)
        return false;
    const gomap_t *map = view_version(view, MSG_VIEW_USED_GONE, GOMAP_CALLER)->map;
    if (!gomap__key_ok(layer_key_kind(map), key)) {
        zero_fill(layer_val_size(map), val_out);
        return false;
    }
    bool found;
#define LOOKUP(K) lookup_kind(map, K, key, val_out)
    KIND_SWITCH(layer_key_kind(map), found, LOOKUP)
#undef LOOKUP
    return found;
}

void gomap_snap_view_range(const gomap_snap_view_t *view,
                           bool (*fn)(const void *key, const void *val, void *ctx), void *ctx)
{
    if (!view || !fn)
        return;
    version *v = view_version(view, MSG_VIEW_USED_GONE, GOMAP_CALLER);
    /* A reference of the range's own, so that fn may even release the view
     * it was given. The count before it must hold the caller's view. */
    size_t refs = fetch_add_relaxed(&v->refs, 1);
    if (__builtin_expect((refs & REF_VIEWS) == 0, 0))
        gomap__snap_view_fault(v, refs, MSG_VIEW_USED_UNHELD, GOMAP_CALLER);
    /* The core iterator takes a non-const map only to count itself in the
     * map's atomic live-iterator counter; it writes nothing else, so any
     * number of threads may iterate one published version at once. */
    gomap_iter it;
    const void *key;
    void *val;
    gomap_iter_init(&it, v->map);
    while (gomap_iter_next(&it, &key, &val)) {
        gomap__scope_enter(v->owner, "a view range", v, GOMAP_CALLER);
        bool more = fn(key, val, ctx);
        gomap__scope_leave();
        if (!more) {
            gomap_iter_done(&it);
            break;
        }
    }
    gomap__snap_version_put(v, GOMAP_CALLER);
}

/* ---- writers ------------------------------------------------------------------------ */

/* The report for a thread that calls a write while it holds mu (from an
 * update callback, or from the allocator), which would wait for itself. */
static _Noreturn __attribute__((noinline, cold)) void reentry_fault(gomap_snap_t *m,
                                                                    const void *site)
{
    char what[96];
    snprintf(what, sizeof what, "the writers' mutex of snapshot map %p, by this thread",
             (void *)m);
    version *cur = load_relaxed(&m->current);
    gomap__fault_held(cur->map, MSG_SNAP_REENTRY, site, what, m->held_site);
}

/* Takes mu. holder is compared only with the calling thread's own record,
 * which only this thread stores, so relaxed accesses see the truth. */
static void writer_lock(gomap_snap_t *m, const void *site)
{
    struct gomap__thread *self = gomap__self();
    if (__builtin_expect(load_relaxed(&m->holder) == self, 0))
        reentry_fault(m, site);
    pthread_mutex_lock(&m->mu);
    store_relaxed(&m->holder, self);
    m->held_site = site;
}

static void writer_unlock(gomap_snap_t *m)
{
    store_relaxed(&m->holder, NULL);
    pthread_mutex_unlock(&m->mu);
}

/* Under mu: the current version's map (only writers change it). */
static const gomap_t *current_map_locked(gomap_snap_t *m)
{
    return load_relaxed(&m->current)->map;
}

/* Completes a growth the edit started, so that a published version never
 * carries one: lookups in a growing map may look in two arrays, and the old
 * array would live as long as the version. Each step evacuates at least one
 * old bucket. Best effort: if an evacuation runs out of memory the map is
 * still whole and correct, only slower, and is published as it is. */
static void finish_growth(gomap_t *map)
{
    (void)gomap__grow_finish(map);
}

/* Under mu: makes v the current version and retires the one it replaces.
 * Cannot fail. */
static void publish_locked(gomap_snap_t *m, version *v)
{
#if GOMAP_DEBUG_LEVEL >= 2
    char why[256];
    if (gomap_validate(v->map, why, sizeof why) != 0)
        gomap__fatal(v->map, why);
#endif
    version *old = load_relaxed(&m->current);
    GOMAP_ASSERT(v != old && v->map != NULL);
    gomap__map_freeze(v->map, true);
    v->bytes = gomap__snap_version_bytes(v);
    /* Counted before the callback that uncounts them can run. */
    gomap__count_retired(&m->reclaim, 1, old->bytes);
    pthread_mutex_lock(&m->gc_mu);
    /* Release: a reader that loads v sees v and its map as built above
     * (pairs with current_version's acquire). Under gc_mu, so that stats
     * see the new current version and the old one on the list together. */
    store_release(&m->current, v);
    gomap__snap_list_link_locked(m, old);
    m->versions++;
    pthread_mutex_unlock(&m->gc_mu);
    gomap__rcu_retire(&old->retired, gomap__snap_version_grace_over);
}

/* Under mu: the next version. Its map is a copy of src presized for `hint`
 * entries (an empty map if src is NULL), then changed by edit(map, ctx) when
 * edit is not NULL. Published if everything succeeded; otherwise freed, and
 * the result is -ENOMEM or edit's nonzero value. */
static int commit_locked(gomap_snap_t *m, const gomap_t *src, size_t hint,
                         int (*edit)(gomap_t *copy, void *ctx), void *ctx)
{
    version *v = gomap__snap_version_new(m);
    if (!v)
        return -ENOMEM;
    uint64_t t0 = lat_now_ns();
    /* A block copy of src's arrays when they have room for `hint` entries,
     * so that the edit to come does not start a growth (layer.h). */
    int rc = gomap__copy_map(&v->map, src, &m->opt, hint);
    if (rc == 0 && src)
        gomap__lat_add(&m->copy_time, lat_now_ns() - t0);
    if (rc == 0 && edit) {
        gomap__scope_enter(m, "the writers' mutex", NULL, m->held_site);
        rc = edit(v->map, ctx);
        gomap__scope_leave();
    }
    if (rc != 0) {
        gomap__snap_version_destroy(m, v);
        return rc;
    }
    finish_growth(v->map);
    publish_locked(m, v);
    return 0;
}

/* Bytes that make a stored key what it is beyond equality: the bits of a
 * float (-0 replaces +0), the bytes of a custom key its equal() may ignore.
 * 0 for strings, whose equal contents are all there is. */
static size_t key_identity_bytes(const gomap_t *map)
{
    switch (layer_key_kind(map)) {
    case GOMAP_KEY_U32: return sizeof(uint32_t);
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64: return sizeof(uint64_t);
    case GOMAP_KEY_STR: return 0;
    default: return layer_key_size(map);
    }
}

/* True when setting key to val would leave map exactly as it is: the key is
 * present, stored with the same bytes, holding the same value. val is NULL
 * only in a set (val_size 0). */
static bool already_set(const gomap_t *map, const void *key, const void *val)
{
    if (layer_len(map) == 0 || !gomap__key_is_reflexive(map, key))
        return false;
    slot_ref r = gomap__find_hashed(map, key, gomap__hash_key(map, key));
    if (!r.b)
        return false;
    size_t kb = key_identity_bytes(map);
    const void *stored_key = layer_key(map, layer_key_kind(map), r);
    const void *stored_val = layer_value(map, r);
    size_t vb = layer_val_size(map);
    return (kb == 0 || memcmp(stored_key, key, kb) == 0) &&
           (vb == 0 || (val && memcmp(stored_val, val, vb) == 0));
}

struct key_val {
    const void *key;
    const void *val;
};

static int edit_set(gomap_t *copy, void *ctx)
{
    const struct key_val *kv = ctx;
    return gomap_set(copy, kv->key, kv->val);
}

static int edit_delete(gomap_t *copy, void *ctx)
{
    const struct key_val *kv = ctx;
    gomap_delete(copy, kv->key);
    return 0;
}

int gomap_snap_set(gomap_snap_t *m, const void *key, const void *val)
{
    if (!m || !gomap__key_ok(m->key_kind, key) || (!val && m->val_size))
        return -EINVAL;
    struct key_val kv = {key, val};
    int rc = 0;
    writer_lock(m, GOMAP_CALLER);
    const gomap_t *cur = current_map_locked(m);
    if (!already_set(cur, key, val))
        rc = commit_locked(m, cur, layer_len(cur) + 1, edit_set, &kv);
    writer_unlock(m);
    return rc;
}

int gomap_snap_delete(gomap_snap_t *m, const void *key)
{
    if (!m || !gomap__key_ok(m->key_kind, key))
        return -EINVAL;
    struct key_val kv = {key, NULL};
    int rc = 0;
    writer_lock(m, GOMAP_CALLER);
    const gomap_t *cur = current_map_locked(m);
    if (gomap_get(cur, key)) {
        rc = commit_locked(m, cur, layer_len(cur) - 1, edit_delete, &kv);
        if (rc == 0)
            rc = 1;
    }
    writer_unlock(m);
    return rc;
}

int gomap_snap_update(gomap_snap_t *m, int (*fn)(gomap_t *copy, void *ctx), void *ctx)
{
    if (!m || !fn)
        return -EINVAL;
    writer_lock(m, GOMAP_CALLER);
    const gomap_t *cur = current_map_locked(m);
    int rc = commit_locked(m, cur, layer_len(cur), fn, ctx);
    writer_unlock(m);
    return rc;
}

int gomap_snap_clear(gomap_snap_t *m)
{
    if (!m)
        return -EINVAL;
    int rc = 0;
    writer_lock(m, GOMAP_CALLER);
    if (layer_len(current_map_locked(m)) != 0)
        rc = commit_locked(m, NULL, 0, NULL, NULL);
    writer_unlock(m);
    return rc;
}

/* ---- life cycle ---------------------------------------------------------------------- */

int gomap_snap_new(gomap_snap_t **out, const gomap_options *opt)
{
    if (out)
        *out = NULL;
    if (!out || !opt || opt->mem_limit != 0)
        return -EINVAL;
    /* Versions are presized from their contents; the hint has no use. */
    gomap_options o = *opt;
    o.hint = 0;
    gomap_t *map;
    int rc = gomap_new(&map, &o); /* judges the options */
    if (rc)
        return rc;
    gomap_snap_t *m = gomap__alloc(o.alloc, sizeof *m);
    version *v = NULL;
    if (m) {
        memset(m, 0, sizeof *m);
        m->opt = o;
        v = gomap__snap_version_reset(gomap__snap_version_alloc(m)); /* the pool is empty; gc_mu is not ready */
    }
    if (!v) {
        gomap_free(map);
        if (m)
            gomap__free(o.alloc, m, sizeof *m);
        return -ENOMEM;
    }
    v->map = map;
    gomap__map_freeze(map, true);
    v->bytes = gomap__snap_version_bytes(v);
    m->val_size = o.val_size;
    m->key_kind = (int)o.key_kind;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->gc_mu, NULL);
    atomic_init(&m->holder, NULL);
    gomap__reclaim_count_init(&m->reclaim);
    atomic_init(&m->current, v);
    *out = m;
    return 0;
}

/* Every version m retired has been freed, so m itself may go. */
static bool snap_drained(struct gomap_retired *r)
{
    gomap_snap_t *m = GOMAP_CONTAINER_OF(r, gomap_snap_t, final);
    return gomap__count_drained(&m->reclaim);
}

static void snap_destroy(struct gomap_retired *r)
{
    gomap_snap_t *m = GOMAP_CONTAINER_OF(r, gomap_snap_t, final);
    gomap__snap_version_destroy(m, load_relaxed(&m->current));
    gomap__snap_pool_free_all(m);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->gc_mu);
    gomap_options o = m->opt;
    gomap__free(o.alloc, m, sizeof *m);
}

void gomap_snap_free(gomap_snap_t *m)
{
    if (!m)
        return;
    version *cur = load_relaxed(&m->current);
    const struct gomap__scope *s = gomap__scope_find(m);
    if (__builtin_expect(s != NULL, 0))
        gomap__scope_fault(s, cur->map, MSG_SNAP_FREE_INSIDE, GOMAP_CALLER);
    pthread_mutex_lock(&m->gc_mu);
    size_t views = gomap__snap_views_locked(m, cur);
    pthread_mutex_unlock(&m->gc_mu);
    /* A view held now would be left dangling, or keep its retired version
     * (and this wait) alive for ever. */
    if (views != 0)
        gomap__fault(cur->map, MSG_SNAP_FREE_VIEWS, 0, GOMAP_CALLER);
    /* After a barrier every retired version's callback has run (the loop
     * only re-checks; snap_drained's acquire makes their writes ours).
     * Inside a read-side section or a callback that wait could never end
     * (or deadlock): the reclaimer finishes. */
    if (gomap__must_not_wait()) {
        gomap__rcu_defer_until(&m->final, snap_drained, snap_destroy);
        return;
    }
    while (!snap_drained(&m->final))
        gomap__rcu_barrier();
    snap_destroy(&m->final);
}
