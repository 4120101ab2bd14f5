/*
 * shardmap.c — the sharded map's life cycle and keyed operations.
 *
 * Each keyed operation hashes its key once (shard_hash), takes that shard's
 * lock, works on the shard's core map through the already-hashed entry
 * points, counts a hit or a miss, and releases the lock. The layout, the
 * hashing and the locking rules are in shardmap_internal.h.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/misuse.h"
#include "base/rand.h"
#include "base/rcu.h"
#include "base/scope.h"
#include "shard/shard_read.h"
#include "shard/shardmap_internal.h"

/* ---- re-entrancy --------------------------------------------------------------- */

/* While a callback runs, the shard it holds is recorded as the thread's
 * scope (scope.h). The rule is "any call into the same map", not "into the
 * same shard": whether two keys share a shard depends on the seed. */
void gomap__shard_reentry_slow(const gomap_shard_t *m, const void *site)
{
    const struct gomap__scope *sc = gomap__scope_find(m);
    if (!sc)
        return;
    const struct shard *s = sc->detail;
    char what[128];
    snprintf(what, sizeof what, "shard %u of %u of sharded map %p, by this thread", s->index,
             s->table->nshards, (const void *)m);
    gomap__fault_held(s->map, MSG_SHARD_REENTRY, site, what, sc->site);
}

/* ---- locks ------------------------------------------------------------------------ */

void gomap__shard_lock_wait(shard_lock *l, int kind, bool shared, shard_waits *w)
{
    uint64_t t0 = shard_lock_now_ns();
    switch (kind) {
    case SHARD_LOCK_RWLOCK:
    case SHARD_LOCK_RWLOCK_WRITER:
        if (shared)
            pthread_rwlock_rdlock(&l->rw);
        else
            pthread_rwlock_wrlock(&l->rw);
        break;
    case SHARD_LOCK_MUTEX:
    case SHARD_LOCK_MUTEX_ADAPTIVE:
        pthread_mutex_lock(&l->mu);
        break;
    default:
        spin_wait(l);
        break;
    }
    fetch_add_relaxed(&w->count, 1);
    fetch_add_relaxed(&w->ns, shard_lock_now_ns() - t0);
}

/* Retired arrays a shard keeps before it hands them to RCU (never more
 * than its live array, which is larger than all the arrays it outgrew
 * together). */
#define SETTLE_BYTES ((size_t)64 << 10)

/* Outgrown arrays of one shard's map waiting for a grace period. On an
 * optimistic map the core map keeps outgrown arrays on its graveyard
 * (gomap__keep_retired_arrays) instead of freeing them, because an
 * optimistic reader that started before the write may still walk them. A
 * write takes them off the graveyard (they are unreachable from the map
 * from then on, so readers that start later never see them) and retires
 * the batch: the RCU callback only marks it READY, and the next write to
 * the shard gives the arrays to the map, which frees them through its
 * allocator and accounting a slice per write (map_release.c). So no write
 * waits for a grace period, and none frees a large array in one call.
 *
 * state: WAITING until the callback; then READY (the shard's writer frees
 * the batch), or ORPHANED when the map was freed where it could not wait
 * (the callback frees the arrays, the map and the batch). Both moves out
 * of WAITING are compare-and-swaps, so exactly one side frees. */
enum { BATCH_WAITING, BATCH_READY, BATCH_ORPHANED };

struct retired_batch {
    struct gomap_retired r;
    _Atomic int state;
    struct array_hdr *list;   /* the arrays, linked by next_retired */
    gomap_t *map;             /* the map they belong to */
    const gomap_allocator *alloc; /* the batch's own block's allocator */
};

static void batch_free_all(struct retired_batch *b)
{
    gomap__free_retired_arrays(b->map, b->list);
    const gomap_allocator *a = b->alloc;
    gomap__free(a, b, sizeof *b);
}

/* The RCU callback: every reader that could walk the arrays has left. */
static void batch_grace_over(struct gomap_retired *r)
{
    struct retired_batch *b = GOMAP_CONTAINER_OF(r, struct retired_batch, r);
    int expected = BATCH_WAITING;
    /* Release: the writer that reads READY (acquire) frees the batch after
     * this, our last access to it. Acquire on failure: an ORPHANED batch's
     * map as gomap_shard_free left it. */
    if (cas_strong_acq_rel(&b->state, &expected, BATCH_READY))
        return;
    gomap_t *map = b->map;
    batch_free_all(b);
    gomap_free(map);
}

void gomap__shard_settle_retired(gomap_shard_t *m, struct shard *s)
{
    gomap_t *map = s->map;
    struct retired_batch *b = s->batch;
    /* Acquire: pairs with batch_grace_over's release. */
    if (b && load_acquire(&b->state) == BATCH_READY) {
        batch_free_all(b);
        s->batch = b = NULL;
    }
    if (b || gomap__retired_arrays_head(map) == s->graveyard_seen)
        return;
    if (gomap__retired_array_bytes(map) < SETTLE_BYTES) {
        s->graveyard_seen = gomap__retired_arrays_head(map);
        return;
    }
    if (!(b = gomap__alloc(m->opt.alloc, sizeof *b)))
        return; /* the arrays stay on the graveyard; a later write tries again */
    atomic_init(&b->state, BATCH_WAITING);
    b->list = gomap__take_retired_arrays(map);
    b->map = map;
    b->alloc = m->opt.alloc;
    s->graveyard_seen = NULL;
    s->batch = b;
    gomap__rcu_retire(&b->r, batch_grace_over);
}

void gomap__shard_batch_dispose(gomap_shard_t *m, struct shard *s)
{
    struct retired_batch *b = s->batch;
    (void)m;
    if (!b)
        return;
    s->batch = NULL;
    if (load_acquire(&b->state) != BATCH_READY && !gomap__must_not_wait())
        gomap__rcu_barrier(); /* runs batch_grace_over */
    int expected = BATCH_WAITING;
    /* Release: the callback that finds ORPHANED sees the map as it is. */
    if (cas_strong_acq_rel(&b->state, &expected, BATCH_ORPHANED)) {
        s->map = NULL; /* the callback frees it */
        return;
    }
    batch_free_all(b); /* READY: the callback is done with it */
}

/* ---- counting lanes ------------------------------------------------------------- */

_Thread_local unsigned gomap__shard_lane __attribute__((tls_model("initial-exec")));

/* Owned lanes taken (bit i: lane i has a live owner). A thread takes the
 * lowest free one on its first counted operation (acquire: the counts the
 * lane's last owner stored) and gives it back when it exits (release: its
 * own counts), so an owned lane has one writer at a time. A thread that
 * finds none free, or cannot arrange to give one back, counts in the
 * shared lanes. */
static _Atomic uint64_t lanes_taken;
static pthread_once_t lane_key_once = PTHREAD_ONCE_INIT;
static pthread_key_t lane_key;
static int lane_key_err;

#define NO_LANE GOMAP_SHARD_OWNED_LANES /* beyond every table's owned lanes */

static void give_lane_back(void *arg)
{
    (void)arg;
    unsigned lane = gomap__shard_lane - 1;
    /* A later thread-exit destructor may still count: in a shared lane. */
    gomap__shard_lane = NO_LANE + 1;
    if (lane < GOMAP_SHARD_OWNED_LANES)
        fetch_and_release(&lanes_taken, ~((uint64_t)1 << lane));
}

static void make_lane_key(void)
{
    lane_key_err = pthread_key_create(&lane_key, give_lane_back);
}

static unsigned take_lane(void)
{
    pthread_once(&lane_key_once, make_lane_key);
    if (lane_key_err)
        return NO_LANE;
    uint64_t taken = load_relaxed(&lanes_taken);
    while (taken != UINT64_MAX) {
        unsigned lane = (unsigned)__builtin_ctzll(~taken);
        if (cas_weak_acquire(&lanes_taken, &taken, taken | ((uint64_t)1 << lane))) {
            /* Any non-NULL value makes give_lane_back run at exit. */
            if (pthread_setspecific(lane_key, &gomap__shard_lane) == 0)
                return lane;
            fetch_and_release(&lanes_taken, ~((uint64_t)1 << lane));
            return NO_LANE;
        }
    }
    return NO_LANE;
}

/* On a thread's first counted operation. */
unsigned gomap__shard_lane_assign(void)
{
    unsigned lane = take_lane();
    gomap__shard_lane = lane + 1;
    return lane;
}

/* ---- life cycle ------------------------------------------------------------------- */

/* The auto mode's default window and threshold (docs/shardmap.md,
 * "Resizing", has the measurements behind them). */
#define TUNE_WINDOW ((uint64_t)16384)
#define TUNE_PERMILLE 100u

/* The automatic shard count: 4 per online CPU, at least 16, a power of two. */
static unsigned auto_shards(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = cpus > 0 && cpus < (long)GOMAP_SHARDS_MAX / 4 ? 4u * (unsigned)cpus
                                                                 : GOMAP_SHARDS_MAX;
    unsigned n = 16;
    while (n < want)
        n *= 2;
    return n;
}

/* Whether gets on maps of these options may read without the lock: keys
 * and values stored inline in the buckets, compared bytewise, so a
 * reader racing a writer reads only bucket memory and decides nothing from
 * what it read until the shard's sequence count confirms it. Out-of-line
 * keys and values (blobs a delete frees at once), string keys (a pointer
 * and a length read apart) and custom keys (the caller's equal() would see
 * torn keys) take the lock, and so do f64 keys (a NaN key cannot be deleted
 * one by one, which is how gomap_shard_clear empties these maps).
 * ThreadSanitizer would report the benign races of an optimistic read, so
 * its builds take the lock too. */
static bool optimistic_ok(const gomap_options *o)
{
#if defined(GOMAP_TSAN)
    (void)o;
    return false;
#else
    bool inline_key = o->key_kind == GOMAP_KEY_U32 || o->key_kind == GOMAP_KEY_U64 ||
                      (o->key_kind == GOMAP_KEY_BYTES && o->key_size <= GOMAP_INLINE_MAX);
    return inline_key && o->val_size <= GOMAP_INLINE_MAX;
#endif
}

static void destroy(gomap_shard_t *m)
{
    pthread_mutex_destroy(&m->resize_mu);
    gomap__free(m->opt.alloc, m, sizeof *m);
}

/* The auto mode's bound: max_shards, or the larger of the shard count and
 * the automatic one. 0 if max_shards is not a power of two up to the
 * maximum or below the count. */
static unsigned max_shards_for(const gomap_shard_options *opt, unsigned n)
{
    unsigned max = opt->max_shards;
    if (!max)
        return n > auto_shards() ? n : auto_shards();
    return max <= GOMAP_SHARDS_MAX && (max & (max - 1)) == 0 && max >= n ? max : 0;
}

int gomap__shard_new_locked(gomap_shard_t **out, const gomap_shard_options *opt, int lock_kind,
                            bool optimistic)
{
    if (out)
        *out = NULL;
    if (!out || !opt || opt->map.mem_limit != 0 || lock_kind < 0 || lock_kind >= SHARD_LOCK_KINDS)
        return -EINVAL;
    unsigned n = opt->shards ? opt->shards : auto_shards();
    if (n > GOMAP_SHARDS_MAX || (n & (n - 1)) != 0)
        return -EINVAL;
    unsigned max = max_shards_for(opt, n);
    if (!max)
        return -EINVAL;

    gomap_shard_t *m = gomap__alloc(opt->map.alloc, sizeof *m);
    if (!m)
        return -ENOMEM;
    memset(m, 0, sizeof *m);
    if (pthread_mutex_init(&m->resize_mu, NULL) != 0) {
        gomap__free(opt->map.alloc, m, sizeof *m);
        return -ENOMEM;
    }
    m->optimistic = optimistic && optimistic_ok(&opt->map);
    m->lock_kind = lock_kind;
    m->key_kind = (int)opt->map.key_kind;
    m->val_size = opt->map.val_size;
    m->seed = gomap__rand64();
    m->opt = opt->map;
    m->hasher = gomap__hasher_for(&opt->map, m->seed);
    m->auto_resize = opt->auto_resize;
    m->max_shards = max;
    m->tune_window = TUNE_WINDOW;
    m->tune_permille = TUNE_PERMILLE;
    atomic_init(&m->resizes, 0);

    struct shard_table *t;
    int rc = gomap__shard_table_new(m, n, true, opt->map.hint, &t);
    if (rc != 0) {
        destroy(m);
        return rc; /* -EINVAL (bad options) from the first shard, or -ENOMEM */
    }
    atomic_init(&m->table, t);
    *out = m;
    return 0;
}

int gomap_shard_new(gomap_shard_t **out, const gomap_shard_options *opt)
{
    return gomap__shard_new_locked(out, opt, SHARD_LOCK_DEFAULT, true);
}

/* No other call overlaps: the head and a pending move's target are the
 * only tables left (a finished move freed the one it emptied). */
void gomap_shard_free(gomap_shard_t *m)
{
    if (!m)
        return;
    const struct gomap__scope *sc = gomap__scope_find(m);
    if (__builtin_expect(sc != NULL, 0)) {
        const struct shard *s = sc->detail;
        gomap__scope_fault(sc, s->map, MSG_SHARD_FREE_INSIDE, GOMAP_CALLER);
    }
    struct shard_table *t = load_relaxed(&m->table);
    struct shard_table *next = load_relaxed(&t->next);
    if (next)
        gomap__shard_table_free(m, next);
    gomap__shard_table_free(m, t);
    destroy(m);
}

unsigned gomap_shard_count(const gomap_shard_t *m)
{
    if (!m)
        return 0;
    /* The head may be replaced and freed at any time: read it inside a
     * read-side section (acquire: its fields as its creator wrote them). */
    gomap__rcu_read_lock();
    unsigned n = load_acquire(&m->table)->nshards;
    gomap__rcu_read_unlock();
    return n;
}

/* ---- keyed operations ------------------------------------------------------------- */

/* Finds key (hashed h) in a shard's map, which the caller holds, for a
 * kind known only at run time (layer_find for a constant one). */
static slot_ref shard_find_any(const struct shard *s, const void *key, uint64_t h)
{
    if (layer_len(s->map) == 0)
        return (slot_ref){NULL, 0};
    return gomap__find_hashed(s->map, key, h);
}

/* An optimistic get: shard_optimistic_read inside a read-side section of
 * its own. False when a writer got in the way twice. */
ALWAYS_INLINE bool optimistic_get(gomap_shard_t *m, int kind, const void *key, uint64_t h,
                                  void *val_out, bool count_miss, bool *found)
{
    gomap__rcu_read_lock();
    /* Acquire: the head's fields as the move that installed it wrote them. */
    struct shard_table *t = load_acquire(&m->table);
    bool done = shard_optimistic_read(m, t, kind, key, h, val_out, count_miss, true, found);
    gomap__rcu_read_unlock();
    return done;
}

/* Looks key up (without the lock on an optimistic map when no writer is in
 * the way, else under the shared lock), copies its value out and counts a
 * hit (and a miss only if count_miss). Stores the key's hash in *hash. */
ALWAYS_INLINE bool get_kind(gomap_shard_t *m, int kind, const void *key, void *val_out,
                            bool count_miss, uint64_t *hash)
{
    uint64_t h = *hash = shard_hash(m, kind, key);
    bool found;
    if (m->optimistic && optimistic_get(m, kind, key, h, val_out, count_miss, &found))
        return found;
    return shard_locked_read(m, kind, key, h, val_out, count_miss);
}

/* Flattened: every call in the kind's read is inlined with the kind a
 * constant (the optimistic read's probe included, which the compiler would
 * otherwise leave out of line as a generic function); the out-of-line
 * pieces (generic_probe, the lock's slow path) stay out of line. */
__attribute__((flatten)) static bool shared_get(gomap_shard_t *m, const void *key,
                                                void *val_out, bool count_miss, uint64_t *hash)
{
    bool found;
#define GET(K) get_kind(m, K, key, val_out, count_miss, hash)
    KIND_SWITCH(m->key_kind, found, GET)
#undef GET
    return found;
}

/* A get that is timed (latency.h): out of line, so that the untimed
 * ones keep no start time across the lookup. */
__attribute__((noinline)) static bool timed_get(gomap_shard_t *m, const void *key,
                                                void *val_out)
{
    uint64_t t0 = lat_now_ns(), h;
    bool found = shared_get(m, key, val_out, true, &h);
    gomap__lat_add(&m->lat_get, lat_now_ns() - t0);
    return found;
}

bool gomap_shard_get(gomap_shard_t *m, const void *key, void *val_out)
{
    if (!m || !gomap__key_ok(m->key_kind, key)) {
        if (m)
            copy_out(m, val_out, NULL);
        return false;
    }
    shard_reentry_check(m, GOMAP_CALLER);
    uint64_t h;
    if (__builtin_expect(lat_due(), 0))
        return timed_get(m, key, val_out);
    return shared_get(m, key, val_out, true, &h);
}

int gomap_shard_set(gomap_shard_t *m, const void *key, const void *val)
{
    if (!m || !gomap__key_ok(m->key_kind, key) || (!val && m->val_size))
        return -EINVAL;
    shard_reentry_check(m, GOMAP_CALLER);
    uint64_t t0 = lat_start();
    uint64_t h = shard_hash(m, m->key_kind, key);
    struct shard *s = gomap__shard_acquire(m, h, false);
    int rc = gomap__upsert_hashed(s->map, key, h, val, true, NULL);
    shard_count(m, s, rc == 0);
    shard_done(m, shard_release(m, s));
    lat_stop(&m->lat_write, t0);
    return rc < 0 ? rc : 0;
}

bool gomap_shard_delete(gomap_shard_t *m, const void *key)
{
    if (!m || !gomap__key_ok(m->key_kind, key))
        return false;
    shard_reentry_check(m, GOMAP_CALLER);
    uint64_t t0 = lat_start();
    uint64_t h = shard_hash(m, m->key_kind, key);
    struct shard *s = gomap__shard_acquire(m, h, false);
    bool found = gomap__remove_hashed(s->map, key, h);
    shard_count(m, s, found);
    shard_done(m, shard_release(m, s));
    lat_stop(&m->lat_write, t0);
    return found;
}

int gomap_shard_load_or_store(gomap_shard_t *m, const void *key, const void *val,
                              void *actual_out, bool *loaded)
{
    if (loaded)
        *loaded = false;
    if (!m || !gomap__key_ok(m->key_kind, key) || (!val && m->val_size))
        return -EINVAL;
    shard_reentry_check(m, GOMAP_CALLER);
    /* Present keys (the common case of a load-or-store) need only the shared
     * lock; an absent key is looked up again under the exclusive one (in
     * the shard that holds it then, which a move may have changed). */
    uint64_t h;
    if (shared_get(m, key, actual_out, false, &h)) {
        if (loaded)
            *loaded = true;
        return 0;
    }
    struct shard *s = gomap__shard_acquire(m, h, false);
    void *slot = NULL;
    int rc = gomap__upsert_hashed(s->map, key, h, val, false, &slot);
    if (rc >= 0) {
        copy_out(m, actual_out, slot);
        if (loaded)
            *loaded = rc == 0;
        shard_count(m, s, rc == 0);
    }
    shard_done(m, shard_release(m, s));
    return rc < 0 ? rc : 0;
}

/* Values up to this size are copied for compute on the stack. */
enum { COMPUTE_STACK_BYTES = 256 };

int gomap_shard_compute(gomap_shard_t *m, const void *key,
                        int (*fn)(const void *key, void *val, bool *present, void *ctx), void *ctx)
{
    if (!m || !gomap__key_ok(m->key_kind, key) || !fn)
        return -EINVAL;
    shard_reentry_check(m, GOMAP_CALLER);
    /* fn works on a copy, so that a callback that gives up leaves the stored
     * value as it was. */
    _Alignas(16) unsigned char small[COMPUTE_STACK_BYTES];
    void *copy = small;
    if (m->val_size > sizeof small && !(copy = gomap__alloc(m->opt.alloc, m->val_size)))
        return -ENOMEM;

    uint64_t t0 = lat_start();
    uint64_t h = shard_hash(m, m->key_kind, key);
    struct shard *s = gomap__shard_acquire(m, h, false);
    slot_ref r = shard_find_any(s, key, h);
    bool was = r.b != NULL, present = was;
    void *stored = was ? layer_value(s->map, r) : NULL;
    copy_out(m, copy, stored);
    shard_count(m, s, was);

    shard_hold(m, s, GOMAP_CALLER);
    int rc = fn(key, copy, &present, ctx);
    shard_unhold();
    if (rc == 0) {
        if (present && was)
            copy_out(m, stored, copy);
        else if (present)
            rc = gomap__upsert_hashed(s->map, key, h, copy, true, NULL) < 0 ? -ENOMEM : 0;
        else if (was)
            gomap__remove_hashed(s->map, key, h);
    }
    bool tune = shard_release(m, s);
    if (copy != small)
        gomap__free(m->opt.alloc, copy, m->val_size);
    shard_done(m, tune);
    lat_stop(&m->lat_write, t0);
    return rc;
}

bool gomap_shard_visit(gomap_shard_t *m, const void *key,
                       void (*fn)(const void *key, void *val, void *ctx), void *ctx)
{
    if (!m || !gomap__key_ok(m->key_kind, key) || !fn)
        return false;
    shard_reentry_check(m, GOMAP_CALLER);
    uint64_t h = shard_hash(m, m->key_kind, key);
    struct shard *s = gomap__shard_acquire(m, h, false);
    slot_ref r = shard_find_any(s, key, h);
    shard_count(m, s, r.b != NULL);
    if (r.b) {
        shard_hold(m, s, GOMAP_CALLER);
        fn(layer_key(s->map, m->key_kind, r), layer_value(s->map, r), ctx);
        shard_unhold();
    }
    shard_done(m, shard_release(m, s));
    return r.b != NULL;
}
