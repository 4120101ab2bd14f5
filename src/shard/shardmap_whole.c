/*
 * shardmap_whole.c — the sharded map's operations on every shard: range
 * (one shard at a time), and len, snapshot and clear, which hold every shard
 * at once (taken in index order, see shardmap_internal.h) and so see or
 * change the map at one instant.
 */
#include <errno.h>
#include <string.h>

#include "shard/shardmap_internal.h"

/* ---- range ------------------------------------------------------------------------ */

typedef struct {
    bool (*fn)(const void *key, const void *val, void *ctx);
    void *ctx;
} range_call;

static int range_entry(const void *key, void *val, void *arg)
{
    const range_call *c = arg;
    return !c->fn(key, val, c->ctx);
}

void gomap_shard_range(gomap_shard_t *m, bool (*fn)(const void *key, const void *val, void *ctx),
                       void *ctx)
{
    if (!m || !fn)
        return;
    shard_reentry_check(m, GOMAP_CALLER);
    range_call c = {fn, ctx};
    int stop = 0;
    for (unsigned i = 0; i < m->nshards && !stop; i++) {
        struct shard *s = &m->shards[i];
        shard_take(m, s, true);
        shard_hold(m, s, GOMAP_CALLER);
        stop = gomap__for_each_entry(s->map, range_entry, &c);
        shard_unhold();
        shard_release(m, s);
    }
}

/* ---- len, clear ------------------------------------------------------------------- */

size_t gomap_shard_len(gomap_shard_t *m)
{
    if (!m)
        return 0;
    shard_reentry_check(m, GOMAP_CALLER);
    gomap__shard_take_all(m, true);
    size_t n = 0;
    for (unsigned i = 0; i < m->nshards; i++)
        n += layer_len(m->shards[i].map);
    gomap__shard_release_all(m);
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
    gomap__shard_take_all(m, false);
    for (unsigned i = 0; i < m->nshards; i++) {
        if (m->optimistic)
            clear_by_deleting(m->shards[i].map, m->key_kind);
        else
            gomap_clear(m->shards[i].map); /* fixed seed: never reseeded */
    }
    gomap__shard_release_all(m);
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

/* Clones every non-empty shard into clones[] (NULL for empty ones) while
 * holding them all. Sets *total to the entries cloned. 0 or -ENOMEM (no
 * clone left). */
static int clone_all(gomap_shard_t *m, gomap_t **clones, unsigned n, size_t *total)
{
    int rc = 0;
    *total = 0;
    gomap__shard_take_all(m, true);
    for (unsigned i = 0; i < n && rc == 0; i++) {
        const gomap_t *map = m->shards[i].map;
        clones[i] = NULL;
        if (layer_len(map)) {
            rc = gomap_clone(&clones[i], map);
            *total += layer_len(map);
        }
    }
    gomap__shard_release_all(m);
    if (rc)
        free_clones(clones, n);
    return rc;
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
    const unsigned n = m->nshards; /* fixed for the map's life */
    size_t bytes = (size_t)n * sizeof(gomap_t *);
    gomap_t **clones = gomap__alloc(m->opt.alloc, bytes);
    if (!clones)
        return -ENOMEM;
    memset(clones, 0, bytes);
    size_t total;
    int rc = clone_all(m, clones, n, &total);
    if (rc == 0) {
        rc = merge(m, clones, n, total, out);
        free_clones(clones, n);
    }
    gomap__free(m->opt.alloc, clones, bytes);
    return rc;
}
