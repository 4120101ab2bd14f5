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

/* ---- the sharded map ------------------------------------------------------------- */

static void *sh_create(bench_key_type type, size_t hint)
{
    gomap_shard_options o = {.map = layer_options(type, hint)};
    gomap_shard_t *m;
    return gomap_shard_new(&m, &o) == 0 ? m : NULL;
}

static void sh_destroy(void *map) { gomap_shard_free(map); }

static void sh_insert(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    layer_key k;
    for (size_t i = from; i < to; i++) {
        uint64_t v = bench_value_of(i);
        gomap_shard_set(map, key_at(ks, i, &k), &v);
    }
}

static uint64_t sh_lookup(void *map, const bench_keyset *q, size_t from, size_t to)
{
    layer_key k;
    uint64_t sum = 0;
    for (size_t j = from; j < to; j++) {
        uint64_t v;
        if (gomap_shard_get(map, key_at(q, j, &k), &v))
            sum += v;
    }
    return sum;
}

static size_t sh_erase(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    layer_key k;
    size_t found = 0;
    for (size_t i = from; i < to; i++)
        found += gomap_shard_delete(map, key_at(ks, i, &k));
    return found;
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
    gomap_shard_range(map, sum_value, &sum);
    return sum;
}

static size_t sh_len(void *map) { return gomap_shard_len(map); }

const bench_impl bench_impl_gomap_shard = {
    .name = "gomap-shard",
    .what = "gomap " GOMAP_VERSION_STRING " sharded map (gomap_shard_t), one thread",
    .opt_in = true,
    .copies_keys = true,
    .create = sh_create,
    .destroy = sh_destroy,
    .insert = sh_insert,
    .lookup = sh_lookup,
    .erase = sh_erase,
    .iterate = sh_iterate,
    .len = sh_len,
};

/* ---- the cache ------------------------------------------------------------------- */

static void *ca_create(bench_key_type type, size_t hint)
{
    gomap_cache_options o = {.map = layer_options(type, hint)};
    gomap_cache_t *c;
    return gomap_cache_new(&c, &o) == 0 ? c : NULL;
}

static void ca_destroy(void *map) { gomap_cache_free(map); }

static void ca_insert(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    layer_key k;
    for (size_t i = from; i < to; i++) {
        uint64_t v = bench_value_of(i);
        gomap_cache_set(map, key_at(ks, i, &k), &v, 0);
    }
}

static uint64_t ca_lookup(void *map, const bench_keyset *q, size_t from, size_t to)
{
    layer_key k;
    uint64_t sum = 0;
    for (size_t j = from; j < to; j++) {
        uint64_t v;
        if (gomap_cache_get(map, key_at(q, j, &k), &v))
            sum += v;
    }
    return sum;
}

static size_t ca_erase(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    layer_key k;
    size_t found = 0;
    for (size_t i = from; i < to; i++)
        found += gomap_cache_delete(map, key_at(ks, i, &k));
    return found;
}

static size_t ca_len(void *map) { return gomap_cache_len(map); }

const bench_impl bench_impl_gomap_cache = {
    .name = "gomap-cache",
    .what = "gomap " GOMAP_VERSION_STRING " cache (gomap_cache_t), unbounded, no expiry, one thread",
    .opt_in = true,
    .copies_keys = true,
    .create = ca_create,
    .destroy = ca_destroy,
    .insert = ca_insert,
    .lookup = ca_lookup,
    .erase = ca_erase,
    .len = ca_len,
};
