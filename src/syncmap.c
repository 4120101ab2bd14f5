/*
 * syncmap.c — Go's sync.Map algorithm over the core map, with RCU
 * reclamation (docs/syncmap.md has the design and the proofs sketched).
 *
 * Shape
 *   read    an atomically published pointer to a table (a core map from key
 *           to struct entry *) plus an "amended" bit: the dirty map holds
 *           keys this table lacks. Never written once published; lock-free
 *           readers look keys up in it.
 *   dirty   a table under `mu` holding every entry of `read` that is not
 *           expunged, plus the new keys; NULL right after a promotion.
 *   entry   one per key, shared by both tables: p is the current value box,
 *           NULL (deleted) or EXPUNGED (deleted and absent from dirty).
 *           Lock-free operations change p by compare-and-swap; only a
 *           thread holding mu turns EXPUNGED back into NULL.
 *
 * Invariants (under mu; gomap_sync_validate checks them)
 *   I1  dirty == NULL  =>  no entry of read is EXPUNGED.
 *   I2  dirty != NULL  =>  every entry of read that is not EXPUNGED is in
 *       dirty under the same key, and no EXPUNGED entry is in dirty.
 *   I3  amended  =>  dirty != NULL.
 *   I4  an entry reachable from the current read table or from dirty is
 *       never freed; an entry leaves both only while EXPUNGED, and then for
 *       good (EXPUNGED is final for every lock-free path), so it is retired.
 *
 * Reclamation. Every public operation runs inside one RCU read-side section
 * (rcu.h), so any table, entry or box it found stays allocated until it
 * returns, even across the mutex. Whoever unlinks memory retires it: the
 * thread whose CAS took a box out of an entry retires that box; promotion
 * retires the old read table and the entries only it held; clear retires
 * everything. Boxes are immutable once published (release CAS; readers load
 * p with acquire), which is what makes a store visible to later loads.
 *
 * Length. Each transition of an entry between "has a value" and "has none"
 * adds +1 or -1 to one of a few striped counters right after the CAS that
 * made it, so gomap_sync_len is exact whenever no write is in flight.
 */
#include <gomap/syncmap.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "map_probe.h"
#include "rand.h"
#include "rcu.h"

/* ---- markers and memory blocks ------------------------------------------------ */

static const char expunged_marker;
static const char present_marker;

/* entry.p == EXPUNGED: deleted, and not in the dirty map. */
#define EXPUNGED ((struct box *)(uintptr_t)&expunged_marker)
/* The value of every key of a set (val_size 0): no box is allocated. */
#define PRESENT ((struct box *)(uintptr_t)&present_marker)

/* A value, copied in once and never modified after it is published. */
struct box {
    struct gomap_retired retired;
    gomap_sync_t *owner;
    size_t bytes;
    /* the value (val_size bytes) follows, aligned to 16 */
};

struct entry {
    struct gomap_retired retired;
    gomap_sync_t *owner;
    _Atomic(struct box *) p;
};

/* A core map from key to struct entry *, as a unit that can be retired. */
struct table {
    struct gomap_retired retired;
    gomap_sync_t *owner;
    size_t bytes;       /* what retiring it will give back */
    gomap_t *map;
};

#define AMENDED ((uintptr_t)1)
#define LEN_STRIPES 8
#define CACHE_LINE 64

struct len_stripe {
    atomic_long n;
    char pad[CACHE_LINE - sizeof(atomic_long)];
};

struct gomap_sync {
    /* Read by every load: alone on its cache line. */
    /* Read by every load, written only by promotion and clear: on a cache
     * line of its own with the fields loads need, which never change. */
    _Atomic uintptr_t read;       /* struct table * (or NULL: empty) | AMENDED */
    gomap_t *hasher;              /* an empty map with every table's seed:
                                     hashes keys */
    size_t val_size;
    char pad0[CACHE_LINE - 3 * sizeof(void *)];

    struct len_stripe len[LEN_STRIPES];

    pthread_mutex_t mu;
    struct table *dirty;          /* under mu */
    size_t misses;                /* under mu */
    uint64_t promotions;          /* under mu */
    uint64_t dirty_copies;        /* under mu */

    _Atomic size_t retired_bytes;
    _Atomic size_t retired_objects;
    _Atomic uint64_t reclaimed_bytes;

    gomap_options inner;          /* options of every table (val: entry *) */
    size_t hint;                  /* for the first dirty map */
    uint64_t seed;                /* every table hashes with it */
};

static inline bool has_value(const struct box *p)
{
    return p != NULL && p != EXPUNGED;
}

/* The value bytes of a real box (never PRESENT: callers with val_size 0
 * never look at values). */
static inline void *box_val(struct box *p)
{
    return (char *)p + sizeof(struct box);
}

static inline void copy_val(const gomap_sync_t *m, void *out, struct box *p)
{
    if (out && m->val_size)
        copy_slot_bytes(out, box_val(p), m->val_size);
}

static inline bool same_val(const gomap_sync_t *m, struct box *p, const void *val)
{
    return m->val_size == 0 || memcmp(box_val(p), val, m->val_size) == 0;
}

/* ---- allocation and retirement ----------------------------------------------- */

/* The caller's allocator, called from any thread (see the header). */
static void *alloc_with(const gomap_allocator *a, size_t size)
{
    return a ? a->alloc(size, a->ctx) : malloc(size);
}

static void *raw_alloc(gomap_sync_t *m, size_t size)
{
    return alloc_with(m->inner.alloc, size);
}

static void raw_free(gomap_sync_t *m, void *p, size_t size)
{
    const gomap_allocator *a = m->inner.alloc;
    if (a)
        a->free(p, size, a->ctx);
    else
        free(p);
}

static void account_retired(gomap_sync_t *m, size_t bytes)
{
    atomic_fetch_add_explicit(&m->retired_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->retired_objects, 1, memory_order_relaxed);
}

/* The last thing a deferred free does with m: gomap_sync_free waits for
 * retired_objects to reach zero (acquire, pairing with this release) and
 * then frees m. */
static void account_reclaimed(gomap_sync_t *m, size_t bytes)
{
    atomic_fetch_sub_explicit(&m->retired_bytes, bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->reclaimed_bytes, bytes, memory_order_relaxed);
    atomic_fetch_sub_explicit(&m->retired_objects, 1, memory_order_release);
}

/* A box holding a copy of val, or PRESENT for a set, or NULL. */
static struct box *box_new(gomap_sync_t *m, const void *val)
{
    if (m->val_size == 0)
        return PRESENT;
    size_t bytes = sizeof(struct box) + m->val_size;
    struct box *b = raw_alloc(m, bytes);
    if (!b)
        return NULL;
    b->owner = m;
    b->bytes = bytes;
    memcpy(box_val(b), val, m->val_size);
    return b;
}

/* Frees a box no other thread has seen. */
static void box_discard(gomap_sync_t *m, struct box *b)
{
    if (b != PRESENT)
        raw_free(m, b, b->bytes);
}

static void box_free_deferred(struct gomap_retired *r)
{
    struct box *b = (struct box *)r;
    gomap_sync_t *m = b->owner;
    size_t bytes = b->bytes;
    raw_free(m, b, bytes);
    account_reclaimed(m, bytes);
}

/* A box that was just taken out of an entry by this thread's CAS. */
static void box_retire(gomap_sync_t *m, struct box *b)
{
    if (b == PRESENT)
        return;
    account_retired(m, b->bytes);
    gomap__rcu_retire(&b->retired, box_free_deferred);
}

static struct entry *entry_new(gomap_sync_t *m, struct box *val)
{
    struct entry *e = raw_alloc(m, sizeof *e);
    if (!e)
        return NULL;
    e->owner = m;
    atomic_init(&e->p, val);
    return e;
}

static void entry_free_deferred(struct gomap_retired *r)
{
    struct entry *e = (struct entry *)r;
    gomap_sync_t *m = e->owner;
    raw_free(m, e, sizeof *e);
    account_reclaimed(m, sizeof *e);
}

/* An entry that has left both tables for good (p is EXPUNGED). */
static void entry_retire(gomap_sync_t *m, struct entry *e)
{
    account_retired(m, sizeof *e);
    gomap__rcu_retire(&e->retired, entry_free_deferred);
}

static struct table *table_new(gomap_sync_t *m, size_t hint)
{
    struct table *t = raw_alloc(m, sizeof *t);
    if (!t)
        return NULL;
    gomap_options o = m->inner;
    o.hint = hint;
    if (gomap__new_seeded(&t->map, &o, m->seed) != 0) {
        raw_free(m, t, sizeof *t);
        return NULL;
    }
    t->owner = m;
    t->bytes = 0;
    return t;
}

/* Frees a table (not its entries) no reader can reach. */
static void table_free_now(gomap_sync_t *m, struct table *t)
{
    gomap_free(t->map);
    raw_free(m, t, sizeof *t);
}

static void table_free_deferred(struct gomap_retired *r)
{
    struct table *t = (struct table *)r;
    gomap_sync_t *m = t->owner;
    size_t bytes = t->bytes;
    table_free_now(m, t);
    account_reclaimed(m, bytes);
}

static void table_retire(gomap_sync_t *m, struct table *t)
{
    t->bytes = sizeof *t + t->map->mem.bytes_held;
    account_retired(m, t->bytes);
    gomap__rcu_retire(&t->retired, table_free_deferred);
}

/* ---- tables ---------------------------------------------------------------------- */

static inline struct entry *entry_at(const gomap_t *map, char *b, unsigned i)
{
    struct entry *e;
    memcpy(&e, val_slot_at(map, b, i), sizeof e);
    return e;
}

static inline const void *key_at(const gomap_t *map, char *b, unsigned i)
{
    return key_of_slot(map, key_slot_at(map, b, i));
}

/* The entry of key in table t (NULL: none, or no table). The search is
 * map_probe.h's, specialised per key kind: this is the lock-free load's
 * whole cost besides hashing. */
ALWAYS_INLINE struct entry *table_find_kind(const struct table *t, int kind, const void *key,
                                            uint64_t h)
{
    if (!t || t->map->count == 0)
        return NULL;
    slot_ref s = find(t->map, kind, key, h);
    return s.b ? entry_at(t->map, s.b, s.i) : NULL;
}

static inline struct entry *table_find(const struct table *t, const void *key, uint64_t h)
{
    struct entry *e;
#define FIND(K) table_find_kind(t, K, key, h)
    KIND_SWITCH(t ? t->map->key_kind : GOMAP_KEY_U64, e, FIND)
#undef FIND
    return e;
}

static inline int table_put(struct table *t, const void *key, uint64_t h, struct entry *e)
{
    int rc = gomap__upsert_hashed(t->map, key, h, &e, true, NULL);
    return rc < 0 ? rc : 0;
}

/* The published read part. The acquire pairs with publish()'s release: a
 * reader sees the table's contents as they were when it was published. */
static inline uintptr_t read_word(gomap_sync_t *m)
{
    return atomic_load_explicit(&m->read, memory_order_acquire);
}

static inline struct table *read_table(uintptr_t w)
{
    return (struct table *)(w & ~AMENDED);
}

static inline bool read_amended(uintptr_t w)
{
    return (w & AMENDED) != 0;
}

static void publish(gomap_sync_t *m, struct table *t, bool amended)
{
    atomic_store_explicit(&m->read, (uintptr_t)t | (amended ? AMENDED : 0),
                          memory_order_release);
}

static inline uint64_t key_hash(const gomap_sync_t *m, const void *key)
{
    uint64_t h;
#define HASH(K) hash_of(m->hasher, K, key)
    KIND_SWITCH(m->hasher->key_kind, h, HASH)
#undef HASH
    return h;
}

/* ---- length --------------------------------------------------------------------- */

static _Thread_local unsigned my_stripe = LEN_STRIPES;

static void len_add(gomap_sync_t *m, long delta)
{
    if (my_stripe == LEN_STRIPES) {
        static atomic_uint next;
        my_stripe = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed) % LEN_STRIPES;
    }
    atomic_fetch_add_explicit(&m->len[my_stripe].n, delta, memory_order_relaxed);
}

/* ---- entry transitions (lock-free unless named _locked) ---------------------------- */

/* Replaces a value that is not EXPUNGED with nv; returns the old one (NULL:
 * there was none), or EXPUNGED without storing. */
static struct box *entry_try_swap(struct entry *e, struct box *nv)
{
    struct box *p = atomic_load_explicit(&e->p, memory_order_acquire);
    while (p != EXPUNGED) {
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, nv, memory_order_acq_rel,
                                                  memory_order_acquire))
            return p;
    }
    return EXPUNGED;
}

/* Under mu: an EXPUNGED entry of read goes back into dirty (first, so that
 * nothing changes if that fails) and becomes NULL. */
static int entry_revive_locked(gomap_sync_t *m, struct entry *e, const void *key, uint64_t h)
{
    if (atomic_load_explicit(&e->p, memory_order_relaxed) != EXPUNGED)
        return 0;
    int rc = table_put(m->dirty, key, h, e);
    if (rc == 0)
        atomic_store_explicit(&e->p, NULL, memory_order_release);
    return rc;
}

/* Under mu, building dirty: a deleted entry becomes EXPUNGED. True if the
 * entry is (now) EXPUNGED. */
static bool entry_try_expunge_locked(struct entry *e)
{
    struct box *p = atomic_load_explicit(&e->p, memory_order_relaxed);
    while (p == NULL) {
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, EXPUNGED, memory_order_relaxed,
                                                  memory_order_relaxed))
            return true;
    }
    return p == EXPUNGED;
}

/* Deletes the value if it is there and (old != NULL) equals old. Returns the
 * box taken out (the caller may still read it, then retires it) or NULL. */
static struct box *entry_delete(gomap_sync_t *m, struct entry *e, const void *old)
{
    struct box *p = atomic_load_explicit(&e->p, memory_order_acquire);
    while (has_value(p)) {
        if (old && !same_val(m, p, old))
            return NULL;
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, NULL, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            len_add(m, -1);
            return p;
        }
    }
    return NULL;
}

/* Go's tryLoadOrStore. Returns 1 loaded (value in *actual), 0 stored, -ENOMEM,
 * or 2 when the entry is EXPUNGED (nothing done). */
static int entry_try_load_or_store(gomap_sync_t *m, struct entry *e, const void *val,
                                   void *actual_out)
{
    struct box *p = atomic_load_explicit(&e->p, memory_order_acquire);
    struct box *nv = NULL;
    for (;;) {
        if (p == EXPUNGED || has_value(p)) {
            if (nv)
                box_discard(m, nv);
            if (p == EXPUNGED)
                return 2;
            copy_val(m, actual_out, p);
            return 1;
        }
        if (!nv && !(nv = box_new(m, val)))
            return -ENOMEM;
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, nv, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            len_add(m, +1);
            if (actual_out && m->val_size)
                memcpy(actual_out, val, m->val_size);
            return 0;
        }
    }
}

/* Go's tryCompareAndSwap: 1 swapped, 0 not, -ENOMEM. */
static int entry_try_cas(gomap_sync_t *m, struct entry *e, const void *old, const void *nv_val)
{
    struct box *p = atomic_load_explicit(&e->p, memory_order_acquire);
    struct box *nv = NULL;
    for (;;) {
        if (!has_value(p) || !same_val(m, p, old)) {
            if (nv)
                box_discard(m, nv);
            return 0;
        }
        if (!nv && !(nv = box_new(m, nv_val)))
            return -ENOMEM;
        if (atomic_compare_exchange_weak_explicit(&e->p, &p, nv, memory_order_acq_rel,
                                                  memory_order_acquire)) {
            box_retire(m, p);
            return 1;
        }
    }
}

/* ---- promotion and the dirty copy (under mu) ---------------------------------------- */

static int retire_if_expunged(const gomap_t *map, char *b, unsigned i, void *ctx)
{
    struct entry *e = entry_at(map, b, i);
    if (atomic_load_explicit(&e->p, memory_order_relaxed) == EXPUNGED)
        entry_retire(ctx, e);
    return 0;
}

/* dirty becomes the read part; the old read table and the entries only it
 * held (EXPUNGED ones, I2) are retired. */
static void promote_locked(gomap_sync_t *m)
{
    struct table *old = read_table(read_word(m));
    publish(m, m->dirty, false);
    m->dirty = NULL;
    m->misses = 0;
    m->promotions++;
    if (old) {
        gomap__for_each(old->map, retire_if_expunged, m);
        table_retire(m, old);
    }
}

/* Go's missLocked: a lookup had to take the lock; after as many of those as
 * dirty has keys, dirty is promoted. */
static void miss_locked(gomap_sync_t *m)
{
    if (++m->misses < gomap_len(m->dirty->map))
        return;
    promote_locked(m);
}

struct copy_ctx {
    gomap_sync_t *m;
    struct table *dirty;
};

static int copy_unexpunged(const gomap_t *map, char *b, unsigned i, void *ctx)
{
    struct copy_ctx *c = ctx;
    struct entry *e = entry_at(map, b, i);
    if (entry_try_expunge_locked(e))
        return 0;
    const void *key = key_at(map, b, i);
    return table_put(c->dirty, key, key_hash(c->m, key), e);
}

static int unexpunge(const gomap_t *map, char *b, unsigned i, void *ctx)
{
    (void)ctx;
    struct entry *e = entry_at(map, b, i);
    struct box *want = EXPUNGED;
    atomic_compare_exchange_strong_explicit(&e->p, &want, NULL, memory_order_relaxed,
                                            memory_order_relaxed);
    return 0;
}

/* Go's dirtyLocked: makes sure dirty exists, copying the read part's live
 * entries and expunging its deleted ones. On -ENOMEM nothing has changed
 * (I1 lets every EXPUNGED entry be turned back). */
static int dirty_locked(gomap_sync_t *m)
{
    if (m->dirty)
        return 0;
    struct table *r = read_table(read_word(m));
    struct table *d = table_new(m, r ? gomap_len(r->map) : m->hint);
    if (!d)
        return -ENOMEM;
    if (r) {
        struct copy_ctx c = {m, d};
        if (gomap__for_each(r->map, copy_unexpunged, &c) != 0) {
            gomap__for_each(r->map, unexpunge, NULL);
            table_free_now(m, d);
            return -ENOMEM;
        }
    }
    m->dirty = d;
    m->dirty_copies++;
    return 0;
}

/* A key in neither table: a new entry in dirty holding nv (which the caller
 * allocated). The read part is marked amended last, so a failure leaves it
 * as it was. */
static int add_new_key_locked(gomap_sync_t *m, const void *key, uint64_t h, struct box *nv)
{
    int rc = dirty_locked(m);
    if (rc)
        return rc;
    struct entry *e = entry_new(m, nv);
    if (!e)
        return -ENOMEM;
    if ((rc = table_put(m->dirty, key, h, e)) != 0) {
        raw_free(m, e, sizeof *e);
        return rc;
    }
    len_add(m, +1);
    uintptr_t w = read_word(m);
    if (!read_amended(w))
        publish(m, read_table(w), true);
    return 0;
}

/* ---- argument checks ---------------------------------------------------------------- */

static bool key_ok(const gomap_sync_t *m, const void *key)
{
    if (!key)
        return false;
    if (m->inner.key_kind == GOMAP_KEY_STR) {
        const gomap_str *s = key;
        return s->ptr || s->len == 0;
    }
    return true;
}

static bool args_ok(const gomap_sync_t *m, const void *key, const void *val)
{
    return m && key_ok(m, key) && (val || m->val_size == 0);
}

static inline void zero_out(const gomap_sync_t *m, void *out)
{
    if (m && out && m->val_size) {
        if (m->val_size == sizeof(uint64_t))
            memset(out, 0, sizeof(uint64_t));
        else
            memset(out, 0, m->val_size);
    }
}

/* ---- life cycle ---------------------------------------------------------------------- */

int gomap_sync_new(gomap_sync_t **out, const gomap_options *opt)
{
    if (out)
        *out = NULL;
    if (!out || !opt || opt->mem_limit != 0)
        return -EINVAL;
    /* gomap_new judges the options, the value size included. */
    gomap_options inner = *opt;
    inner.hint = 0;
    gomap_t *probe;
    int rc = gomap_new(&probe, &inner);
    if (rc)
        return rc;
    gomap_free(probe);
    inner.val_size = sizeof(struct entry *);

    gomap_sync_t *m = alloc_with(opt->alloc, sizeof *m);
    if (!m)
        return -ENOMEM;
    memset(m, 0, sizeof *m);
    m->inner = inner;
    m->hint = opt->hint;
    m->val_size = opt->val_size;
    m->seed = gomap__rand64();
    if (gomap__new_seeded(&m->hasher, &inner, m->seed) != 0) {
        raw_free(m, m, sizeof *m);
        return -ENOMEM;
    }
    atomic_init(&m->read, 0);
    for (unsigned i = 0; i < LEN_STRIPES; i++)
        atomic_init(&m->len[i].n, 0);
    atomic_init(&m->retired_bytes, 0);
    atomic_init(&m->retired_objects, 0);
    atomic_init(&m->reclaimed_bytes, 0);
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

/* An entry leaves every table: its value (if any) is taken out, and both are
 * retired. Under mu. */
static int kill_entry(const gomap_t *map, char *b, unsigned i, void *ctx)
{
    gomap_sync_t *m = ctx;
    struct entry *e = entry_at(map, b, i);
    struct box *p = atomic_exchange_explicit(&e->p, EXPUNGED, memory_order_acq_rel);
    if (has_value(p)) {
        len_add(m, -1);
        box_retire(m, p);
    }
    entry_retire(m, e);
    return 0;
}

void gomap_sync_clear(gomap_sync_t *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->mu);
    struct table *r = read_table(read_word(m));
    publish(m, NULL, false);
    /* Each entry once (I2): read's EXPUNGED entries are in no other table;
     * every other one is in dirty when there is a dirty. */
    if (r && m->dirty)
        gomap__for_each(r->map, retire_if_expunged, m);
    struct table *holder = m->dirty ? m->dirty : r;
    if (holder)
        gomap__for_each(holder->map, kill_entry, m);
    if (r)
        table_retire(m, r);
    if (m->dirty)
        table_retire(m, m->dirty);
    m->dirty = NULL;
    m->misses = 0;
    pthread_mutex_unlock(&m->mu);
}

void gomap_sync_free(gomap_sync_t *m)
{
    if (!m)
        return;
    /* Clearing retires everything; then wait until all that m retired has
     * been freed (through m's allocator, with m's counters). */
    gomap_sync_clear(m);
    while (atomic_load_explicit(&m->retired_objects, memory_order_acquire) != 0)
        gomap__rcu_wait_a_little();
    gomap_free(m->hasher);
    pthread_mutex_destroy(&m->mu);
    raw_free(m, m, sizeof *m);
}

/* ---- loads -------------------------------------------------------------------------- */

/* find_entry's slow path: the key is not in the read part, which is
 * amended. Looks again under mu, then in dirty, counting a miss. */
static __attribute__((noinline)) struct entry *find_entry_locked(gomap_sync_t *m,
                                                                 const void *key, uint64_t h)
{
    uintptr_t w;
    struct entry *e;
    pthread_mutex_lock(&m->mu);
    w = read_word(m);
    e = table_find(read_table(w), key, h);
    if (!e && read_amended(w)) {
        e = table_find(m->dirty, key, h);
        miss_locked(m);
    }
    pthread_mutex_unlock(&m->mu);
    return e;
}

/* Finds the entry for key: lock-free in the read part, else (if the read
 * part is amended) under mu in dirty, counting a miss. Call inside a
 * read-side section; the entry stays valid until its end. */
ALWAYS_INLINE struct entry *find_entry_kind(gomap_sync_t *m, int kind, const void *key,
                                            uint64_t h)
{
    uintptr_t w = read_word(m);
    struct entry *e = table_find_kind(read_table(w), kind, key, h);
    if (e || !read_amended(w))
        return e;
    return find_entry_locked(m, key, h);
}

static struct entry *find_entry(gomap_sync_t *m, const void *key, uint64_t h)
{
    struct entry *e;
#define FIND(K) find_entry_kind(m, K, key, h)
    KIND_SWITCH(m->hasher->key_kind, e, FIND)
#undef FIND
    return e;
}

/* gomap_sync_load for one key kind: hashing and the read part's search are
 * specialised, the rest is a few loads. */
ALWAYS_INLINE bool load_kind(gomap_sync_t *m, int kind, const void *key, void *val_out)
{
    uint64_t h = hash_of(m->hasher, kind, key);
    gomap__rcu_read_lock();
    struct entry *e = find_entry_kind(m, kind, key, h);
    struct box *p = e ? atomic_load_explicit(&e->p, memory_order_acquire) : NULL;
    bool found = has_value(p);
    if (found)
        copy_val(m, val_out, p);
    else
        zero_out(m, val_out);
    gomap__rcu_read_unlock();
    return found;
}

bool gomap_sync_load(gomap_sync_t *m, const void *key, void *val_out)
{
    if (!m || !key_ok(m, key)) {
        zero_out(m, val_out);
        return false;
    }
    bool found;
#define LOAD(K) load_kind(m, K, key, val_out)
    KIND_SWITCH(m->hasher->key_kind, found, LOAD)
#undef LOAD
    return found;
}

/* ---- stores ----------------------------------------------------------------------- */

/* Under mu: stores nv for key, reviving or creating its entry. Returns the
 * box replaced (NULL: none) through *prev; 0 or -ENOMEM (nothing changed). */
static int swap_locked(gomap_sync_t *m, const void *key, uint64_t h, struct box *nv,
                       struct box **prev)
{
    uintptr_t w = read_word(m);
    struct entry *e = table_find(read_table(w), key, h);
    int rc;
    if (e) {
        if ((rc = entry_revive_locked(m, e, key, h)) != 0)
            return rc;
    } else if (!(e = table_find(m->dirty, key, h))) {
        *prev = NULL;
        return add_new_key_locked(m, key, h, nv);
    }
    *prev = atomic_exchange_explicit(&e->p, nv, memory_order_acq_rel);
    if (!*prev)
        len_add(m, +1);
    return 0;
}

int gomap_sync_swap(gomap_sync_t *m, const void *key, const void *val, void *prev_out,
                    bool *loaded)
{
    if (loaded)
        *loaded = false;
    if (!args_ok(m, key, val))
        return -EINVAL;
    uint64_t h = key_hash(m, key);
    struct box *nv = box_new(m, val);
    if (!nv)
        return -ENOMEM;
    int rc = 0;
    gomap__rcu_read_lock();
    struct entry *e = table_find(read_table(read_word(m)), key, h);
    struct box *prev = e ? entry_try_swap(e, nv) : EXPUNGED;
    if (prev == EXPUNGED) {
        pthread_mutex_lock(&m->mu);
        rc = swap_locked(m, key, h, nv, &prev);
        pthread_mutex_unlock(&m->mu);
    } else if (!prev) {
        len_add(m, +1);
    }
    if (rc) {
        box_discard(m, nv);
    } else if (prev) {
        if (loaded)
            *loaded = true;
        copy_val(m, prev_out, prev);
        box_retire(m, prev);
    }
    gomap__rcu_read_unlock();
    return rc;
}

int gomap_sync_store(gomap_sync_t *m, const void *key, const void *val)
{
    return gomap_sync_swap(m, key, val, NULL, NULL);
}

int gomap_sync_load_or_store(gomap_sync_t *m, const void *key, const void *val,
                             void *actual_out, bool *loaded)
{
    if (loaded)
        *loaded = false;
    if (!args_ok(m, key, val))
        return -EINVAL;
    uint64_t h = key_hash(m, key);
    gomap__rcu_read_lock();
    struct entry *e = table_find(read_table(read_word(m)), key, h);
    int rc = e ? entry_try_load_or_store(m, e, val, actual_out) : 2;
    if (rc == 2) {
        pthread_mutex_lock(&m->mu);
        uintptr_t w = read_word(m);
        if ((e = table_find(read_table(w), key, h)) != NULL) {
            rc = entry_revive_locked(m, e, key, h);
            if (rc == 0)
                rc = entry_try_load_or_store(m, e, val, actual_out);
        } else if ((e = table_find(m->dirty, key, h)) != NULL) {
            rc = entry_try_load_or_store(m, e, val, actual_out);
            miss_locked(m);
        } else {
            struct box *nv = box_new(m, val);
            rc = nv ? add_new_key_locked(m, key, h, nv) : -ENOMEM;
            if (rc && nv)
                box_discard(m, nv);
            if (rc == 0 && actual_out && m->val_size)
                memcpy(actual_out, val, m->val_size);
        }
        pthread_mutex_unlock(&m->mu);
    }
    gomap__rcu_read_unlock();
    if (rc == 1 && loaded)
        *loaded = true;
    return rc < 0 ? rc : 0;
}

int gomap_sync_compare_and_swap(gomap_sync_t *m, const void *key, const void *old,
                                const void *new_val)
{
    if (!args_ok(m, key, new_val) || (!old && m->val_size))
        return -EINVAL;
    uint64_t h = key_hash(m, key);
    gomap__rcu_read_lock();
    struct entry *e = find_entry(m, key, h);
    int rc = e ? entry_try_cas(m, e, old, new_val) : 0;
    gomap__rcu_read_unlock();
    return rc;
}

/* ---- deletes ----------------------------------------------------------------------- */

/* Finds key's entry for a delete. A key only in dirty is removed from dirty
 * right away (Go's LoadAndDelete); its entry then leaves every table, so it
 * is killed here, its value copied out first. Returns the entry (still to be
 * deleted) or NULL; *done is set when the dirty path finished the job. */
static struct entry *find_for_delete(gomap_sync_t *m, const void *key, uint64_t h,
                                     void *val_out, bool *done)
{
    uintptr_t w = read_word(m);
    struct entry *e = table_find(read_table(w), key, h);
    *done = false;
    if (e || !read_amended(w))
        return e;
    pthread_mutex_lock(&m->mu);
    w = read_word(m);
    e = table_find(read_table(w), key, h);
    if (!e && read_amended(w) && (e = table_find(m->dirty, key, h)) != NULL) {
        gomap__remove_hashed(m->dirty->map, key, h);
        struct box *p = atomic_exchange_explicit(&e->p, EXPUNGED, memory_order_acq_rel);
        if (has_value(p)) {
            *done = true;
            len_add(m, -1);
            copy_val(m, val_out, p);
            box_retire(m, p);
        }
        entry_retire(m, e);
        e = NULL;
        miss_locked(m);
    }
    pthread_mutex_unlock(&m->mu);
    return e;
}

bool gomap_sync_load_and_delete(gomap_sync_t *m, const void *key, void *val_out)
{
    if (!m || !key_ok(m, key)) {
        zero_out(m, val_out);
        return false;
    }
    uint64_t h = key_hash(m, key);
    bool done;
    gomap__rcu_read_lock();
    struct entry *e = find_for_delete(m, key, h, val_out, &done);
    struct box *p = e ? entry_delete(m, e, NULL) : NULL;
    if (p) {
        done = true;
        copy_val(m, val_out, p);
        box_retire(m, p);
    }
    gomap__rcu_read_unlock();
    if (!done)
        zero_out(m, val_out);
    return done;
}

void gomap_sync_delete(gomap_sync_t *m, const void *key)
{
    gomap_sync_load_and_delete(m, key, NULL);
}

bool gomap_sync_compare_and_delete(gomap_sync_t *m, const void *key, const void *old)
{
    if (!m || !key_ok(m, key) || (!old && m->val_size))
        return false;
    uint64_t h = key_hash(m, key);
    static const char no_value;
    gomap__rcu_read_lock();
    /* Go does not remove the key from dirty here: the compare comes first,
     * and promotion expunges the entry later if it stays deleted. */
    struct entry *e = find_entry(m, key, h);
    struct box *p = e ? entry_delete(m, e, m->val_size ? old : &no_value) : NULL;
    if (p)
        box_retire(m, p);
    gomap__rcu_read_unlock();
    return p != NULL;
}

/* ---- range, len ---------------------------------------------------------------------- */

void gomap_sync_range(gomap_sync_t *m, bool (*fn)(const void *key, const void *val, void *ctx),
                      void *ctx)
{
    if (!m || !fn)
        return;
    gomap__rcu_read_lock();
    uintptr_t w = read_word(m);
    if (read_amended(w)) {
        /* Go: new keys are promoted first so that one pass sees them. */
        pthread_mutex_lock(&m->mu);
        if (read_amended(read_word(m)))
            promote_locked(m);
        w = read_word(m);
        pthread_mutex_unlock(&m->mu);
    }
    struct table *t = read_table(w);
    if (t) {
        gomap_iter it;
        const void *key;
        void *slot;
        gomap_iter_init(&it, t->map);
        while (gomap_iter_next(&it, &key, &slot)) {
            struct entry *e;
            memcpy(&e, slot, sizeof e);
            struct box *p = atomic_load_explicit(&e->p, memory_order_acquire);
            const void *val = m->val_size ? box_val(p) : (const void *)&present_marker;
            if (has_value(p) && !fn(key, val, ctx)) {
                gomap_iter_done(&it);
                break;
            }
        }
    }
    gomap__rcu_read_unlock();
}

size_t gomap_sync_len(gomap_sync_t *m)
{
    if (!m)
        return 0;
    long n = 0;
    for (unsigned i = 0; i < LEN_STRIPES; i++)
        n += atomic_load_explicit(&m->len[i].n, memory_order_relaxed);
    return n > 0 ? (size_t)n : 0;
}

/* ---- stats and validate ----------------------------------------------------------------- */

int gomap_sync_stats(gomap_sync_t *m, gomap_sync_stats_t *out)
{
    if (!m || !out)
        return -EINVAL;
    memset(out, 0, sizeof *out);
    out->len = gomap_sync_len(m);
    pthread_mutex_lock(&m->mu);
    uintptr_t w = read_word(m);
    out->read_entries = read_table(w) ? gomap_len(read_table(w)->map) : 0;
    out->dirty_entries = m->dirty ? gomap_len(m->dirty->map) : 0;
    out->amended = read_amended(w);
    out->misses = m->misses;
    out->promotions = m->promotions;
    out->dirty_copies = m->dirty_copies;
    pthread_mutex_unlock(&m->mu);
    out->retired_bytes = atomic_load_explicit(&m->retired_bytes, memory_order_relaxed);
    out->retired_objects = atomic_load_explicit(&m->retired_objects, memory_order_relaxed);
    out->reclaimed_bytes = atomic_load_explicit(&m->reclaimed_bytes, memory_order_relaxed);
    return 0;
}

struct check_ctx {
    gomap_sync_t *m;
    const struct table *other;  /* the table to look keys up in, or NULL */
    const char *why;            /* first failure */
    size_t live;                /* entries with a value */
};

/* Over read's entries: I1 (no dirty: nothing EXPUNGED) and I2 (with dirty:
 * every entry not EXPUNGED is in dirty, as the same entry). */
static int check_read_entry(const gomap_t *map, char *b, unsigned i, void *ctx)
{
    struct check_ctx *c = ctx;
    struct entry *e = entry_at(map, b, i);
    struct box *p = atomic_load_explicit(&e->p, memory_order_relaxed);
    const void *key = key_at(map, b, i);
    if (!c->other) {
        if (p == EXPUNGED)
            c->why = "an entry of the read part is expunged while there is no dirty map";
        c->live += has_value(p);
    } else if (p != EXPUNGED && gomap__key_is_reflexive(map, key) &&
               table_find(c->other, key, key_hash(c->m, key)) != e) {
        c->why = "a live entry of the read part is missing from the dirty map";
    }
    return c->why != NULL;
}

/* Over dirty's entries: none EXPUNGED (I2); without `amended` every key is
 * also in read (I3). */
static int check_dirty_entry(const gomap_t *map, char *b, unsigned i, void *ctx)
{
    struct check_ctx *c = ctx;
    struct entry *e = entry_at(map, b, i);
    struct box *p = atomic_load_explicit(&e->p, memory_order_relaxed);
    const void *key = key_at(map, b, i);
    if (p == EXPUNGED)
        c->why = "an expunged entry is in the dirty map";
    else if (c->other && gomap__key_is_reflexive(map, key) &&
             table_find(c->other, key, key_hash(c->m, key)) != e)
        c->why = "the dirty map has a key the read part lacks, and the read part is not amended";
    c->live += has_value(p);
    return c->why != NULL;
}

static int fail(char *why, size_t why_len, const char *reason)
{
    if (why && why_len)
        snprintf(why, why_len, "%s", reason);
    return -EFAULT;
}

int gomap_sync_validate(gomap_sync_t *m, char *why, size_t why_len)
{
    if (!m)
        return -EINVAL;
    int rc = 0;
    pthread_mutex_lock(&m->mu);
    uintptr_t w = read_word(m);
    struct table *r = read_table(w), *d = m->dirty;
    struct check_ctx c = {m, NULL, NULL, 0};
    char inner[200], msg[256];
    if (r && gomap_validate(r->map, inner, sizeof inner) != 0)
        c.why = (snprintf(msg, sizeof msg, "read part: %s", inner), msg);
    else if (d && gomap_validate(d->map, inner, sizeof inner) != 0)
        c.why = (snprintf(msg, sizeof msg, "dirty map: %s", inner), msg);
    else if (read_amended(w) && !d)
        c.why = "the read part is amended but there is no dirty map";
    if (!c.why && r) {
        c.other = d;
        gomap__for_each(r->map, check_read_entry, &c);
    }
    if (!c.why && d) {
        c.other = read_amended(w) ? NULL : r;
        if (!read_amended(w) && !r && gomap_len(d->map))
            c.why = "the dirty map has keys, the read part is empty and not amended";
        else
            gomap__for_each(d->map, check_dirty_entry, &c);
    }
    if (!c.why && c.live != gomap_sync_len(m))
        c.why = "gomap_sync_len differs from the number of live entries";
    pthread_mutex_unlock(&m->mu);
    if (c.why)
        rc = fail(why, why_len, c.why);
    return rc;
}
