/*
 * shardmap_whole.c — the sharded map's operations on every shard: range
 * (one shard at a time), and len, snapshot and clear, which hold every shard
 * at once (taken in index order, see shardmap_internal.h) and so see or
 * change the map at one instant.
 */
#include <errno.h>
#include <string.h>

#include "base/rcu.h"
#include "shard/shardmap_internal.h"

/* ---- holding every shard ---------------------------------------------------------------- */

/* Pins the head found in a read-side section (it may be replaced and freed
 * once the section ends, but not while pinned). */
static struct shard_table *pin_head(gomap_shard_t *m)
{
    gomap__rcu_read_lock();
    struct shard_table *t = load_acquire(&m->table); /* its fields as made */
    table_pin(t);
    gomap__rcu_read_unlock();
    return t;
}

static void unlock_table(gomap_shard_t *m, struct shard_table *t, bool filled_only)
{
    for (unsigned i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        if (filled_only && !s->map)
            continue;
        if (!filled_only || !load_relaxed(&s->moved))
            shard_publish(s);
        shard_unlock(m, s);
    }
}

/* The head's shards, then (when some of them moved) the filled shards of
 * the move's target: no shard of the head moves while we hold them all, so
 * the target, reached through a moved shard, stays where it is, filled as
 * it is (its maps and t->next were written under the head shards' locks).
 * A head whose shards all moved has been replaced: start again. */
void gomap__shard_take_all(gomap_shard_t *m, bool shared, struct shard_whole *w)
{
    for (;;) {
        struct shard_table *t = pin_head(m);
        unsigned moved = 0;
        for (unsigned i = 0; i < t->nshards; i++) {
            shard_take(m, &t->shards[i], shared);
            moved += load_relaxed(&t->shards[i].moved); /* under its lock */
        }
        if (moved == t->nshards) {
            unlock_table(m, t, false);
            table_unpin(t);
            continue;
        }
        w->head = t;
        w->next = moved ? load_relaxed(&t->next) : NULL; /* ordered by the locks */
        if (w->next)
            for (unsigned j = 0; j < w->next->nshards; j++)
                if (w->next->shards[j].map)
                    shard_take(m, &w->next->shards[j], shared);
        return;
    }
}

/* Arrays that growth retired meanwhile (a clear's deletes may finish a
 * growth) are left for the shard's next write to free: freeing them here
 * would take shard i again while holding the shards after it. */
void gomap__shard_release_all(gomap_shard_t *m, struct shard_whole *w)
{
    if (w->next)
        unlock_table(m, w->next, true);
    unlock_table(m, w->head, false);
    table_unpin(w->head);
}

struct shard *gomap__shard_whole_next(const struct shard_whole *w, unsigned *cursor)
{
    while (*cursor < w->head->nshards) {
        struct shard *s = &w->head->shards[(*cursor)++];
        if (!load_relaxed(&s->moved))
            return s;
    }
    while (w->next && *cursor - w->head->nshards < w->next->nshards) {
        struct shard *s = &w->next->shards[(*cursor)++ - w->head->nshards];
        if (s->map)
            return s;
    }
    return NULL;
}

/* ---- range ------------------------------------------------------------------------ */

typedef struct {
    bool (*fn)(const void *key, const void *val, void *ctx);
    void *ctx;
    const gomap_t *map;       /* the map being walked */
    const struct shard_table *from; /* with old: only keys of from's shard old */
    unsigned old;
    bool filter;
    const void *site;         /* the public call's return address */
} range_call;

static int range_entry(const void *key, void *val, void *arg)
{
    const range_call *c = arg;
    /* A NaN key's hash is random: it cannot be placed, so it is visited
     * with each old shard of its group (docs/shardmap.md, "Resizing"). */
    if (c->filter && gomap__key_is_reflexive(c->map, key) &&
        table_shard(c->from, gomap__hash_key(c->map, key))->index != c->old)
        return 0;
    return !c->fn(key, val, c->ctx);
}

static int range_shard(gomap_shard_t *m, struct shard *s, range_call *c)
{
    shard_hold(m, s, c->site);
    c->map = s->map;
    int stop = gomap__for_each_entry(s->map, range_entry, c);
    shard_unhold();
    return stop;
}

/* Old shard i of t was moved: visits its keys where they went, the shards
 * of the target with index i modulo the smaller count (only i's keys: when
 * shrinking, those shards hold other old shards' keys too). t is pinned,
 * and not emptied, so its target is alive and not being moved. */
static int range_moved(gomap_shard_t *m, struct shard_table *t, unsigned i, range_call *c)
{
    struct shard_table *n = load_acquire(&t->next); /* set before i moved */
    unsigned g = t->nshards < n->nshards ? t->nshards : n->nshards;
    int stop = 0;
    c->from = t;
    c->old = i;
    c->filter = n->nshards < t->nshards;
    for (unsigned j = i & (g - 1); j < n->nshards && !stop; j += g) {
        struct shard *ns = &n->shards[j];
        shard_take(m, ns, true);
        stop = range_shard(m, ns, c);
        shard_unlock(m, ns);
    }
    c->filter = false;
    return stop;
}

void gomap_shard_range(gomap_shard_t *m, bool (*fn)(const void *key, const void *val, void *ctx),
                       void *ctx)
{
    if (!m || !fn)
        return;
    shard_reentry_check(m, GOMAP_CALLER);
    range_call c = {fn, ctx, NULL, NULL, 0, false, GOMAP_CALLER};
    struct shard_table *t = pin_head(m);
    int stop = 0;
    for (unsigned i = 0; i < t->nshards && !stop; i++) {
        struct shard *s = &t->shards[i];
        shard_take(m, s, true);
        if (load_relaxed(&s->moved)) { /* under its lock */
            shard_unlock(m, s);
            stop = range_moved(m, t, i, &c);
            continue;
        }
        stop = range_shard(m, s, &c);
        (void)shard_release(m, s); /* the auto mode waits for a keyed call */
    }
    table_unpin(t);
}

/* ---- len, clear ------------------------------------------------------------------- */

size_t gomap_shard_len(gomap_shard_t *m)
{
    if (!m)
        return 0;
    shard_reentry_check(m, GOMAP_CALLER);
    struct shard_whole w;
    gomap__shard_take_all(m, true, &w);
    size_t n = 0;
    unsigned cur = 0;
    for (struct shard *s; (s = gomap__shard_whole_next(&w, &cur)) != NULL;)
        n += layer_len(s->map);
    gomap__shard_release_all(m, &w);
    return n;
}

/* Empties a core map without freeing anything: every key deleted through
 * an iterator, as Go allows. Each key is copied out before its delete. */
static void clear_by_deleting(gomap_t *map, int kind)
{
    unsigned char key[GOMAP_INLINE_MAX];
    size_t key_bytes = key_slot_bytes(map, kind);
    gomap_iter it;
    const void *k;
    gomap_iter_init(&it, map);
    while (gomap_iter_next(&it, &k, NULL)) {
        memcpy(key, k, key_bytes);
        gomap_delete(map, key);
    }
    gomap_iter_done(&it);
}

/* On an optimistic map, gomap_clear would free bucket memory that a reader
 * that started before the clear may still walk, and waiting for those
 * readers while holding every shard could deadlock with a thread that waits
 * for a shard inside a read-side section. So its keys are deleted one by
 * one instead, which frees nothing (overflow buckets stay for reuse, as
 * Go's clear keeps the bucket array). */
void gomap_shard_clear(gomap_shard_t *m)
{
    if (!m)
        return;
    shard_reentry_check(m, GOMAP_CALLER);
    struct shard_whole w;
    gomap__shard_take_all(m, false, &w);
    unsigned cur = 0;
    for (struct shard *s; (s = gomap__shard_whole_next(&w, &cur)) != NULL;) {
        if (m->optimistic)
            clear_by_deleting(s->map, m->key_kind);
        else
            gomap_clear(s->map); /* fixed seed: never reseeded */
    }
    gomap__shard_release_all(m, &w);
}

/* ---- snapshot ------------------------------------------------------------------------ */

/* The shards are cloned while every one is held (a clone is a copy of the
 * bucket arrays, the cheapest consistent copy), then merged into one map
 * with no lock held. */

/* One entry of a shard's clone into the snapshot. No write bracket: the
 * snapshot is nobody else's yet, and the debug build's validation after
 * every bracketed write would make the merge quadratic. Keys of different
 * shards are distinct. */
static int merge_entry(const void *key, void *val, void *arg)
{
    gomap_t *into = arg;
    int rc = gomap__upsert_hashed(into, key, gomap__hash_key(into, key), val, true, NULL);
    return rc < 0 ? rc : 0;
}

static void free_clones(gomap_t **clones, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        gomap_free(clones[i]);
}

/* Clones every non-empty shard that holds entries into a new array
 * *clones of *n maps (NULL for empty ones) while holding them all. Sets
 * *total to the entries cloned. 0 or -ENOMEM (nothing left). */
static int clone_all(gomap_shard_t *m, gomap_t ***clones, unsigned *n, size_t *total)
{
    int rc = 0;
    *total = 0;
    struct shard_whole w;
    gomap__shard_take_all(m, true, &w);
    unsigned live = 0, cur = 0;
    while (gomap__shard_whole_next(&w, &cur))
        live++;
    size_t bytes = (size_t)live * sizeof(gomap_t *);
    gomap_t **c = gomap__alloc(m->opt.alloc, bytes);
    if (c) {
        memset(c, 0, bytes);
        cur = 0;
        for (unsigned i = 0; i < live && rc == 0; i++) {
            const gomap_t *map = gomap__shard_whole_next(&w, &cur)->map;
            if (layer_len(map)) {
                rc = gomap_clone(&c[i], map);
                *total += layer_len(map);
            }
        }
    }
    gomap__shard_release_all(m, &w);
    if (!c)
        return -ENOMEM;
    if (rc) {
        free_clones(c, live);
        gomap__free(m->opt.alloc, c, bytes);
        return rc;
    }
    *clones = c;
    *n = live;
    return 0;
}

/* One map with the entries of every clone: the only non-empty clone itself
 * when there is one (its seed made its own again), else a new map. */
static int merge(gomap_shard_t *m, gomap_t **clones, unsigned n, size_t total, gomap_t **out)
{
    unsigned nonempty = 0, last = 0;
    for (unsigned i = 0; i < n; i++)
        if (clones[i]) {
            nonempty++;
            last = i;
        }
    if (nonempty == 1) {
        *out = clones[last];
        clones[last] = NULL;
        gomap__seed_unfix(*out);
        return 0;
    }
    gomap_options o = m->opt;
    o.hint = total;
    o.mem_limit = 0;
    int rc = gomap_new(out, &o);
    for (unsigned i = 0; i < n && rc == 0; i++)
        if (clones[i])
            rc = gomap__for_each_entry(clones[i], merge_entry, *out);
    if (rc) {
        gomap_free(*out);
        *out = NULL;
    }
    return rc;
}

int gomap_shard_snapshot(gomap_shard_t *m, gomap_t **out)
{
    if (out)
        *out = NULL;
    if (!m || !out)
        return -EINVAL;
    shard_reentry_check(m, GOMAP_CALLER);
    gomap_t **clones;
    unsigned n;
    size_t total;
    int rc = clone_all(m, &clones, &n, &total);
    if (rc != 0)
        return rc;
    rc = merge(m, clones, n, total, out);
    free_clones(clones, n);
    gomap__free(m->opt.alloc, clones, (size_t)n * sizeof(gomap_t *));
    return rc;
}
