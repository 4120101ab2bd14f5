/*
 * syncmap.c — Go's sync.Map algorithm over the core map (the layout and the
 * invariants are in syncmap_internal.h; docs/syncmap.md has the design).
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
#include "sync/syncmap_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/rand.h"
#include "base/scope.h"

/* ---- tables ---------------------------------------------------------------------- */

static inline int table_put(struct table *t, const void *key, uint64_t h, struct entry *e)
{
    int rc = gomap__upsert_hashed(t->map, key, h, &e, true, NULL);
    return rc < 0 ? rc : 0;
}

/* Publishes the read part. Release: a reader that loads the new word sees
 * the table's contents (pairs with read_word's acquire). */
static void publish(gomap_sync_t *m, struct table *t, bool amended)
{
    store_release(&m->read, (uintptr_t)t | (amended ? AMENDED : 0));
}

/* ---- length --------------------------------------------------------------------- */

_Thread_local unsigned gomap__sync_stripe __attribute__((tls_model("initial-exec"))) = STRIPES;

unsigned gomap__sync_stripe_assign(void)
{
    static atomic_uint next;
    return gomap__sync_stripe = fetch_add_relaxed(&next, 1) % STRIPES;
}

static void len_add(gomap_sync_t *m, long delta)
{
    fetch_add_relaxed(&my_stripe(m)->len, delta);
}

/* ---- entry transitions (lock-free unless named _locked) ---------------------------- */

/* Replaces a value that is not EXPUNGED with nv; returns the old one (NULL:
 * there was none), or EXPUNGED without storing. */
static struct box *entry_try_swap(struct entry *e, struct box *nv)
{
    struct box *p = load_acquire(&e->p);
    while (p != EXPUNGED) {
        if (cas_weak_acq_rel(&e->p, &p, nv))
            return p;
    }
    return EXPUNGED;
}

/* Under mu: an EXPUNGED entry of read goes back into dirty (first, so that
 * nothing changes if that fails) and becomes NULL. */
static int entry_revive_locked(gomap_sync_t *m, struct entry *e, const void *key, uint64_t h)
{
    if (load_relaxed(&e->p) != EXPUNGED)
        return 0;
    int rc = table_put(m->dirty, key, h, e);
    if (rc == 0)
        store_release(&e->p, NULL);
    return rc;
}

/* Under mu, building dirty: a deleted entry becomes EXPUNGED. True if the
 * entry is (now) EXPUNGED. */
static bool entry_try_expunge_locked(struct entry *e)
{
    struct box *p = load_relaxed(&e->p);
    while (p == NULL) {
        if (cas_weak_relaxed(&e->p, &p, EXPUNGED))
            return true;
    }
    return p == EXPUNGED;
}

/* Deletes the value if it is there and (old != NULL) equals old. Returns the
 * box taken out (the caller may still read it, then retires it) or NULL. */
static struct box *entry_delete(gomap_sync_t *m, struct entry *e, const void *old)
{
    struct box *p = load_acquire(&e->p);
    while (has_value(p)) {
        if (old && !same_val(m, p, old))
            return NULL;
        if (cas_weak_acq_rel(&e->p, &p, NULL)) {
            len_add(m, -1);
            return p;
        }
    }
    return NULL;
}

/* entry_try_load_or_store's answer when the entry is EXPUNGED. */
enum { TRY_LOCKED = 2 };

/* Go's tryLoadOrStore. Returns 1 loaded (value in *actual), 0 stored, -ENOMEM,
 * or TRY_LOCKED when the entry is EXPUNGED (nothing done: the caller must
 * take the lock). */
static int entry_try_load_or_store(gomap_sync_t *m, struct entry *e, const void *val,
                                   void *actual_out)
{
    struct box *p = load_acquire(&e->p);
    struct box *nv = NULL;
    for (;;) {
        if (p == EXPUNGED || has_value(p)) {
            if (nv)
                gomap__box_retire(m, nv);
            if (p == EXPUNGED)
                return TRY_LOCKED;
            copy_val(m, actual_out, p);
            return 1;
        }
        if (!nv && !(nv = gomap__box_new(m, val)))
            return -ENOMEM;
        if (cas_weak_acq_rel(&e->p, &p, nv)) {
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
    struct box *p = load_acquire(&e->p);
    struct box *nv = NULL;
    for (;;) {
        if (!has_value(p) || !same_val(m, p, old)) {
            if (nv)
                gomap__box_retire(m, nv);
            return 0;
        }
        if (!nv && !(nv = gomap__box_new(m, nv_val)))
            return -ENOMEM;
        if (cas_weak_acq_rel(&e->p, &p, nv)) {
            gomap__box_retire(m, p);
            return 1;
        }
    }
}

/* ---- promotion and the dirty copy (under mu) ---------------------------------------- */

static int retire_if_expunged(const void *key, void *val, void *ctx)
{
    (void)key;
    struct entry *e = entry_in(val);
    if (load_relaxed(&e->p) == EXPUNGED)
        gomap__entry_retire(ctx, e);
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
        gomap__for_each_entry(old->map, retire_if_expunged, m);
        gomap__table_retire(m, old);
    }
    gomap__obj_flush(m);
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

static int copy_unexpunged(const void *key, void *val, void *ctx)
{
    struct copy_ctx *c = ctx;
    struct entry *e = entry_in(val);
    if (entry_try_expunge_locked(e))
        return 0;
    return table_put(c->dirty, key, key_hash(c->m, key), e);
}

static int unexpunge(const void *key, void *val, void *ctx)
{
    (void)key;
    (void)ctx;
    struct entry *e = entry_in(val);
    struct box *want = EXPUNGED;
    cas_strong_relaxed(&e->p, &want, NULL);
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
    struct table *d = gomap__table_new(m, r ? gomap_len(r->map) : m->hint);
    if (!d)
        return -ENOMEM;
    if (r) {
        struct copy_ctx c = {m, d};
        if (gomap__for_each_entry(r->map, copy_unexpunged, &c) != 0) {
            gomap__for_each_entry(r->map, unexpunge, NULL);
            gomap__table_free_now(m, d);
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
    GOMAP_ASSERT(m->dirty != NULL);
    struct entry *e = gomap__entry_new(m, nv);
    if (!e)
        return -ENOMEM;
    if ((rc = table_put(m->dirty, key, h, e)) != 0) {
        gomap__entry_retire(m, e); /* never published, but maybe recycled */
        return rc;
    }
    len_add(m, +1);
    uintptr_t w = read_word(m);
    if (!read_amended(w))
        publish(m, read_table(w), true);
    return 0;
}

/* ---- argument checks ---------------------------------------------------------------- */

static bool args_ok(const gomap_sync_t *m, const void *key, const void *val)
{
    return m && gomap__key_ok(m->key_kind, key) && (val || m->val_size == 0);
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
    /* The core map judges the options, the value size included. */
    if (gomap__options_check(opt) != 0)
        return -EINVAL;
    gomap_options inner = *opt;
    inner.hint = 0;
    inner.val_size = sizeof(struct entry *);

    gomap_sync_t *m = gomap__alloc(opt->alloc, sizeof *m);
    if (!m)
        return -ENOMEM;
    memset(m, 0, sizeof *m);
    m->inner = inner;
    m->hint = opt->hint;
    m->val_size = opt->val_size;
    m->key_kind = (int)opt->key_kind;
    m->seed = gomap__rand64();
    m->hasher = gomap__hasher_for(&inner, m->seed);
    atomic_init(&m->read, 0);
    for (unsigned i = 0; i < STRIPES; i++)
        atomic_init(&m->stripes[i].len, 0);
    gomap__slab_init(m);
    gomap__reclaim_count_init(&m->reclaim);
    pthread_mutex_init(&m->mu, NULL);
    *out = m;
    return 0;
}

/* An entry leaves every table: its value (if any) is taken out, and both are
 * retired. Under mu. */
static int kill_entry(const void *key, void *val, void *ctx)
{
    (void)key;
    gomap_sync_t *m = ctx;
    struct entry *e = entry_in(val);
    struct box *p = exchange_acq_rel(&e->p, EXPUNGED);
    if (has_value(p)) {
        len_add(m, -1);
        gomap__box_retire(m, p);
    }
    gomap__entry_retire(m, e);
    return 0;
}

void gomap_sync_clear(gomap_sync_t *m)
{
    if (!m)
        return;
    /* A read-side section like every operation: retiring boxes reads the
     * pending stack's top, which another writer may flush meanwhile. */
    gomap__rcu_read_lock();
    pthread_mutex_lock(&m->mu);
    struct table *r = read_table(read_word(m));
    publish(m, NULL, false);
    /* Each entry once (I2): read's EXPUNGED entries are in no other table;
     * every other one is in dirty when there is a dirty. */
    if (r && m->dirty)
        gomap__for_each_entry(r->map, retire_if_expunged, m);
    struct table *holder = m->dirty ? m->dirty : r;
    if (holder)
        gomap__for_each_entry(holder->map, kill_entry, m);
    if (r)
        gomap__table_retire(m, r);
    if (m->dirty)
        gomap__table_retire(m, m->dirty);
    m->dirty = NULL;
    m->misses = 0;
    gomap__obj_flush(m);
    pthread_mutex_unlock(&m->mu);
    gomap__rcu_read_unlock();
}

/* Everything m retired has been freed (tables) or recycled (onto m's free
 * lists: boxes and entries), with m's counters, so m itself may go. */
static bool sync_drained(struct gomap_retired *r)
{
    gomap_sync_t *m = GOMAP_CONTAINER_OF(r, gomap_sync_t, final);
    return gomap__count_drained(&m->reclaim);
}

static void sync_destroy(struct gomap_retired *r)
{
    gomap_sync_t *m = GOMAP_CONTAINER_OF(r, gomap_sync_t, final);
    GOMAP_ASSERT(gomap__count_drained(&m->reclaim)); /* nothing left to free m's memory */
    gomap__slab_free(m);
    pthread_mutex_destroy(&m->mu);
    gomap__free(m->inner.alloc, m, sizeof *m);
}

void gomap_sync_free(gomap_sync_t *m)
{
    if (!m)
        return;
    const struct gomap__scope *s = gomap__scope_find(m);
    if (__builtin_expect(s != NULL, 0))
        gomap__scope_fault(s, NULL, MSG_SYNC_FREE_INSIDE, GOMAP_CALLER);
    /* No other call overlaps, so no reader holds the tables: they are
     * freed now. The entries and values live in the map's blocks, which go
     * with the map (sync_destroy): nothing is freed one key at a time.
     * What was retired before, and objects still waiting in a stripe's
     * batch, wait for a grace period; m goes once all of it has been
     * recycled: after a barrier every callback queued so far has run (the
     * loop only re-checks; sync_drained's acquire makes their writes ours).
     * Inside a read-side section or a callback that wait could never end
     * (or deadlock): the reclaimer finishes the job instead. */
    struct table *r = read_table(read_word(m));
    store_relaxed(&m->read, (uintptr_t)0);
    if (r)
        gomap__table_free_now(m, r);
    if (m->dirty)
        gomap__table_free_now(m, m->dirty);
    m->dirty = NULL;
    gomap__obj_flush(m);
    if (gomap__must_not_wait()) {
        gomap__rcu_defer_until(&m->final, sync_drained, sync_destroy);
        return;
    }
    while (!sync_drained(&m->final))
        gomap__rcu_barrier();
    sync_destroy(&m->final);
}

/* ---- loads -------------------------------------------------------------------------- */

/* find_entry's slow path (syncmap_internal.h). */
struct entry *gomap__sync_find_entry_locked(gomap_sync_t *m, const void *key, uint64_t h)
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
ALWAYS_INLINE struct entry *find_entry_kind(gomap_sync_t *m, int kind, const void *key)
{
    uintptr_t w = read_word(m);
    struct entry *e = table_lookup_kind(read_table(w), kind, key);
    if (e || !read_amended(w))
        return e;
    return gomap__sync_find_entry_locked(m, key, key_hash(m, key));
}

static struct entry *find_entry(gomap_sync_t *m, const void *key)
{
    struct entry *e;
#define FIND(K) find_entry_kind(m, K, key)
    KIND_SWITCH(m->key_kind, e, FIND)
#undef FIND
    return e;
}

/* gomap_sync_load for one key kind: hashing and the read part's search are
 * specialised, the rest is a few loads. */
ALWAYS_INLINE bool load_kind(gomap_sync_t *m, int kind, const void *key, void *val_out)
{
    gomap__rcu_read_lock();
    struct entry *e = find_entry_kind(m, kind, key);
    struct box *p = e ? load_acquire(&e->p) : NULL;
    bool found = has_value(p);
    if (found)
        copy_val(m, val_out, p);
    else
        zero_out(m, val_out);
    gomap__rcu_read_unlock();
    return found;
}

static inline __attribute__((always_inline)) bool load_valid(gomap_sync_t *m, const void *key,
                                                             void *val_out)
{
    bool found;
#define LOAD(K) load_kind(m, K, key, val_out)
    KIND_SWITCH(m->key_kind, found, LOAD)
#undef LOAD
    return found;
}

/* A load that is timed (latency.h): out of line, so that the untimed ones
 * keep no start time across the lookup. */
__attribute__((noinline)) static bool timed_load(gomap_sync_t *m, const void *key, void *val_out)
{
    uint64_t t0 = lat_now_ns();
    bool found = load_valid(m, key, val_out);
    gomap__lat_add(&m->lat_get, lat_now_ns() - t0);
    return found;
}

bool gomap_sync_load(gomap_sync_t *m, const void *key, void *val_out)
{
    if (!m || !gomap__key_ok(m->key_kind, key)) {
        zero_out(m, val_out);
        return false;
    }
    if (__builtin_expect(lat_due(), 0))
        return timed_load(m, key, val_out);
    return load_valid(m, key, val_out);
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
    *prev = exchange_acq_rel(&e->p, nv);
    if (!*prev)
        len_add(m, +1);
    return 0;
}

static int swap_untimed(gomap_sync_t *m, const void *key, const void *val, void *prev_out,
                        bool *loaded)
{
    if (loaded)
        *loaded = false;
    if (!args_ok(m, key, val))
        return -EINVAL;
    int rc = 0;
    gomap__rcu_read_lock();
    struct box *nv = gomap__box_new(m, val);
    if (!nv) {
        gomap__rcu_read_unlock();
        return -ENOMEM;
    }
    struct entry *e = table_lookup(read_table(read_word(m)), key);
    struct box *prev = e ? entry_try_swap(e, nv) : EXPUNGED;
    if (prev == EXPUNGED) {
        uint64_t h = key_hash(m, key);
        pthread_mutex_lock(&m->mu);
        rc = swap_locked(m, key, h, nv, &prev);
        pthread_mutex_unlock(&m->mu);
    } else if (!prev) {
        len_add(m, +1);
    }
    if (rc) {
        gomap__box_retire(m, nv);
    } else if (prev) {
        if (loaded)
            *loaded = true;
        copy_val(m, prev_out, prev);
        gomap__box_retire(m, prev);
    }
    gomap__rcu_read_unlock();
    return rc;
}

/* Ends a timed write (lat_start) of m, which may be NULL (a call refused
 * with -EINVAL). */
static inline void write_timed(gomap_sync_t *m, uint64_t t0)
{
    if (m)
        lat_stop(&m->lat_write, t0);
}

int gomap_sync_swap(gomap_sync_t *m, const void *key, const void *val, void *prev_out,
                    bool *loaded)
{
    uint64_t t0 = lat_start();
    int rc = swap_untimed(m, key, val, prev_out, loaded);
    write_timed(m, t0);
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
    gomap__rcu_read_lock();
    struct entry *e = table_lookup(read_table(read_word(m)), key);
    int rc = e ? entry_try_load_or_store(m, e, val, actual_out) : TRY_LOCKED;
    if (rc == TRY_LOCKED) {
        uint64_t h = key_hash(m, key);
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
            struct box *nv = gomap__box_new(m, val);
            rc = nv ? add_new_key_locked(m, key, h, nv) : -ENOMEM;
            if (rc && nv)
                gomap__box_retire(m, nv);
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
    uint64_t t0 = lat_start();
    gomap__rcu_read_lock();
    struct entry *e = find_entry(m, key);
    int rc = e ? entry_try_cas(m, e, old, new_val) : 0;
    gomap__rcu_read_unlock();
    write_timed(m, t0);
    return rc;
}

/* ---- deletes ----------------------------------------------------------------------- */

/* Finds key's entry for a delete. A key only in dirty is removed from dirty
 * right away (Go's LoadAndDelete); its entry then leaves every table, so it
 * is killed here, its value copied out first. Returns the entry (still to be
 * deleted) or NULL; *done is set when the dirty path finished the job. */
static struct entry *find_for_delete(gomap_sync_t *m, const void *key, void *val_out,
                                     bool *done)
{
    uintptr_t w = read_word(m);
    struct entry *e = table_lookup(read_table(w), key);
    *done = false;
    if (e || !read_amended(w))
        return e;
    uint64_t h = key_hash(m, key);
    pthread_mutex_lock(&m->mu);
    w = read_word(m);
    e = table_find(read_table(w), key, h);
    if (!e && read_amended(w) && (e = table_find(m->dirty, key, h)) != NULL) {
        gomap__remove_hashed(m->dirty->map, key, h);
        struct box *p = exchange_acq_rel(&e->p, EXPUNGED);
        if (has_value(p)) {
            *done = true;
            len_add(m, -1);
            copy_val(m, val_out, p);
            gomap__box_retire(m, p);
        }
        gomap__entry_retire(m, e);
        e = NULL;
        miss_locked(m);
    }
    pthread_mutex_unlock(&m->mu);
    return e;
}

bool gomap_sync_load_and_delete(gomap_sync_t *m, const void *key, void *val_out)
{
    if (!m || !gomap__key_ok(m->key_kind, key)) {
        zero_out(m, val_out);
        return false;
    }
    bool done;
    uint64_t t0 = lat_start();
    gomap__rcu_read_lock();
    struct entry *e = find_for_delete(m, key, val_out, &done);
    struct box *p = e ? entry_delete(m, e, NULL) : NULL;
    if (p) {
        done = true;
        copy_val(m, val_out, p);
        gomap__box_retire(m, p);
    }
    gomap__rcu_read_unlock();
    if (!done)
        zero_out(m, val_out);
    write_timed(m, t0);
    return done;
}

void gomap_sync_delete(gomap_sync_t *m, const void *key)
{
    gomap_sync_load_and_delete(m, key, NULL);
}

bool gomap_sync_compare_and_delete(gomap_sync_t *m, const void *key, const void *old)
{
    if (!m || !gomap__key_ok(m->key_kind, key) || (!old && m->val_size))
        return false;
    static const char no_value;
    uint64_t t0 = lat_start();
    gomap__rcu_read_lock();
    /* Go does not remove the key from dirty here: the compare comes first,
     * and promotion expunges the entry later if it stays deleted. */
    struct entry *e = find_entry(m, key);
    struct box *p = e ? entry_delete(m, e, m->val_size ? old : &no_value) : NULL;
    if (p)
        gomap__box_retire(m, p);
    gomap__rcu_read_unlock();
    write_timed(m, t0);
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
            /* NOLINTNEXTLINE(bugprone-sizeof-expression): the slot holds the pointer itself */
            memcpy(&e, slot, sizeof e);
            struct box *p = load_acquire(&e->p);
            if (!has_value(p))
                continue;
            gomap__scope_enter(m, "a range", NULL, GOMAP_CALLER);
            bool more = fn(key, m->val_size ? box_val(p) : (const void *)PRESENT, ctx);
            gomap__scope_leave();
            if (!more) {
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
    for (unsigned i = 0; i < STRIPES; i++)
        n += load_relaxed(&m->stripes[i].len);
    return n > 0 ? (size_t)n : 0;
}

