/*
 * impl_gomap.c — gomap in the benchmark: the typed fast paths (what a C user
 * of a u64 or string map calls), misuse detection in its default mode.
 */
#include "common/bench.h"

#include <gomap.h>

static void *gm_create(bench_key_type type, size_t hint)
{
    gomap_options o = {
        .key_kind = type == KEYS_U64 ? GOMAP_KEY_U64 : GOMAP_KEY_STR,
        .val_size = sizeof(uint64_t),
        .hint = hint,
    };
    gomap_t *m;
    return gomap_new(&m, &o) == 0 ? m : NULL;
}

static void gm_destroy(void *map) { gomap_free(map); }

static void gm_insert(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    if (ks->type == KEYS_U64) {
        for (size_t i = from; i < to; i++) {
            uint64_t v = bench_value_of(i);
            gomap_set_u64(map, ks->u64[i], &v);
        }
    } else {
        for (size_t i = from; i < to; i++) {
            uint64_t v = bench_value_of(i);
            gomap_set_str(map, ks->str[i].ptr, ks->str[i].len, &v);
        }
    }
}

static uint64_t gm_lookup(void *map, const bench_keyset *q, size_t from, size_t to)
{
    uint64_t sum = 0;
    if (q->type == KEYS_U64) {
        for (size_t j = from; j < to; j++) {
            const uint64_t *v = gomap_get_u64(map, q->u64[j]);
            if (v)
                sum += *v;
        }
    } else {
        for (size_t j = from; j < to; j++) {
            const uint64_t *v = gomap_get_str(map, q->str[j].ptr, q->str[j].len);
            if (v)
                sum += *v;
        }
    }
    return sum;
}

/* Queries go to gomap_get_many in blocks small enough to stay in L1. */
enum { BATCH = 256 };

static uint64_t gm_lookup_batch(void *map, const bench_keyset *q, size_t from, size_t to)
{
    void *vals[BATCH];
    uint64_t sum = 0;
    for (size_t j = from; j < to; j += BATCH) {
        size_t k = to - j < BATCH ? to - j : BATCH;
        if (q->type == KEYS_U64)
            gomap_get_many_u64(map, q->u64 + j, k, vals);
        else
            gomap_get_many_str(map, q->str + j, k, vals);
        for (size_t i = 0; i < k; i++)
            if (vals[i])
                sum += *(const uint64_t *)vals[i];
    }
    return sum;
}

static size_t gm_erase(void *map, const bench_keyset *ks, size_t from, size_t to)
{
    size_t found = 0;
    for (size_t i = from; i < to; i++)
        found += ks->type == KEYS_U64 ? gomap_delete_u64(map, ks->u64[i])
                                      : gomap_delete_str(map, ks->str[i].ptr, ks->str[i].len);
    return found;
}

static uint64_t gm_iterate(void *map)
{
    gomap_iter it;
    void *v;
    uint64_t sum = 0;
    gomap_iter_init(&it, map);
    while (gomap_iter_next(&it, NULL, &v))
        sum += *(const uint64_t *)v;
    return sum;
}

static size_t gm_len(void *map) { return gomap_len(map); }

/* Large arrays are mappings of their own (see gomap_stats mapped_bytes). */
static size_t gm_unmalloced_bytes(void *map)
{
    gomap_stats_t st;
    return gomap_stats(map, &st) == 0 ? st.mapped_bytes : 0;
}

const bench_impl bench_impl_gomap = {
    .name = "gomap",
    .unmalloced_bytes = gm_unmalloced_bytes,
    .what = "gomap " GOMAP_VERSION_STRING " (typed fast paths, misuse check default)",
    .copies_keys = true,
    .create = gm_create,
    .destroy = gm_destroy,
    .insert = gm_insert,
    .lookup = gm_lookup,
    .lookup_batch = gm_lookup_batch,
    .erase = gm_erase,
    .iterate = gm_iterate,
    .len = gm_len,
};
