/*
 * impl_layers.c — the sharded map and the cache as single-suite
 * contenders, driven by one thread: what their writes cost beside the core
 * map's, growth included (the insert-latency workload times every insert).
 * Opt-in (--impls gomap-shard,gomap-cache): they are not single-threaded
 * tables, and the cache has no iteration (the iterate workload refuses it).
 * Both are unbounded, with no expiry, so every insert is a growing write.
 */
#include "common/bench.h"

#include <stdlib.h>

#include <gomap.h>

static gomap_options layer_options(bench_key_type type, size_t hint)
{
    return (gomap_options){
        .key_kind = type == KEYS_U64 ? GOMAP_KEY_U64 : GOMAP_KEY_STR,
        .val_size = sizeof(uint64_t),
        .hint = hint,
    };
}

/* Key i of ks as the layers take keys: a u64 or a gomap_str. */
typedef union {
    uint64_t u64;
    gomap_str str;
} layer_key;

static const void *key_at(const bench_keyset *ks, size_t i, layer_key *k)
{
    if (ks->type == KEYS_U64) {
        k->u64 = ks->u64[i];
        return &k->u64;
    }
    k->str = (gomap_str){ks->str[i].ptr, ks->str[i].len};
    return &k->str;
}

/* A layer's calls, and a map of it as the benchmark holds it. */
typedef struct {
    int (*set)(void *m, const void *key, const void *val);
    bool (*get)(void *m, const void *key, void *val_out);
    bool (*del)(void *m, const void *key);
    size_t (*len)(void *m);
    void (*destroy)(void *m);
} layer_ops;

typedef struct {
    const layer_ops *ops;
    void *m;
} layer_map;

static void *wrap(const layer_ops *ops, void *m)
{
    layer_map *lm = m ? malloc(sizeof *lm) : NULL;
    if (!lm) {
        if (m)
            ops->destroy(m);
        return NULL;
    }
    *lm = (layer_map){ops, m};
    return lm;
}

static void ly_destroy(void *map)
{
    layer_map *lm = map;
    lm->ops->destroy(lm->m);
    free(lm);
}

static void ly_insert(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    layer_map *lm = map;
    layer_key k;
    for (size_t i = from; i < to; i++) {
        uint64_t v = bench_value_of(i);
        lm->ops->set(lm->m, key_at(ks, i, &k), &v);
    }
}

static uint64_t ly_lookup(void *map, const bench_keyset *q, size_t from, size_t to)
{
    layer_map *lm = map;
    layer_key k;
    uint64_t sum = 0;
    for (size_t j = from; j < to; j++) {
        uint64_t v;
        if (lm->ops->get(lm->m, key_at(q, j, &k), &v))
            sum += v;
    }
    return sum;
}

static size_t ly_erase(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    layer_map *lm = map;
    layer_key k;
    size_t found = 0;
    for (size_t i = from; i < to; i++)
        found += lm->ops->del(lm->m, key_at(ks, i, &k));
    return found;
}

static size_t ly_len(void *map)
{
    layer_map *lm = map;
    return lm->ops->len(lm->m);
}

/* ---- the sharded map ------------------------------------------------------------- */

static int sh_set(void *m, const void *key, const void *val)
{
    return gomap_shard_set(m, key, val);
}
static bool sh_get(void *m, const void *key, void *out)
{
    return gomap_shard_get(m, key, out);
}
static bool sh_del(void *m, const void *key)
{
    return gomap_shard_delete(m, key);
}
static size_t sh_len(void *m)
{
    return gomap_shard_len(m);
}
static void sh_free(void *m)
{
    gomap_shard_free(m);
}

static const layer_ops shard_ops = {sh_set, sh_get, sh_del, sh_len, sh_free};

static void *sh_create(bench_key_type type, size_t hint)
{
    gomap_shard_options o = {.map = layer_options(type, hint)};
    gomap_shard_t *m = NULL;
    return wrap(&shard_ops, gomap_shard_new(&m, &o) == 0 ? m : NULL);
}

static bool sum_value(const void *key, const void *val, void *ctx)
{
    (void)key;
    *(uint64_t *)ctx += *(const uint64_t *)val;
    return true;
}

static uint64_t sh_iterate(void *map)
{
    uint64_t sum = 0;
    gomap_shard_range(((layer_map *)map)->m, sum_value, &sum);
    return sum;
}

const bench_impl bench_impl_gomap_shard = {
    .name = "gomap-shard",
    .what = "gomap " GOMAP_VERSION_STRING " sharded map (gomap_shard_t), one thread",
    .opt_in = true,
    .copies_keys = true,
    .create = sh_create,
    .destroy = ly_destroy,
    .insert = ly_insert,
    .lookup = ly_lookup,
    .erase = ly_erase,
    .iterate = sh_iterate,
    .len = ly_len,
};

/* ---- the cache ------------------------------------------------------------------- */

static int ca_set(void *c, const void *key, const void *val)
{
    return gomap_cache_set(c, key, val, 0);
}
static bool ca_get(void *c, const void *key, void *out)
{
    return gomap_cache_get(c, key, out);
}
static bool ca_del(void *c, const void *key)
{
    return gomap_cache_delete(c, key);
}
static size_t ca_len(void *c)
{
    return gomap_cache_len(c);
}
static void ca_free(void *c)
{
    gomap_cache_free(c);
}

static const layer_ops cache_ops = {ca_set, ca_get, ca_del, ca_len, ca_free};

static void *ca_create(bench_key_type type, size_t hint)
{
    gomap_cache_options o = {.map = layer_options(type, hint)};
    gomap_cache_t *c = NULL;
    return wrap(&cache_ops, gomap_cache_new(&c, &o) == 0 ? c : NULL);
}

const bench_impl bench_impl_gomap_cache = {
    .name = "gomap-cache",
    .what =
        "gomap " GOMAP_VERSION_STRING " cache (gomap_cache_t), unbounded, no expiry, one thread",
    .opt_in = true,
    .copies_keys = true,
    .create = ca_create,
    .destroy = ly_destroy,
    .insert = ly_insert,
    .lookup = ly_lookup,
    .erase = ly_erase,
    .len = ly_len,
};
