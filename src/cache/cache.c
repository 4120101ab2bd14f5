/*
 * cache.c — the cache's life cycle and its keyed operations.
 *
 * Each keyed call checks its arguments, hashes the key once (the hash picks
 * the shard and serves the shard's core map), reads the clock, takes the
 * shard's mutex for its whole effect, and releases it through
 * gomap__cache_unlock_notify, which runs on_remove for what the call removed
 * with no lock held. Writes also work off a little of the shard's wheel
 * when a tick has passed: 8 entries, more while the wheel falls behind
 * (gomap__wheel_write_work), never over 128. The layout and the other
 * files are in cache_internal.h.
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/keys.h"
#include "base/rand.h"
#include "cache/cache_internal.h"

/* A bounded cache's automatic shard count never gives a shard less than
 * this much of max_cost. */
#define MIN_SHARD_COST 4096u

static uint64_t monotonic_ns(void *ctx)
{
    (void)ctx;
    return cache_mono_ns();
}

/* ---- life cycle ------------------------------------------------------------------- */

static unsigned auto_shards(uint64_t max_cost)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    unsigned want = cpus > 0 ? 4 * (unsigned)cpus : 4, n = 1;
    while (n < want && n < GOMAP_CACHE_SHARDS_MAX)
        n *= 2;
    while (max_cost && n > 1 && max_cost / n < MIN_SHARD_COST)
        n /= 2;
    return n;
}

static int check_options(const gomap_cache_options *opt)
{
    if (opt->map.mem_limit != 0 || gomap__options_check(&opt->map))
        return -EINVAL;
    unsigned n = opt->shards;
    if (n > GOMAP_CACHE_SHARDS_MAX || (n & (n - 1)))
        return -EINVAL;
    if (opt->max_cost && n && opt->max_cost < n)
        return -EINVAL; /* some shard could not hold an entry of cost 1 */
    return 0;
}

static void shard_destroy(gomap_cache_t *c, struct cache_shard *s)
{
    gomap__policy_destroy(c, s);
    gomap__cache_entries_destroy(c, s);
    gomap_free(s->loads);
    gomap_free(s->map);
    pthread_mutex_destroy(&s->mu);
}

static int shard_init(gomap_cache_t *c, struct cache_shard *s, unsigned idx, uint64_t now)
{
    memset(s, 0, sizeof *s);
    s->ents.free_head = CACHE_NONE;
    s->max_cost = c->max_cost ? c->max_cost / c->nshards + (idx < c->max_cost % c->nshards) : 0;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    int rc = pthread_mutex_init(&s->mu, &a);
    pthread_mutexattr_destroy(&a);
    if (rc)
        return -ENOMEM;
    gomap__wheel_init(&s->wheel, now);
    if (gomap__new_seeded(&s->map, &c->map_opt, c->seed) ||
        gomap__policy_init(c, s, idx == 0)) {
        shard_destroy(c, s);
        return -ENOMEM;
    }
    gomap__cache_publish(s);
    return 0;
}

/* The cache and its shards in one block, the shards on cache lines of
 * their own. */
static size_t block_size(unsigned n) { return sizeof(gomap_cache_t) + 64 + n * sizeof(struct cache_shard); }

int gomap_cache_new(gomap_cache_t **out, const gomap_cache_options *opt)
{
    if (out)
        *out = NULL;
    if (!out || !opt || check_options(opt))
        return -EINVAL;
    unsigned n = opt->shards ? opt->shards : auto_shards(opt->max_cost);
    gomap_cache_t *c = gomap__alloc(opt->map.alloc, block_size(n));
    if (!c)
        return -ENOMEM;
    memset(c, 0, sizeof *c);
    uintptr_t at = ((uintptr_t)(c + 1) + 63) & ~(uintptr_t)63;
    c->shards = (struct cache_shard *)at;
    c->nshards = n;
    c->mask = n - 1;
    c->alloc = opt->map.alloc;
    c->map_opt = opt->map;
    c->map_opt.val_size = sizeof(uint32_t);
    c->map_opt.hint = opt->map.hint / n;
    gomap__cache_layout_init(&c->lay, &opt->map);
    c->seed = gomap__rand64();
    c->hasher = gomap__hasher_for(&c->map_opt, c->seed);
    c->max_cost = opt->max_cost;
    c->max_entry_cost = opt->max_cost ? opt->max_cost / n : UINT64_MAX;
    c->ttl_ns = opt->ttl_ns;
    c->clock = opt->clock ? opt->clock : monotonic_ns;
    c->clock_ctx = opt->clock_ctx;
    c->on_remove = opt->on_remove;
    c->remove_ctx = opt->remove_ctx;
    atomic_init(&c->window_permille, 10);
    atomic_init(&c->scheduled, 0);
    atomic_init(&c->invalid, 0);
    uint64_t now = cache_now(c);
    for (unsigned i = 0; i < n; i++) {
        if (shard_init(c, &c->shards[i], i, now)) {
            while (i--)
                shard_destroy(c, &c->shards[i]);
            gomap__free(c->alloc, c, block_size(n));
            return -ENOMEM;
        }
    }
    if (opt->maintenance_thread) {
        int rc = gomap__maint_start(c);
        if (rc) {
            for (unsigned i = 0; i < n; i++)
                shard_destroy(c, &c->shards[i]);
            gomap__free(c->alloc, c, block_size(n));
            return rc;
        }
    }
    *out = c;
    return 0;
}

/* Removes every entry of a shard (held by the caller) onto nl. */
static void shard_empty(gomap_cache_t *c, struct cache_shard *s, uint64_t now,
                        struct cache_notify *nl)
{
    for (uint32_t i = 0; i < s->ents.used; i++) {
        struct cache_entry *e = entry_at(c, s, i);
        if (e->queue <= Q_PROTECTED)
            gomap__cache_entry_remove_unhashed(
                c, s, i, entry_live(e, now) ? GOMAP_CACHE_DELETED : GOMAP_CACHE_EXPIRED, nl);
    }
}

void gomap_cache_clear(gomap_cache_t *c)
{
    if (!c)
        return;
    for (unsigned k = 0; k < c->nshards; k++) {
        struct cache_shard *s = &c->shards[k];
        uint64_t now = cache_now(c);
        struct cache_notify nl;
        notify_init(&nl, s);
        cache_lock(s);
        shard_empty(c, s, now, &nl);
        gomap__cache_unlock_notify(c, &nl);
    }
}

void gomap_cache_free(gomap_cache_t *c)
{
    if (!c)
        return;
    gomap__maint_stop(c);
    gomap_cache_clear(c);
    for (unsigned k = 0; k < c->nshards; k++)
        shard_destroy(c, &c->shards[k]);
    gomap__free(c->alloc, c, block_size(c->nshards));
}

/* ---- lookups ----------------------------------------------------------------------- */

/* The index of a key in a shard's map, with the kind a constant (the
 * core's own lookup code for that kind). */
#define FIND_KIND(kind) find_kind(s->map, kind, key, hash)
static inline uint32_t find_kind(const gomap_t *m, int kind, const void *key, uint64_t hash)
{
    slot_ref r = layer_find(m, kind, key, hash);
    if (!r.b)
        return CACHE_NONE;
    uint32_t i;
    memcpy(&i, layer_value(m, r), sizeof i);
    return i;
}

void gomap__cache_op_begin(gomap_cache_t *c, const void *key, struct cache_op *op)
{
    op->hash = cache_hash(c, key);
    op->s = cache_shard_for(c, op->hash);
    op->now = cache_now(c);
    notify_init(&op->nl, op->s);
    cache_lock(op->s);
    op->i = gomap__cache_find(c, op->s, key, op->hash);
}

uint32_t gomap__cache_find(gomap_cache_t *c, struct cache_shard *s, const void *key,
                           uint64_t hash)
{
    return find_kind(s->map, c->lay.key_kind, key, hash);
}

/* gomap_cache_get of a valid key. */
static inline __attribute__((always_inline)) bool get_valid(gomap_cache_t *c, const void *key,
                                                            void *val_out)
{
    size_t vs = c->lay.val_size;
    uint64_t hash = cache_hash(c, key);
    struct cache_shard *s = cache_shard_for(c, hash);
    cache_lock(s);
    uint32_t i;
    KIND_SWITCH(c->lay.key_kind, i, FIND_KIND);
    bool hit = false;
    if (i != CACHE_NONE) {
        struct cache_entry *e = entry_at(c, s, i);
        /* The clock is read only for an entry that can expire. */
        if (e->deadline == CACHE_NEVER || entry_live(e, cache_now(c))) {
            hit = true;
            if (val_out)
                copy_slot_bytes(val_out, entry_val(c, e), vs);
            gomap__policy_hit(c, s, i, hash);
        }
    }
    if (hit) {
        cache_count(&s->n.hits, 1);
    } else {
        cache_count(&s->n.misses, 1);
        gomap__policy_miss(c, s, hash);
    }
    cache_unlock(s);
    if (!hit && val_out && vs)
        memset(val_out, 0, vs);
    return hit;
}

/* A get that is timed (latency.h): out of line, so that the untimed ones
 * keep no start time across the lookup. */
__attribute__((noinline)) static bool timed_get(gomap_cache_t *c, const void *key, void *val_out)
{
    uint64_t t0 = lat_now_ns();
    bool hit = get_valid(c, key, val_out);
    gomap__lat_add(&c->lat_get, lat_now_ns() - t0);
    return hit;
}

bool gomap_cache_get(gomap_cache_t *c, const void *key, void *val_out)
{
    if (!c || !gomap__key_ok(c->lay.key_kind, key)) {
        if (val_out && c && c->lay.val_size)
            memset(val_out, 0, c->lay.val_size);
        return false;
    }
    if (__builtin_expect(lat_due(), 0))
        return timed_get(c, key, val_out);
    return get_valid(c, key, val_out);
}

int64_t gomap_cache_ttl(gomap_cache_t *c, const void *key)
{
    if (!c || !gomap__key_ok(c->lay.key_kind, key))
        return -EINVAL;
    uint64_t hash = cache_hash(c, key);
    struct cache_shard *s = cache_shard_for(c, hash);
    uint64_t now = cache_now(c);
    cache_lock(s);
    uint32_t i = gomap__cache_find(c, s, key, hash);
    uint64_t deadline = i == CACHE_NONE ? 0 : entry_at(c, s, i)->deadline;
    cache_unlock(s);
    if (deadline <= now)
        return -ENOENT;
    if (deadline == CACHE_NEVER)
        return GOMAP_CACHE_TTL_FOREVER;
    uint64_t left = deadline - now;
    return left >= (uint64_t)INT64_MAX ? INT64_MAX - 1 : (int64_t)left;
}

size_t gomap_cache_len(gomap_cache_t *c)
{
    if (!c)
        return 0;
    size_t n = 0;
    for (unsigned k = 0; k < c->nshards; k++)
        cache_lock(&c->shards[k]);
    for (unsigned k = 0; k < c->nshards; k++)
        n += layer_len(c->shards[k].map);
    for (unsigned k = c->nshards; k-- > 0;)
        cache_unlock(&c->shards[k]);
    return n;
}

uint64_t gomap_cache_max_entry_cost(const gomap_cache_t *c) { return c ? c->max_entry_cost : 0; }

unsigned gomap_cache_shards(const gomap_cache_t *c) { return c ? c->nshards : 0; }

/* ---- writes -------------------------------------------------------------------------- */

uint64_t gomap__cache_deadline(const gomap_cache_t *c, uint64_t ttl_ns, uint64_t now)
{
    if (ttl_ns == 0)
        ttl_ns = c->ttl_ns;
    if (ttl_ns == 0 || ttl_ns == GOMAP_CACHE_NO_EXPIRY)
        return CACHE_NEVER;
    if (ttl_ns >= CACHE_NEVER - now)
        return 0; /* the deadline would not fit (or would read as "never") */
    return now + ttl_ns;
}

/* Fills a fresh entry for key: 0, or -ENOMEM with nothing allocated. */
static int entry_make(gomap_cache_t *c, struct cache_shard *s, const void *key, const void *val,
                      uint64_t deadline, uint64_t cost, uint32_t *out)
{
    uint32_t j = gomap__cache_entry_new(c, s);
    if (j == CACHE_NONE)
        return -ENOMEM;
    struct cache_entry *e = entry_at(c, s, j);
    if (gomap__cache_entry_set_key(c, s, e, key)) {
        gomap__cache_entry_free(c, s, j);
        return -ENOMEM;
    }
    if (c->lay.val_size)
        memcpy(entry_val(c, e), val, c->lay.val_size);
    e->deadline = deadline;
    e->cost = cost;
    e->queue = Q_WINDOW;
    *out = j;
    return 0;
}

static void schedule(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t now)
{
    if (entry_at(c, s, i)->deadline != CACHE_NEVER)
        gomap__wheel_schedule(c, s, i, now);
}

/* A new key. */
static int store_new(gomap_cache_t *c, struct cache_shard *s, const void *key, uint64_t hash,
                     const void *val, uint64_t deadline, uint64_t cost, uint64_t now,
                     struct cache_notify *nl)
{
    uint32_t j;
    int rc = entry_make(c, s, key, val, deadline, cost, &j);
    if (rc)
        return rc;
    rc = gomap__upsert_hashed(s->map, key, hash, &j, true, NULL);
    if (rc < 0) {
        gomap__cache_entry_free(c, s, j);
        return rc;
    }
    s->cost += cost;
    schedule(c, s, j, now);
    gomap__policy_insert(c, s, j, hash, nl);
    return 0;
}

/* A present key, overwritten in place (no on_remove to show the old value
 * to). */
static void store_in_place(gomap_cache_t *c, struct cache_shard *s, uint32_t i, uint64_t hash,
                           const void *val, uint64_t deadline, uint64_t cost, uint64_t now,
                           struct cache_notify *nl)
{
    struct cache_entry *e = entry_at(c, s, i);
    cache_count(&s->n.removed[entry_live(e, now) ? GOMAP_CACHE_REPLACED : GOMAP_CACHE_EXPIRED], 1);
    gomap__policy_hit(c, s, i, hash);
    if (c->lay.val_size)
        memcpy(entry_val(c, e), val, c->lay.val_size);
    if (e->deadline != deadline) {
        gomap__wheel_cancel(c, s, i);
        e->deadline = deadline;
        schedule(c, s, i, now);
    }
    uint64_t old = e->cost;
    e->cost = cost;
    s->cost += cost - old; /* modulo 2^64: exact */
    gomap__policy_update(c, s, i, old, nl);
}

/* A present key whose old entry goes to on_remove: a new entry takes its
 * place in the map and in the policy. */
static int store_replacing(gomap_cache_t *c, struct cache_shard *s, slot_ref at, const void *key,
                           uint64_t hash, const void *val, uint64_t deadline, uint64_t cost,
                           uint64_t now, struct cache_notify *nl)
{
    uint32_t i;
    memcpy(&i, layer_value(s->map, at), sizeof i);
    uint32_t j;
    int rc = entry_make(c, s, key, val, deadline, cost, &j);
    if (rc)
        return rc;
    struct cache_entry *old = entry_at(c, s, i);
    gomap_cache_cause cause = entry_live(old, now) ? GOMAP_CACHE_REPLACED : GOMAP_CACHE_EXPIRED;
    gomap__policy_hit(c, s, i, hash);
    memcpy(layer_value(s->map, at), &j, sizeof j); /* entry_make never writes the map */
    s->cost += cost;
    schedule(c, s, j, now);
    gomap__policy_take_place(c, s, i, j);
    /* The old entry is no longer in the map: detach it by hand. */
    gomap__wheel_cancel(c, s, i);
    s->cost -= old->cost;
    cache_count(&s->n.removed[cause], 1);
    gomap__cache_entry_detach(c, s, i, cause, nl);
    gomap__policy_evict(c, s, j, nl);
    return 0;
}

int gomap__cache_store(gomap_cache_t *c, struct cache_shard *s, const void *key, uint64_t hash,
                       const void *val, uint64_t deadline, uint64_t cost, uint64_t now,
                       struct cache_notify *nl)
{
    slot_ref at = layer_find(s->map, c->lay.key_kind, key, hash);
    int rc = 0;
    if (!at.b) {
        rc = store_new(c, s, key, hash, val, deadline, cost, now, nl);
    } else if (c->on_remove) {
        rc = store_replacing(c, s, at, key, hash, val, deadline, cost, now, nl);
    } else {
        uint32_t i;
        memcpy(&i, layer_value(s->map, at), sizeof i);
        store_in_place(c, s, i, hash, val, deadline, cost, now, nl);
    }
    if (rc) {
        cache_count(&s->n.rejected, 1);
        return rc;
    }
    cache_count(&s->n.sets, 1);
    /* After the store, so that a set that fails has changed nothing (not
     * even reclaimed an expired entry). */
    if (wheel_due(&s->wheel, now))
        gomap__wheel_write_work(c, s, now, nl);
    return 0;
}

static bool nan_key(const gomap_cache_t *c, const void *key)
{
    if (c->lay.key_kind != GOMAP_KEY_F64)
        return false;
    double d;
    memcpy(&d, key, sizeof d);
    return d != d;
}

int gomap_cache_set_cost(gomap_cache_t *c, const void *key, const void *val, uint64_t ttl_ns,
                         uint64_t cost)
{
    if (!c)
        return -EINVAL;
    uint64_t now = 0, deadline = 0;
    if (!gomap__key_ok(c->lay.key_kind, key) || (!val && c->lay.val_size) || cost == 0 ||
        cost > c->max_entry_cost || nan_key(c, key) ||
        (deadline = gomap__cache_deadline(c, ttl_ns, now = cache_now(c))) == 0) {
        fetch_add_relaxed(&c->invalid, 1);
        return -EINVAL;
    }
    uint64_t t0 = lat_start();
    uint64_t hash = cache_hash(c, key);
    struct cache_shard *s = cache_shard_for(c, hash);
    struct cache_notify nl;
    notify_init(&nl, s);
    cache_lock(s);
    int rc = gomap__cache_store(c, s, key, hash, val, deadline, cost, now, &nl);
    gomap__cache_unlock_notify(c, &nl);
    if (rc == 0 && deadline != CACHE_NEVER)
        gomap__maint_kick(c);
    lat_stop(&c->lat_write, t0);
    return rc;
}

int gomap_cache_set(gomap_cache_t *c, const void *key, const void *val, uint64_t ttl_ns)
{
    return gomap_cache_set_cost(c, key, val, ttl_ns, 1);
}

bool gomap_cache_delete(gomap_cache_t *c, const void *key)
{
    if (!c || !gomap__key_ok(c->lay.key_kind, key))
        return false;
    uint64_t t0 = lat_start();
    struct cache_op op;
    gomap__cache_op_begin(c, key, &op);
    bool live = false;
    if (op.i != CACHE_NONE) {
        live = entry_live(entry_at(c, op.s, op.i), op.now);
        gomap__cache_entry_remove(c, op.s, op.i, op.hash,
                                  live ? GOMAP_CACHE_DELETED : GOMAP_CACHE_EXPIRED, &op.nl);
    }
    gomap__cache_unlock_notify(c, &op.nl);
    lat_stop(&c->lat_write, t0);
    return live;
}
