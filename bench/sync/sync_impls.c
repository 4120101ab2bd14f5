/*
 * sync_impls.c — the in-process contenders of the concurrent suite:
 *
 *   gomap-sync  gomap_sync_t (gomap/syncmap.h), u64 keys, 8-byte values;
 *   mutex-map   a core gomap_t behind one pthread_mutex_t, every operation
 *               under it: Go's RWMutexMap baseline (map_reference_test.go);
 *   rwlock-map  the same behind a pthread_rwlock_t, loads under the read
 *               lock as RWMutexMap does (not run unless --impls names it).
 *
 * The locked maps' Range copies the pairs under the lock and calls fn on
 * the copy with the lock released, so fn may call back into the map (Go's
 * RWMutexMap copies the keys and reloads each one).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include <gomap.h>
#include <gomap/syncmap.h>

#include "sync/sync_workloads.h"

/* ---- gomap-sync --------------------------------------------------------- */

static void *gs_create(void)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t)};
    gomap_sync_t *m;
    return gomap_sync_new(&m, &o) == 0 ? m : NULL;
}

static void gs_destroy(void *m) { gomap_sync_free(m); }

static bool gs_load(void *m, uint64_t key, uint64_t *val)
{
    return gomap_sync_load(m, &key, val);
}

static int gs_store(void *m, uint64_t key, uint64_t val)
{
    return gomap_sync_store(m, &key, &val);
}

static int gs_load_or_store(void *m, uint64_t key, uint64_t val, uint64_t *actual, bool *loaded)
{
    return gomap_sync_load_or_store(m, &key, &val, actual, loaded);
}

static bool gs_load_and_delete(void *m, uint64_t key, uint64_t *val)
{
    return gomap_sync_load_and_delete(m, &key, val);
}

static void gs_del(void *m, uint64_t key) { gomap_sync_delete(m, &key); }

static int gs_range(void *m, bool (*fn)(const void *, const void *, void *), void *ctx)
{
    gomap_sync_range(m, fn, ctx);
    return 0;
}

static size_t gs_len(void *m) { return gomap_sync_len(m); }

static int64_t gs_retired(void *m)
{
    gomap_sync_stats_t st;
    return gomap_sync_stats(m, &st) == 0 ? (int64_t)st.retired_bytes : -1;
}

static const sync_ops gs_ops = {gs_load, gs_store, gs_load_or_store, gs_load_and_delete,
                                gs_del, gs_range};
SYNC_INSTANTIATE(gs, gs_ops)

static const sync_impl sync_impl_gomap = {
    .name = "gomap-sync",
    .what = "gomap_sync_t (gomap/syncmap.h), u64 keys, 8-byte values",
    .by_default = true,
    .create = gs_create,
    .destroy = gs_destroy,
    .setup = gs_setup,
    .body = gs_body,
    .len = gs_len,
    .retired = gs_retired,
};

/* ---- a core map behind a lock ------------------------------------------ */

/* The lock, the map and nothing else on the lock's cache lines. */
typedef struct {
    _Alignas(64) pthread_mutex_t mu;
    pthread_rwlock_t rw;
    gomap_t *map;
} locked_map;

static void *lm_create(void)
{
    gomap_options o = {.key_kind = GOMAP_KEY_U64, .val_size = sizeof(uint64_t)};
    locked_map *lm = aligned_alloc(64, sizeof *lm);
    if (!lm)
        return NULL;
    if (gomap_new(&lm->map, &o) != 0) {
        free(lm);
        return NULL;
    }
    pthread_mutex_init(&lm->mu, NULL);
    pthread_rwlock_init(&lm->rw, NULL);
    return lm;
}

static void lm_destroy(void *m)
{
    locked_map *lm = m;
    gomap_free(lm->map);
    pthread_mutex_destroy(&lm->mu);
    pthread_rwlock_destroy(&lm->rw);
    free(lm);
}

/* `rw` is a constant in every caller: the branch folds away. */
static inline void lm_lock(locked_map *lm, bool rw, bool write)
{
    if (!rw)
        pthread_mutex_lock(&lm->mu);
    else if (write)
        pthread_rwlock_wrlock(&lm->rw);
    else
        pthread_rwlock_rdlock(&lm->rw);
}

static inline void lm_unlock(locked_map *lm, bool rw)
{
    if (rw)
        pthread_rwlock_unlock(&lm->rw);
    else
        pthread_mutex_unlock(&lm->mu);
}

static inline bool lm_load(void *m, bool rw, uint64_t key, uint64_t *val)
{
    locked_map *lm = m;
    lm_lock(lm, rw, false);
    const uint64_t *v = gomap_get_u64(lm->map, key);
    *val = v ? *v : 0;
    lm_unlock(lm, rw);
    return v != NULL;
}

static inline int lm_store(void *m, bool rw, uint64_t key, uint64_t val)
{
    locked_map *lm = m;
    lm_lock(lm, rw, true);
    int rc = gomap_set_u64(lm->map, key, &val);
    lm_unlock(lm, rw);
    return rc;
}

static inline int lm_load_or_store(void *m, bool rw, uint64_t key, uint64_t val,
                                   uint64_t *actual, bool *loaded)
{
    locked_map *lm = m;
    int rc = 0;
    lm_lock(lm, rw, true);
    const uint64_t *v = gomap_get_u64(lm->map, key);
    *loaded = v != NULL;
    if (v)
        *actual = *v;
    else if ((rc = gomap_set_u64(lm->map, key, &val)) == 0)
        *actual = val;
    lm_unlock(lm, rw);
    return rc;
}

static inline bool lm_load_and_delete(void *m, bool rw, uint64_t key, uint64_t *val)
{
    locked_map *lm = m;
    lm_lock(lm, rw, true);
    const uint64_t *v = gomap_get_u64(lm->map, key);
    *val = v ? *v : 0;
    if (v)
        gomap_delete_u64(lm->map, key);
    lm_unlock(lm, rw);
    return v != NULL;
}

static inline void lm_del(void *m, bool rw, uint64_t key)
{
    locked_map *lm = m;
    lm_lock(lm, rw, true);
    gomap_delete_u64(lm->map, key);
    lm_unlock(lm, rw);
}

/* Copies the pairs under the (read) lock, then calls fn without it. */
static inline int lm_range(void *m, bool rw, bool (*fn)(const void *, const void *, void *),
                           void *ctx)
{
    locked_map *lm = m;
    lm_lock(lm, rw, false);
    size_t n = gomap_len(lm->map), k = 0;
    uint64_t(*pairs)[2] = malloc((n ? n : 1) * sizeof *pairs);
    if (!pairs) {
        lm_unlock(lm, rw);
        return -ENOMEM;
    }
    gomap_iter it;
    const void *key;
    void *val;
    gomap_iter_init(&it, lm->map);
    while (k < n && gomap_iter_next(&it, &key, &val)) {
        pairs[k][0] = sync_u64_at(key);
        pairs[k++][1] = sync_u64_at(val);
    }
    gomap_iter_done(&it);
    lm_unlock(lm, rw);
    for (size_t i = 0; i < k && fn(&pairs[i][0], &pairs[i][1], ctx); i++)
        ;
    free(pairs);
    return 0;
}

static size_t lm_len(void *m) { return gomap_len(((locked_map *)m)->map); }

/* The operations of both locks, from the code above with `rw` fixed. */
#define LOCKED_OPS(prefix, rw)                                                                 \
    static bool prefix##_load(void *m, uint64_t k, uint64_t *v) { return lm_load(m, rw, k, v); } \
    static int prefix##_store(void *m, uint64_t k, uint64_t v) { return lm_store(m, rw, k, v); } \
    static int prefix##_load_or_store(void *m, uint64_t k, uint64_t v, uint64_t *a, bool *l)   \
    {                                                                                          \
        return lm_load_or_store(m, rw, k, v, a, l);                                            \
    }                                                                                          \
    static bool prefix##_load_and_delete(void *m, uint64_t k, uint64_t *v)                     \
    {                                                                                          \
        return lm_load_and_delete(m, rw, k, v);                                                \
    }                                                                                          \
    static void prefix##_del(void *m, uint64_t k) { lm_del(m, rw, k); }                        \
    static int prefix##_range(void *m, bool (*fn)(const void *, const void *, void *), void *c) \
    {                                                                                          \
        return lm_range(m, rw, fn, c);                                                         \
    }                                                                                          \
    static const sync_ops prefix##_ops = {prefix##_load,   prefix##_store,                     \
                                          prefix##_load_or_store, prefix##_load_and_delete,    \
                                          prefix##_del,    prefix##_range};                    \
    SYNC_INSTANTIATE(prefix, prefix##_ops)

LOCKED_OPS(mx, false)
LOCKED_OPS(rw, true)

static const sync_impl sync_impl_mutex = {
    .name = "mutex-map",
    .what = "gomap_t behind a pthread_mutex_t (Go's RWMutexMap baseline)",
    .by_default = true,
    .create = lm_create,
    .destroy = lm_destroy,
    .setup = mx_setup,
    .body = mx_body,
    .len = lm_len,
};

static const sync_impl sync_impl_rwlock = {
    .name = "rwlock-map",
    .what = "gomap_t behind a pthread_rwlock_t, loads under the read lock",
    .create = lm_create,
    .destroy = lm_destroy,
    .setup = rw_setup,
    .body = rw_body,
    .len = lm_len,
};

const sync_impl *const sync_impls[] = {&sync_impl_gomap, &sync_impl_mutex, &sync_impl_rwlock,
                                       NULL};
