/*
 * snapmap.c — the copy-on-write snapshot map (gomap/snapmap.h; the design,
 * the costs and the tests are in docs/snapmap.md).
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
#include <gomap/snapmap.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/map_probe.h"
#include "base/rcu.h"
#include "base/scope.h"

#define SNAP_LINE 64
#define CALLER __builtin_return_address(0)

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
    atomic_size_t retired_versions;         /* replaced, not yet freed */
    atomic_size_t retired_bytes;
    _Atomic uint64_t reclaimed_bytes;
    struct gomap_retired final;             /* gomap_snap_free's deferred end */
};

/* ---- memory ------------------------------------------------------------------------ */

/* The map's allocator (or malloc) for its own blocks: the map struct and
 * the version structs' blocks. Called from any thread, the reclaimer's
 * included. */
static void *snap_alloc(const gomap_options *o, size_t size)
{
    const gomap_allocator *a = o->alloc;
    return a ? a->alloc(size, a->ctx) : malloc(size);
}

static void snap_free_block(const gomap_options *o, void *p, size_t size)
{
    const gomap_allocator *a = o->alloc;
    if (a)
        a->free(p, size, a->ctx);
    else
        free(p);
}

/* A new version struct of m, aligned to VIEW_ALIGN within its block
 * (allocators promise less), generation 0; or NULL. */
static version *version_alloc(gomap_snap_t *m)
{
    void *block = snap_alloc(&m->opt, VERSION_BLOCK);
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
static version *version_reset(version *v)
{
    if (v) {
        v->map = NULL;
        v->bytes = 0;
        v->prev = v->next = NULL;
        atomic_store_explicit(&v->refs, REF_BASE, memory_order_relaxed);
    }
    return v;
}

/* A version holding its base reference and no map yet, in a struct from the
 * pool or a new one; NULL if none can be had. A pooled struct's new
 * generation comes with gc_mu from the thread that recycled it. */
static version *version_new(gomap_snap_t *m)
{
    pthread_mutex_lock(&m->gc_mu);
    version *v = m->pool;
    if (v)
        m->pool = v->next;
    pthread_mutex_unlock(&m->gc_mu);
    return version_reset(v ? v : version_alloc(m));
}

/* Ends a version: frees its map (thawed first: freeing is a write) and puts
 * its struct on the pool with the next generation, so that the version's
 * tokens no longer match it. No reader and no view may reach the version
 * any more; a stale token still finds the struct, and the new generation. */
static void version_destroy(gomap_snap_t *m, version *v)
{
    atomic_fetch_add_explicit(&v->gen, 1, memory_order_relaxed);
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
static void pool_free_all(gomap_snap_t *m)
{
    version *v = m->pool;
    while (v) {
        version *next = v->next;
        snap_free_block(&m->opt, v->block, VERSION_BLOCK);
        v = next;
    }
    m->pool = NULL;
}

static size_t version_bytes(const version *v)
{
    return VERSION_BLOCK + v->map->mem.bytes_held;
}

/* ---- the retired list (under gc_mu) ------------------------------------------------ */

static void list_link_locked(gomap_snap_t *m, version *v)
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

static size_t refs_of(const version *v)
{
    return atomic_load_explicit(&((version *)(uintptr_t)v)->refs, memory_order_relaxed);
}

/* Views held (ranges in progress included): the view bits of the current
 * version's count and the retired ones'. Exact at one instant, since
 * publication and unlinks happen under gc_mu (a version leaves the list
 * only with a count of zero). */
static size_t views_locked(const gomap_snap_t *m, const version *cur)
{
    size_t n = refs_of(cur) & REF_VIEWS;
    for (const version *v = m->retired_list; v; v = v->next)
        n += refs_of(v) & REF_VIEWS;
    return n;
}

/* ---- reclamation -------------------------------------------------------------------- */

/* A retired version's last reference is gone and it has left the list: its
 * map goes back to the allocator and its struct to the pool, then the
 * counters say so. The release decrement of retired_versions is the last
 * access to m: gomap_snap_free waits (acquire) until the count is zero
 * before it frees m (and the pool). */
static void version_reclaim(gomap_snap_t *m, version *v)
{
    size_t bytes = v->bytes;
    version_destroy(m, v);
    atomic_fetch_sub_explicit(&m->retired_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->reclaimed_bytes, bytes, memory_order_relaxed);
    atomic_fetch_sub_explicit(&m->retired_versions, 1, memory_order_release);
}

/* The report for a misused view of v; `refs` is v's count as the caller
 * found it. The version's map is described only while the base reference
 * keeps it alive. */
static _Noreturn __attribute__((noinline, cold)) void view_fault(const version *v, size_t refs,
                                                                 const char *message,
                                                                 const void *site)
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
static void version_put(version *v, const void *site)
{
    size_t old = atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel);
    if (__builtin_expect((old & REF_VIEWS) == 0, 0))
        view_fault(v, old, MSG_VIEW_TWICE_HELD, site);
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
 * same acq_rel as version_put. */
static void version_grace_over(struct gomap_retired *r)
{
    version *v = (version *)(void *)((char *)r - offsetof(version, retired));
    gomap_snap_t *m = v->owner;
    pthread_mutex_lock(&m->gc_mu);
    size_t left = atomic_fetch_sub_explicit(&v->refs, REF_BASE, memory_order_acq_rel) - REF_BASE;
    if (left == 0)
        list_unlink_locked(m, v);
    pthread_mutex_unlock(&m->gc_mu);
    if (left == 0)
        version_reclaim(m, v);
}

/* ---- readers ----------------------------------------------------------------------- */

/* The current version; call inside a read-side section (or with gc_mu or
 * mu held), valid until it ends. Acquire: pairs with publish_locked's
 * release store, so the version's map is seen as it was built. */
static inline version *current_version(gomap_snap_t *m)
{
    return atomic_load_explicit(&m->current, memory_order_acquire);
}

static bool key_ok(int kind, const void *key)
{
    return key && (kind != GOMAP_KEY_STR || !gomap__str_key_bad(key));
}

static void zero_fill(size_t val_size, void *val_out)
{
    if (val_out && val_size)
        memset(val_out, 0, val_size);
}

/* gomap_get_copy on a published map, specialised per key kind (map_probe.h)
 * and without the misuse check: a published map is never written. */
ALWAYS_INLINE bool lookup_kind(const gomap_t *map, int kind, const void *key, void *val_out)
{
    void *slot = probe_lookup(map, kind, key);
    if (!slot)
        zero_fill(map->val_size, val_out);
    else if (val_out)
        copy_slot_bytes(val_out, slot, map->val_size);
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
    if (!key_ok(m->key_kind, key)) {
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
    size_t n = current_version(m)->map->count;
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
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    /* The generation changes only when v is reclaimed, after a grace period
     * that waits for this section; a recycled struct's new one came with
     * the acquire load above. */
    uintptr_t gen = atomic_load_explicit(&v->gen, memory_order_relaxed) & VIEW_GEN_MASK;
    gomap__rcu_read_unlock();
    return (const gomap_snap_view_t *)((uintptr_t)v | gen);
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
    uint32_t gen = atomic_load_explicit(&v->gen, memory_order_relaxed);
    if (__builtin_expect((gen & VIEW_GEN_MASK) != (token & VIEW_GEN_MASK), 0))
        view_fault(v, 0, gone_message, site);
    return v;
}

void gomap_snap_release(const gomap_snap_view_t *view)
{
    if (view)
        version_put(view_version(view, MSG_VIEW_TWICE_GONE, CALLER), CALLER);
}

const gomap_t *gomap_snap_view_map(const gomap_snap_view_t *view)
{
    return view ? view_version(view, MSG_VIEW_USED_GONE, CALLER)->map : NULL;
}

bool gomap_snap_view_get(const gomap_snap_view_t *view, const void *key, void *val_out)
{
    if (!view)
        return false;
    const gomap_t *map = view_version(view, MSG_VIEW_USED_GONE, CALLER)->map;
    if (!key_ok(map->key_kind, key)) {
        zero_fill(map->val_size, val_out);
        return false;
    }
    bool found;
#define LOOKUP(K) lookup_kind(map, K, key, val_out)
    KIND_SWITCH(map->key_kind, found, LOOKUP)
#undef LOOKUP
    return found;
}

void gomap_snap_view_range(const gomap_snap_view_t *view,
                           bool (*fn)(const void *key, const void *val, void *ctx), void *ctx)
{
    if (!view || !fn)
        return;
    version *v = view_version(view, MSG_VIEW_USED_GONE, CALLER);
    /* A reference of the range's own, so that fn may even release the view
     * it was given. The count before it must hold the caller's view. */
    size_t refs = atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
    if (__builtin_expect((refs & REF_VIEWS) == 0, 0))
        view_fault(v, refs, MSG_VIEW_USED_UNHELD, CALLER);
    /* The core iterator takes a non-const map only to count itself in the
     * map's atomic live-iterator counter; it writes nothing else, so any
     * number of threads may iterate one published version at once. */
    gomap_iter it;
    const void *key;
    void *val;
    gomap_iter_init(&it, v->map);
    while (gomap_iter_next(&it, &key, &val)) {
        gomap__scope_enter(v->owner, "a view range", v, CALLER);
        bool more = fn(key, val, ctx);
        gomap__scope_leave();
        if (!more) {
            gomap_iter_done(&it);
            break;
        }
    }
    version_put(v, CALLER);
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
    version *cur = atomic_load_explicit(&m->current, memory_order_relaxed);
    gomap__fault_held(cur->map, MSG_SNAP_REENTRY, site, what, m->held_site);
}

/* Takes mu. holder is compared only with the calling thread's own record,
 * which only this thread stores, so relaxed accesses see the truth. */
static void writer_lock(gomap_snap_t *m, const void *site)
{
    struct gomap__thread *self = gomap__self();
    if (__builtin_expect(atomic_load_explicit(&m->holder, memory_order_relaxed) == self, 0))
        reentry_fault(m, site);
    pthread_mutex_lock(&m->mu);
    atomic_store_explicit(&m->holder, self, memory_order_relaxed);
    m->held_site = site;
}

static void writer_unlock(gomap_snap_t *m)
{
    atomic_store_explicit(&m->holder, NULL, memory_order_relaxed);
    pthread_mutex_unlock(&m->mu);
}

/* Under mu: the current version's map (only writers change it). */
static const gomap_t *current_map_locked(gomap_snap_t *m)
{
    return atomic_load_explicit(&m->current, memory_order_relaxed)->map;
}

/* gomap__for_each callback: one entry of the source into the private copy.
 * No write bracket around the insert: the copy is nobody else's yet, and
 * the debug build's validation after every bracketed write would make the
 * copy quadratic. Keys are distinct, so nothing is overwritten. */
static int copy_entry(const gomap_t *src, char *b, unsigned i, void *copy)
{
    const void *key = key_of_slot(src, key_slot_at(src, b, i));
    const void *val = val_of_slot(src, val_slot_at(src, b, i));
    int rc = gomap__upsert_hashed(copy, key, gomap__hash_key(copy, key), val, false, NULL);
    return rc < 0 ? -ENOMEM : 0;
}

/* A new map with the entries of src (none if src is NULL), presized for
 * `hint` entries so that the edit to come does not start a growth. 0 or
 * -ENOMEM (nothing allocated). Reads src only. */
static int copy_map(const gomap_snap_t *m, const gomap_t *src, size_t hint, gomap_t **out)
{
    gomap_options o = m->opt;
    o.hint = hint;
    int rc = gomap_new(out, &o);
    if (rc == 0 && src && (rc = gomap__for_each(src, copy_entry, *out)) != 0) {
        gomap_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Completes a growth the edit started, so that a published version never
 * carries one: lookups in a growing map may look in two arrays, and the old
 * array would live as long as the version. Each step evacuates at least one
 * old bucket. Best effort: if an evacuation runs out of memory the map is
 * still whole and correct, only slower, and is published as it is. */
static void finish_growth(gomap_t *map)
{
    while (map->oldbuckets && gomap__grow_work(map, map->nevacuate) == 0)
        ;
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
    version *old = atomic_load_explicit(&m->current, memory_order_relaxed);
    gomap__map_freeze(v->map, true);
    v->bytes = version_bytes(v);
    /* Counted before the callback that uncounts them can run. */
    atomic_fetch_add_explicit(&m->retired_versions, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->retired_bytes, old->bytes, memory_order_relaxed);
    pthread_mutex_lock(&m->gc_mu);
    /* Release: a reader that loads v sees v and its map as built above
     * (pairs with current_version's acquire). Under gc_mu, so that stats
     * see the new current version and the old one on the list together. */
    atomic_store_explicit(&m->current, v, memory_order_release);
    list_link_locked(m, old);
    m->versions++;
    pthread_mutex_unlock(&m->gc_mu);
    gomap__rcu_retire(&old->retired, version_grace_over);
}

/* Under mu: the next version. Its map is a copy of src presized for `hint`
 * entries (an empty map if src is NULL), then changed by edit(map, ctx) when
 * edit is not NULL. Published if everything succeeded; otherwise freed, and
 * the result is -ENOMEM or edit's nonzero value. */
static int commit_locked(gomap_snap_t *m, const gomap_t *src, size_t hint,
                         int (*edit)(gomap_t *copy, void *ctx), void *ctx)
{
    version *v = version_new(m);
    if (!v)
        return -ENOMEM;
    int rc = copy_map(m, src, hint, &v->map);
    if (rc == 0 && edit) {
        gomap__scope_enter(m, "the writers' mutex", NULL, m->held_site);
        rc = edit(v->map, ctx);
        gomap__scope_leave();
    }
    if (rc != 0) {
        version_destroy(m, v);
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
    switch (map->key_kind) {
    case GOMAP_KEY_U32: return sizeof(uint32_t);
    case GOMAP_KEY_U64:
    case GOMAP_KEY_F64: return sizeof(uint64_t);
    case GOMAP_KEY_STR: return 0;
    default: return map->key_size;
    }
}

/* True when setting key to val would leave map exactly as it is: the key is
 * present, stored with the same bytes, holding the same value. val is NULL
 * only in a set (val_size 0). */
static bool already_set(const gomap_t *map, const void *key, const void *val)
{
    if (map->count == 0 || !gomap__key_is_reflexive(map, key))
        return false;
    slot_ref r = gomap__find_hashed(map, key, gomap__hash_key(map, key));
    if (!r.b)
        return false;
    size_t kb = key_identity_bytes(map);
    const void *stored_key = key_of_slot(map, key_slot_at(map, r.b, r.i));
    const void *stored_val = val_of_slot(map, val_slot_at(map, r.b, r.i));
    return (kb == 0 || memcmp(stored_key, key, kb) == 0) &&
           (map->val_size == 0 || (val && memcmp(stored_val, val, map->val_size) == 0));
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
    if (!m || !key_ok(m->key_kind, key) || (!val && m->val_size))
        return -EINVAL;
    struct key_val kv = {key, val};
    int rc = 0;
    writer_lock(m, CALLER);
    const gomap_t *cur = current_map_locked(m);
    if (!already_set(cur, key, val))
        rc = commit_locked(m, cur, cur->count + 1, edit_set, &kv);
    writer_unlock(m);
    return rc;
}

int gomap_snap_delete(gomap_snap_t *m, const void *key)
{
    if (!m || !key_ok(m->key_kind, key))
        return -EINVAL;
    struct key_val kv = {key, NULL};
    int rc = 0;
    writer_lock(m, CALLER);
    const gomap_t *cur = current_map_locked(m);
    if (gomap_get(cur, key)) {
        rc = commit_locked(m, cur, cur->count - 1, edit_delete, &kv);
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
    writer_lock(m, CALLER);
    const gomap_t *cur = current_map_locked(m);
    int rc = commit_locked(m, cur, cur->count, fn, ctx);
    writer_unlock(m);
    return rc;
}

int gomap_snap_clear(gomap_snap_t *m)
{
    if (!m)
        return -EINVAL;
    int rc = 0;
    writer_lock(m, CALLER);
    if (current_map_locked(m)->count != 0)
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
    gomap_snap_t *m = snap_alloc(&o, sizeof *m);
    version *v = NULL;
    if (m) {
        memset(m, 0, sizeof *m);
        m->opt = o;
        v = version_reset(version_alloc(m)); /* the pool is empty; gc_mu is not ready */
    }
    if (!v) {
        gomap_free(map);
        if (m)
            snap_free_block(&o, m, sizeof *m);
        return -ENOMEM;
    }
    v->map = map;
    gomap__map_freeze(map, true);
    v->bytes = version_bytes(v);
    m->val_size = o.val_size;
    m->key_kind = (int)o.key_kind;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->gc_mu, NULL);
    atomic_init(&m->holder, NULL);
    atomic_init(&m->retired_versions, 0);
    atomic_init(&m->retired_bytes, 0);
    atomic_init(&m->reclaimed_bytes, 0);
    atomic_init(&m->current, v);
    *out = m;
    return 0;
}

/* Every version m retired has been freed, so m itself may go. */
static bool snap_drained(struct gomap_retired *r)
{
    gomap_snap_t *m = (gomap_snap_t *)(void *)((char *)r - offsetof(gomap_snap_t, final));
    return atomic_load_explicit(&m->retired_versions, memory_order_acquire) == 0;
}

static void snap_destroy(struct gomap_retired *r)
{
    gomap_snap_t *m = (gomap_snap_t *)(void *)((char *)r - offsetof(gomap_snap_t, final));
    version_destroy(m, atomic_load_explicit(&m->current, memory_order_relaxed));
    pool_free_all(m);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->gc_mu);
    gomap_options o = m->opt;
    snap_free_block(&o, m, sizeof *m);
}

void gomap_snap_free(gomap_snap_t *m)
{
    if (!m)
        return;
    version *cur = atomic_load_explicit(&m->current, memory_order_relaxed);
    const struct gomap__scope *s = gomap__scope_find(m);
    if (__builtin_expect(s != NULL, 0))
        gomap__scope_fault(s, cur->map, MSG_SNAP_FREE_INSIDE, CALLER);
    pthread_mutex_lock(&m->gc_mu);
    size_t views = views_locked(m, cur);
    pthread_mutex_unlock(&m->gc_mu);
    /* A view held now would be left dangling, or keep its retired version
     * (and this wait) alive for ever. */
    if (views != 0)
        gomap__fault(cur->map, MSG_SNAP_FREE_VIEWS, 0, CALLER);
    /* Inside a read-side section or a callback the wait for the retired
     * versions could never end (or deadlock): the reclaimer finishes. */
    if (gomap__must_not_wait()) {
        gomap__rcu_defer_until(&m->final, snap_drained, snap_destroy);
        return;
    }
    while (!snap_drained(&m->final))
        gomap__rcu_wait_a_little();
    snap_destroy(&m->final);
}

/* ---- stats and validate ---------------------------------------------------------------- */

int gomap_snap_stats(gomap_snap_t *m, gomap_snap_stats_t *out)
{
    if (!m || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    /* Under gc_mu the current version cannot be replaced (publication takes
     * gc_mu) and no retired one can be freed (it must leave the list). */
    pthread_mutex_lock(&m->gc_mu);
    const version *cur = current_version(m);
    out->len = gomap_len(cur->map);
    out->versions = m->versions;
    out->views = views_locked(m, cur);
    out->bytes_current = cur->bytes;
    pthread_mutex_unlock(&m->gc_mu);
    out->retired_versions = atomic_load_explicit(&m->retired_versions, memory_order_relaxed);
    out->retired_bytes = atomic_load_explicit(&m->retired_bytes, memory_order_relaxed);
    out->reclaimed_bytes = atomic_load_explicit(&m->reclaimed_bytes, memory_order_relaxed);
    return 0;
}

static int fail(char *why, size_t why_len, const char *reason)
{
    if (why && why_len)
        snprintf(why, why_len, "%s", reason);
    return -EFAULT;
}

/* V1: the version's map still holds the bytes it was published with, and
 * belongs to m. */
static const char *check_version(const gomap_snap_t *m, const version *v)
{
    if (v->owner != m)
        return "a version belongs to another snapshot map";
    if (!v->map->frozen)
        return "a published version's map is not frozen";
    if (v->bytes != version_bytes(v))
        return "a published version's map was written after publication";
    if (v->map->key_kind != m->key_kind || v->map->val_size != m->val_size)
        return "a version's map has other key or value options than the snapshot map";
    return NULL;
}

/* A count whose view bits are implausibly high: they wrapped below zero. */
static bool views_wrapped(const version *v)
{
    return (refs_of(v) & REF_VIEWS) > REF_VIEWS / 2;
}

/* V2, V3 and V1 for every retired version. Under gc_mu; cur is the version
 * the caller's view holds (its base reference if current, and a view). */
static const char *check_counts_locked(gomap_snap_t *m, const version *cur)
{
    const char *bad;
    if (current_version(m) == cur && !(refs_of(cur) & REF_BASE))
        return "the current version has lost its base reference";
    if ((refs_of(cur) & REF_VIEWS) == 0 || views_wrapped(cur))
        return "a version's view count is below the views held";
    size_t n = 0, bytes = 0;
    for (const version *v = m->retired_list; v; v = v->next) {
        if (v == current_version(m))
            return "the current version is on the retired list";
        if (v->next && v->next->prev != v)
            return "the retired list's links disagree";
        if (views_wrapped(v))
            return "a version's view count is below the views held";
        if ((bad = check_version(m, v)) != NULL)
            return bad;
        n++;
        bytes += v->bytes;
    }
    size_t retired = atomic_load_explicit(&m->retired_versions, memory_order_relaxed);
    if (n > retired || retired > m->versions)
        return "retired_versions disagrees with the retired list or the versions published";
    if (bytes > atomic_load_explicit(&m->retired_bytes, memory_order_relaxed))
        return "retired_bytes is below the bytes of the retired list";
    return NULL;
}

int gomap_snap_validate(gomap_snap_t *m, char *why, size_t why_len)
{
    if (!m)
        return -EINVAL;
    if (why && why_len)
        why[0] = '\0';
    const gomap_snap_view_t *view = gomap_snap_acquire(m);
    const version *v = view_version(view, MSG_VIEW_USED_GONE, CALLER);
    int rc = gomap_validate(v->map, why, why_len);
    if (rc == 0) {
        const char *bad = check_version(m, v);
        if (!bad) {
            pthread_mutex_lock(&m->gc_mu);
            bad = check_counts_locked(m, v);
            pthread_mutex_unlock(&m->gc_mu);
        }
        if (bad)
            rc = fail(why, why_len, bad);
    }
    gomap_snap_release(view);
    return rc;
}
